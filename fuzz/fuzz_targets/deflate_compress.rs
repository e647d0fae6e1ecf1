#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wsmachine_fuzzing::deflate_compress(data));
