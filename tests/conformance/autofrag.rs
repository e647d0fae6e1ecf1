//! Section 10: auto-fragmentation. 10.1.1 sends a 65 536-byte text message
//! as the Autobahn fuzzer auto-fragments it with `autoFragmentSize = 1300`:
//! a text frame and 49 continuations of 1300 bytes, then a final
//! continuation of 536 (upstream also checks it sent 1 text and 50
//! continuation frames). Expectation: the whole message is echoed, then the
//! fuzzer closes with 1000 and the testee echoes it. Run for both roles:
//! fragment reassembly does not depend on masking.

use crate::harness::{cont, run_case, text, Expect, Reply, BOTH};

#[test]
fn case_10_1_1() {
    run_case("10.1.1", BOTH, |s| {
        let payload = vec![b'*'; 65536];
        let pieces: Vec<&[u8]> = payload.chunks(1300).collect();
        assert_eq!(pieces.len(), 51);
        for (i, piece) in pieces.iter().enumerate() {
            let f = if i == 0 { text(piece) } else { cont(piece) };
            s.send(f.fin(i + 1 == pieces.len()));
        }
        Expect::echo(vec![Reply::text(payload)])
    });
}
