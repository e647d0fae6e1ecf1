//! permessage-deflate negotiation (RFC 7692 §5, §7.1), both roles, through
//! the handshake types.
#![cfg(feature = "deflate")]

use wsmachine::ext::deflate::{check_response_any, offer_all, DeflateConfig, DeflateParams, NegotiationError};
use wsmachine::handshake::{
    Accept, ClientHandshake, ClientOptions, Extensions, Header, ServerHandshake, Status, DEFAULT_MAX_HEADERS,
};
use wsmachine::SecureRandom;

fn accept(config: &DeflateConfig, offer: &str) -> Option<String> {
    config.accept(Extensions::parse(offer).expect("a valid extension list")).map(|p| p.answer())
}

fn check(config: &DeflateConfig, answer: &str) -> Result<Option<DeflateParams>, NegotiationError> {
    config.check_response(Extensions::parse(answer).expect("a valid extension list"))
}

macro_rules! server_answers {
    ($($name:ident: $config:expr, $offer:expr => $answer:expr;)*) => {$(
        #[test]
        fn $name() {
            let answer: Option<&str> = $answer;
            assert_eq!(accept(&$config, $offer).as_deref(), answer, "offer {:?}", $offer);
        }
    )*};
}

fn default() -> DeflateConfig {
    DeflateConfig::default()
}

server_answers! {
    server_accepts_a_plain_offer: default(), "permessage-deflate" => Some("permessage-deflate");
    server_accepts_case_insensitively: default(), "PerMessage-Deflate; Client_Max_Window_Bits" => Some("permessage-deflate");
    server_accepts_bare_client_max_window_bits: default(), "permessage-deflate; client_max_window_bits" => Some("permessage-deflate");
    server_honours_server_no_context_takeover: default(), "permessage-deflate; server_no_context_takeover"
        => Some("permessage-deflate; server_no_context_takeover");
    server_confirms_client_no_context_takeover: default(), "permessage-deflate; client_no_context_takeover"
        => Some("permessage-deflate; client_no_context_takeover");
    server_echoes_server_max_window_bits: default(), "permessage-deflate; server_max_window_bits=10"
        => Some("permessage-deflate; server_max_window_bits=10");
    server_keeps_window_8: default(), "permessage-deflate; server_max_window_bits=8"
        => Some("permessage-deflate; server_max_window_bits=8");
    server_reads_a_quoted_value: default(), "permessage-deflate; server_max_window_bits=\"12\""
        => Some("permessage-deflate; server_max_window_bits=12");
    server_answers_its_smaller_window: DeflateConfig { server_max_window_bits: 11, ..default() },
        "permessage-deflate; server_max_window_bits=13" => Some("permessage-deflate; server_max_window_bits=11");
    server_announces_its_window_unasked: DeflateConfig { server_max_window_bits: 12, ..default() },
        "permessage-deflate" => Some("permessage-deflate; server_max_window_bits=12");
    server_asks_for_a_client_window_when_offered: DeflateConfig { client_max_window_bits: 12, ..default() },
        "permessage-deflate; client_max_window_bits" => Some("permessage-deflate; client_max_window_bits=12");
    server_asks_no_larger_than_offered: DeflateConfig { client_max_window_bits: 12, ..default() },
        "permessage-deflate; client_max_window_bits=10" => Some("permessage-deflate");
    server_never_asks_an_unoffered_client_window: DeflateConfig { client_max_window_bits: 12, ..default() },
        "permessage-deflate" => Some("permessage-deflate");
    server_asks_client_no_context_takeover: DeflateConfig { client_no_context_takeover: true, ..default() },
        "permessage-deflate" => Some("permessage-deflate; client_no_context_takeover");
    server_answers_all_four: DeflateConfig { client_max_window_bits: 9, client_no_context_takeover: true, ..default() },
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits"
        => Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9");
    server_declines_an_unknown_parameter: default(), "permessage-deflate; mystery" => None;
    server_declines_a_duplicate_parameter: default(), "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10" => None;
    server_declines_a_duplicate_flag: default(), "permessage-deflate; client_no_context_takeover; client_no_context_takeover" => None;
    server_declines_a_value_on_a_flag: default(), "permessage-deflate; server_no_context_takeover=1" => None;
    server_declines_a_bare_server_window: default(), "permessage-deflate; server_max_window_bits" => None;
    server_declines_window_7: default(), "permessage-deflate; server_max_window_bits=7" => None;
    server_declines_window_16: default(), "permessage-deflate; server_max_window_bits=16" => None;
    server_declines_a_leading_zero: default(), "permessage-deflate; server_max_window_bits=09" => None;
    server_declines_a_bad_client_window: default(), "permessage-deflate; client_max_window_bits=abc" => None;
    server_ignores_other_extensions: default(), "x-webkit-deflate-frame, foo; bar=1" => None;
    server_takes_the_first_acceptable_offer: default(),
        "x-foo, permessage-deflate; server_max_window_bits=99, permessage-deflate; server_max_window_bits=9; client_max_window_bits, permessage-deflate"
        => Some("permessage-deflate; server_max_window_bits=9");
}

#[test]
fn client_offers() {
    assert_eq!(default().offer(), "permessage-deflate; client_max_window_bits");
    let all = DeflateConfig {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        server_max_window_bits: 10,
        client_max_window_bits: 12,
        ..default()
    };
    assert_eq!(
        all.offer(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12"
    );
    // Out-of-range windows are clamped, never offered as such.
    assert_eq!(
        DeflateConfig { server_max_window_bits: 3, ..default() }.offer(),
        "permessage-deflate; server_max_window_bits=8; client_max_window_bits"
    );
    assert_eq!(offer_all(&[all, default()]), format!("{}, {}", all.offer(), default().offer()));
}

#[test]
fn client_accepts_fitting_answers() {
    let d = default();
    assert_eq!(check(&d, "x-other"), Ok(None), "declined");
    assert_eq!(check(&d, "permessage-deflate"), Ok(Some(DeflateParams::default())));
    assert_eq!(
        check(&d, "permessage-deflate; client_max_window_bits=9; server_max_window_bits=12; client_no_context_takeover; server_no_context_takeover"),
        Ok(Some(DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: Some(12),
            client_max_window_bits: Some(9),
        }))
    );
    // Our own smaller client window stands when the answer does not lower it.
    let small = DeflateConfig { client_max_window_bits: 11, ..d };
    assert_eq!(check(&small, "permessage-deflate").unwrap().unwrap().client_max_window_bits, Some(11));
    assert_eq!(
        check(&small, "permessage-deflate; client_max_window_bits=10").unwrap().unwrap().client_max_window_bits,
        Some(10)
    );
    let asks = DeflateConfig { server_max_window_bits: 10, server_no_context_takeover: true, ..d };
    assert!(check(&asks, "permessage-deflate; server_max_window_bits=9; server_no_context_takeover").is_ok());
}

#[test]
fn client_fails_answers_that_do_not_fit() {
    use NegotiationError as E;
    let d = default();
    let cases: &[(&DeflateConfig, &str, E)] = &[
        (&d, "permessage-deflate; mystery", E::UnknownParameter),
        (&d, "permessage-deflate; server_no_context_takeover; server_no_context_takeover", E::DuplicateParameter),
        (&d, "permessage-deflate; server_max_window_bits=10; server_max_window_bits=11", E::DuplicateParameter),
        (&d, "permessage-deflate; client_max_window_bits", E::InvalidValue),
        (&d, "permessage-deflate; server_max_window_bits=16", E::InvalidValue),
        (&d, "permessage-deflate; client_no_context_takeover=yes", E::InvalidValue),
        (&d, "permessage-deflate, permessage-deflate", E::DuplicateExtension),
    ];
    for (config, answer, error) in cases {
        assert_eq!(check(config, answer), Err(*error), "{answer}");
    }
    let small = DeflateConfig { client_max_window_bits: 10, ..d };
    assert_eq!(check(&small, "permessage-deflate; client_max_window_bits=11"), Err(E::NotOffered));
    let asks = DeflateConfig { server_max_window_bits: 10, server_no_context_takeover: true, ..d };
    assert_eq!(check(&asks, "permessage-deflate; server_no_context_takeover"), Err(E::NotOffered));
    assert_eq!(check(&asks, "permessage-deflate; server_max_window_bits=10"), Err(E::NotOffered));
    assert_eq!(
        check(&asks, "permessage-deflate; server_no_context_takeover; server_max_window_bits=11"),
        Err(E::NotOffered)
    );
}

#[test]
fn client_matches_the_answer_to_one_of_several_offers() {
    let first = DeflateConfig { server_max_window_bits: 10, server_no_context_takeover: true, ..default() };
    let second = default();
    let answer = |a: &str| check_response_any(&[first, second], Extensions::parse(a).unwrap());
    assert_eq!(
        answer("permessage-deflate; server_max_window_bits=9; server_no_context_takeover").unwrap().unwrap().0,
        0
    );
    assert_eq!(answer("permessage-deflate").unwrap().unwrap().0, 1);
    assert_eq!(answer("permessage-deflate; nope"), Err(NegotiationError::UnknownParameter));
}

/// The whole exchange through the handshake machines: the client offers,
/// the server picks from `Request::extensions()` and answers through
/// `Accept`, the client checks `Response::extensions()`.
#[test]
fn negotiation_through_the_handshake_types() {
    let client_config = DeflateConfig { client_max_window_bits: 12, ..default() };
    let server_config = DeflateConfig { server_max_window_bits: 11, client_max_window_bits: 10, ..default() };
    let offer = offer_all(&[client_config]);
    let mut rng = SecureRandom::from_seed([9; 32]);
    let options = ClientOptions { extensions: Some(&offer), ..ClientOptions::default() };
    let mut client = ClientHandshake::new("ws://example.com/chat", options, &mut rng).unwrap();
    let mut request = Vec::new();
    client.write_request(&mut request).unwrap();

    let mut server = ServerHandshake::default();
    let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
    let Status::Complete(req) = server.receive(&request, &mut headers).unwrap() else { panic!("complete") };
    let params = server_config.accept(req.extensions()).expect("accepted");
    let answer = params.answer();
    assert_eq!(answer, "permessage-deflate; server_max_window_bits=11; client_max_window_bits=10");
    let mut response = Vec::new();
    req.accept(&Accept { extensions: Some(&answer), ..Accept::default() }, &mut response).unwrap();

    let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
    let Status::Complete(resp) = client.receive(&response, &mut headers).unwrap() else { panic!("complete") };
    let agreed = client_config.check_response(resp.extensions()).unwrap().expect("deflate in use");
    assert_eq!(agreed, params);
    assert_eq!((agreed.window_bits(wsmachine::Role::Server), agreed.window_bits(wsmachine::Role::Client)), (11, 10));
}
