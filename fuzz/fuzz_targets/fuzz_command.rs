//! Every command in the table, with arbitrary arguments, through the path a connection
//! takes: bytes -> request parser -> `commands::execute` on a shared in-process server,
//! up to three clients interleaved (a line `@1` switches to client 1). Panics, and replies
//! that are not well-formed RESP, are failures.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ferrocache_fuzz::run_commands(data);
});
