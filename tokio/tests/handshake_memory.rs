//! What a handshake in progress holds: a server waiting for the rest of a
//! request, and a client waiting for the rest of the answer, keep only the
//! bytes that arrived and a little state, not a zeroed read buffer and a
//! fixed head array. Counted by an instrumented global allocator (bytes
//! allocated and not freed).

use std::alloc::System;

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes allocated and not freed since `region` began, by every thread.
fn held(region: &Region<'_, System>) -> isize {
    let change = region.change();
    change.bytes_allocated as isize - change.bytes_deallocated as isize + change.bytes_reallocated
}

/// What a waiting handshake may hold: its task, the boxed machine and the
/// head so far (about 1.1 KiB for a server). Before the head was kept in a
/// growing buffer and read through the stack, a server held over 12 KiB
/// (an 8 KiB head array and a 4 KiB read buffer).
const PENDING_BUDGET: isize = 2048;

/// Lets spawned tasks run until they wait.
async fn settle() {
    for _ in 0..16 {
        tokio::task::yield_now().await;
    }
}

/// One test, so that nothing else allocates while it counts (the counts are
/// of every thread): a server, then a client.
#[test]
fn a_handshake_in_progress_holds_little() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(server_waiting_for_the_rest_of_a_request());
    runtime.block_on(client_waiting_for_the_rest_of_the_answer());
}

async fn server_waiting_for_the_rest_of_a_request() {
    let (mut client, server) = tokio::io::duplex(64 * 1024);
    // The first half of a request, in the pipe before the count starts.
    client.write_all(b"GET / HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n").await.unwrap();
    let region = Region::new(GLOBAL);
    let accepting = tokio::spawn(wsmachine_tokio::accept(server));
    settle().await;
    let held = held(&region);
    assert!(held <= PENDING_BUDGET, "a pending server handshake holds {held} bytes > {PENDING_BUDGET}");

    // The rest arrives: the handshake completes as if sent whole.
    client
        .write_all(
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .await
        .unwrap();
    let mut ws = accepting.await.unwrap().expect("the handshake completes");
    let mut answer = [0u8; 129];
    let n = client.read(&mut answer).await.unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    // And a message after it goes through.
    client.write_all(&[0x81, 0x82, 0, 0, 0, 0, b'h', b'i']).await.unwrap();
    assert_eq!(ws.recv().await.unwrap(), Some(wsmachine_tokio::Message::text("hi")));
}

async fn client_waiting_for_the_rest_of_the_answer() {
    let (client, mut server) = tokio::io::duplex(64 * 1024);
    let region = Region::new(GLOBAL);
    let connecting = tokio::spawn(async move { wsmachine_tokio::client("ws://example.com/", client).await });
    settle().await;
    // The request, read into a buffer on this stack: nothing of ours is
    // counted but the key's 24 bytes.
    let mut request = [0u8; 1024];
    let n = server.read(&mut request).await.unwrap();
    let key = std::str::from_utf8(&request[..n])
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("Sec-WebSocket-Key: "))
        .expect("the request has a key")
        .to_owned();
    server.write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n").await.unwrap();
    settle().await;
    let held = held(&region) - key.capacity() as isize;
    // The client also holds its URL, options and the request it wrote
    // (about 2 KiB in all).
    let budget = PENDING_BUDGET + 512;
    assert!(held <= budget, "a pending client handshake holds {held} bytes > {budget}");

    let accept = wsmachine::handshake::accept_key(key.as_bytes());
    let rest = format!("Connection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n", accept.as_str());
    server.write_all(rest.as_bytes()).await.unwrap();
    let mut ws = connecting.await.unwrap().expect("the handshake completes");
    server.write_all(&[0x81, 0x02, b'o', b'k']).await.unwrap();
    assert_eq!(ws.recv().await.unwrap(), Some(wsmachine_tokio::Message::text("ok")));
}
