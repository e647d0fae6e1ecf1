//! The frame wire format (RFC 6455 §5.2): opcodes and the frame header.

mod header;
mod opcode;

pub use header::{FrameHeader, HeaderError, HeaderStatus, MAX_HEADER_LEN};
pub use opcode::OpCode;
