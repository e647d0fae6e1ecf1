//! A `#![no_std]` binary that uses wsmachine with `alloc`. If any dependency
//! enabled `std`, linking would fail with a duplicate `panic_impl` lang item.
#![no_std]
#![no_main]

extern crate alloc;

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicUsize, Ordering};

use wsmachine::{Config, Connection, Event, MessageAssembler};

const ARENA_SIZE: usize = 1 << 20;

/// A bump allocator over a static arena; memory is never reused.
struct Bump {
    arena: UnsafeCell<[u8; ARENA_SIZE]>,
    next: AtomicUsize,
}

// SAFETY: the arena is only handed out in disjoint ranges reserved by an
// atomic fetch_add, so concurrent callers never receive overlapping memory.
unsafe impl Sync for Bump {}

// SAFETY: `alloc` returns either null or a pointer to `layout.size()` bytes
// inside the arena, aligned to `layout.align()`, never handed out before.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let base = self.arena.get() as usize;
        let mut start = 0;
        let reserved = self.next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |next| {
            start = (base + next).next_multiple_of(layout.align()) - base;
            let end = start.checked_add(layout.size())?;
            (end <= ARENA_SIZE).then_some(end)
        });
        match reserved {
            Ok(_) => (base + start) as *mut u8,
            Err(_) => core::ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[global_allocator]
static ALLOCATOR: Bump = Bump { arena: UnsafeCell::new([0; ARENA_SIZE]), next: AtomicUsize::new(0) };

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[no_mangle]
pub extern "C" fn rust_eh_personality() {}

#[no_mangle]
pub extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    // RFC 6455 §5.7: a masked "Hello" arriving at a server.
    let mut wire = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
    let mut server = Connection::server(Config::default());
    let mut assembler = MessageAssembler::new(1024);
    let Ok(received) = server.receive(&mut wire) else {
        return 1;
    };
    let Some(event) = received.event else { return 2 };
    if !matches!(event, Event::Text { data: b"Hello", fin: true, .. }) {
        return 3;
    }
    match assembler.push(&event) {
        Ok(Some(message)) if message.as_bytes() == b"Hello" => {}
        _ => return 4,
    }
    let mut out = [0u8; 16];
    match server.send_text("Hello", &mut out[..]) {
        Ok(7) if out[..7] == [0x81, 0x05, b'H', b'e', b'l', b'l', b'o'] => 0,
        _ => 5,
    }
}
