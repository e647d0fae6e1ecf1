//! A WebSocket client on the blocking adapter: sends three text messages
//! and a 200 KiB binary one, prints the echoes, closes.
//!
//! ```sh
//! cargo run --example blocking_echo &
//! cargo run --example blocking_client -- ws://127.0.0.1:9002/
//! ```

use wsmachine::{blocking, CloseCode, Message};

fn main() -> Result<(), blocking::Error> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "ws://127.0.0.1:9002/".to_string());
    let mut ws = blocking::connect(&url)?;
    for text in ["one", "two", "three"] {
        ws.send(text)?;
    }
    ws.send(vec![0x5a; 200 * 1024])?;
    for _ in 0..4 {
        match ws.read()? {
            Some(Message::Text(text)) => println!("text: {text}"),
            Some(Message::Binary(data)) => println!("binary: {} bytes", data.len()),
            None => {
                if let Some(frame) = ws.close_frame() {
                    println!("closed by the server: {} {}", frame.code().0, frame.reason());
                }
                return Ok(()); // the close handshake is done
            }
        }
    }
    ws.close(CloseCode::NORMAL, "done")
}
