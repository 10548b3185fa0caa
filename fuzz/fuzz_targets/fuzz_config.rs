//! The configuration parsers: redis.conf text (`Config::apply_text`, which splits lines
//! with the inline-request splitter), `--name value` command lines (`config::parse_args`
//! then `Config::load`), and CONFIG SET values (`Config::validate` / `Config::set`, the
//! only part reachable from the network).
//!
//! Input: the text of a config file; the same bytes split at NULs are also a command line.
//! Checked: no panic; `validate` and `set` agree; a value CONFIG GET reports is accepted
//! back by CONFIG SET unchanged; and CONFIG REWRITE of a loaded file writes a file that
//! loads back to the same configuration.
#![no_main]

use ferrocache::config::{Config, params};
use std::path::PathBuf;

/// Directives with effects outside the parser: `include` reads other files, `dir`
/// changes the process's working directory.
fn side_effects(name: &str) -> bool {
    name.eq_ignore_ascii_case("include") || params::find(name).is_some_and(|p| p.name == "dir")
}

fn first_word(line: &str) -> Option<String> {
    let words = ferrocache::protocol::request::split_args(line.trim().as_bytes())?;
    words
        .first()
        .map(|w| String::from_utf8_lossy(w).into_owned())
}

fn scratch_file() -> PathBuf {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    base.join(format!(
        "ferrocache-fuzz-config-{}.conf",
        std::process::id()
    ))
}

/// KNOWN BUG (reported, not fixed here: src/config/mod.rs; ignored test
/// `config_rewrite_round_trips_bind_and_unicode_whitespace` in tests/fuzz_regressions.rs):
/// CONFIG REWRITE writes `bind` and `save` words raw whatever they hold, and leaves a value
/// ending in non-ASCII Unicode whitespace unquoted, which the reader's `str::trim` then
/// drops. Configurations holding such values skip the round-trip check so the fuzzer keeps
/// looking for other bugs; remove this once the writer quotes them.
fn rewrite_safe(name: &str, v: &str) -> bool {
    let raw_words = name == "bind" || name == "save";
    let odd = |c: char| c.is_control() || matches!(c, '\'' | '"' | '\\') || c.is_whitespace();
    let edge_ws = |c: Option<char>| c.is_some_and(|c| c.is_whitespace() && !c.is_ascii());
    !(raw_words && v.chars().any(|c| c != ' ' && odd(c))) && !edge_ws(v.chars().next_back())
}

fn all_values(c: &Config) -> Vec<(&'static str, String)> {
    c.matching(b"*")
        .into_iter()
        .filter(|(n, _)| params::find(n).is_some_and(|p| p.name == *n))
        .collect()
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| first_word(l).is_none_or(|w| !side_effects(&w)))
        .collect();
    let text = kept.join("\n");

    // 1. A config file.
    let mut cfg = Config::default();
    let loaded = cfg.apply_text(&text, "fuzz.conf").is_ok();

    // 2. CONFIG REWRITE of what loaded, and loading the result.
    if loaded && all_values(&cfg).iter().all(|(n, v)| rewrite_safe(n, v)) {
        let path = scratch_file();
        if std::fs::write(&path, &text).is_ok() {
            cfg.file = Some(path.clone());
            let rewritten = cfg.rewrite(&[]);
            assert!(rewritten.is_ok(), "CONFIG REWRITE failed: {rewritten:?}");
            let new_text = std::fs::read_to_string(&path).unwrap_or_default();
            match Config::load(Some(&path), &[]) {
                Ok(back) => {
                    let (want, got) = (all_values(&cfg), all_values(&back));
                    assert_eq!(want, got, "rewritten config loads differently:\n{new_text}");
                }
                Err(e) => panic!("rewritten config does not load: {e}\n---\n{new_text}"),
            }
            let _ = std::fs::remove_file(&path);
        }
    }

    // 3. Each line as CONFIG SET name value.
    let live = Config::default();
    for line in text.lines() {
        let Some(words) = ferrocache::protocol::request::split_args(line.as_bytes()) else {
            continue;
        };
        let words: Vec<String> = words
            .into_iter()
            .map(|w| String::from_utf8_lossy(&w).into_owned())
            .collect();
        let Some((name, rest)) = words.split_first() else {
            continue;
        };
        if side_effects(name) {
            continue;
        }
        let value = rest.join(" ");
        // `set` is the config-level setter: protection is the caller's check.
        let valid = live.validate(name, &value, true);
        let set = live.set(name, &value);
        assert_eq!(
            valid.is_ok(),
            set.is_ok(),
            "CONFIG SET {name} {value:?}: validate says {valid:?}, set says {set:?}"
        );
        if set.is_ok() {
            // CONFIG GET's answer must be accepted back, unchanged.
            let got = live.get(name).expect("a parameter just set");
            let again = live.set(name, &got);
            assert!(
                again.is_ok(),
                "CONFIG SET {name} {got:?} (its own CONFIG GET value): {again:?}"
            );
            assert_eq!(
                live.get(name).as_deref(),
                Some(got.as_str()),
                "CONFIG GET {name} not a fixed point"
            );
        }
    }

    // 4. A command line: `[file] --name value ...`, arguments split at NULs.
    let args: Vec<String> = data
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    if let Ok((_file, overrides)) = ferrocache::config::parse_args(&args) {
        let overrides: Vec<_> = overrides
            .into_iter()
            .filter(|(name, _)| !side_effects(name))
            .collect();
        let _ = Config::load(None, &overrides);
    }
});
