//! Lua from arbitrary bytes, through EVAL, EVAL_RO, FUNCTION LOAD, FCALL, FCALL_RO and a
//! FUNCTION DUMP/RESTORE round trip on the shared in-process server (see
//! `ferrocache_fuzz::run_script`). Panics and malformed replies are failures; a script
//! that never ends is killed after a second, as SCRIPT KILL would.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ferrocache_fuzz::run_script(data);
});
