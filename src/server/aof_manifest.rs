//! The manifest of Redis 7's multi-part append-only file (`<appendfilename>.manifest` in
//! `appenddirname`): one line per file, `file <name> seq <n> type <b|h|i>`, naming the
//! base (`b`), history (`h`) and incremental (`i`) parts. With `appendonly no`,
//! BGREWRITEAOF writes a new base and a manifest naming only it, as Redis does; with
//! `appendonly yes` (`server::aof`) the manifest also names the incremental files.

use std::io::Write;
use std::path::Path;

/// One line of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    /// File name inside the AOF directory.
    pub file: String,
    /// Sequence number (bases and incremental files count separately).
    pub seq: u64,
    /// `b` base, `h` history, `i` incremental.
    pub kind: char,
}

/// Parses a manifest's text; lines that do not parse are skipped (a damaged manifest is
/// replaced by the next rewrite rather than refused).
pub fn parse(text: &str) -> Vec<ManifestEntry> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|line| {
            let words = split_words(line)?;
            let (mut file, mut seq, mut kind) = (None, None, None);
            for pair in words.chunks(2) {
                match pair {
                    [k, v] if k == "file" => file = Some(v.clone()),
                    [k, v] if k == "seq" => seq = v.parse().ok(),
                    [k, v] if k == "type" => kind = v.chars().next(),
                    _ => {}
                }
            }
            Some(ManifestEntry {
                file: file?,
                seq: seq?,
                kind: kind?,
            })
        })
        .collect()
}

/// The files a manifest at `path` names (none when it is missing).
pub fn listed_files(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    parse(&text).into_iter().map(|e| e.file).collect()
}

/// The sequence number for the next base: one past the current base's (1 for none).
pub fn next_base_seq(path: &Path) -> u64 {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    parse(&text)
        .iter()
        .filter(|e| e.kind == 'b' || e.kind == 'h')
        .map(|e| e.seq)
        .max()
        .unwrap_or(0)
        + 1
}

/// Replaces the manifest at `path` with one naming only `base` (written to a temporary
/// file, synced, then renamed, so a crash leaves the old or the new one).
pub fn write(path: &Path, base: &str, seq: u64) -> std::io::Result<()> {
    write_entries(
        path,
        &[ManifestEntry {
            file: base.to_string(),
            seq,
            kind: 'b',
        }],
    )
}

/// Replaces the manifest at `path` with `entries` (temporary file, sync, rename).
pub fn write_entries(path: &Path, entries: &[ManifestEntry]) -> std::io::Result<()> {
    let tmp = path.with_file_name(format!(
        "temp-{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("manifest")
    ));
    let mut f = std::fs::File::create(&tmp)?;
    for e in entries {
        writeln!(f, "file {} seq {} type {}", quote(&e.file), e.seq, e.kind)?;
    }
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// A name as Redis writes it: bare when it has no blanks or quotes, else double-quoted.
fn quote(name: &str) -> String {
    if name
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\'' && b != b'\\')
    {
        return name.to_string();
    }
    let mut out = String::from("\"");
    for c in name.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Splits a line into words, honouring double quotes with backslash escapes (the subset
/// of Redis's argument splitting that manifests use); None for an unterminated quote.
fn split_words(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else {
            return Some(words);
        };
        let mut word = String::new();
        if first == '"' {
            chars.next();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => match chars.next()? {
                        'n' => word.push('\n'),
                        'r' => word.push('\r'),
                        't' => word.push('\t'),
                        c => word.push(c),
                    },
                    c => word.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        words.push(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_redis_writes() {
        let text = "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.1.incr.aof seq 1 type h\nfile \"my aof.3.incr.aof\" seq 3 type i\n";
        let e = parse(text);
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].file, "appendonly.aof.2.base.rdb");
        assert_eq!((e[0].seq, e[0].kind), (2, 'b'));
        assert_eq!(e[2].file, "my aof.3.incr.aof");
        assert_eq!(e[2].kind, 'i');
    }

    #[test]
    fn quoting_round_trips() {
        for name in [
            "plain.aof.1.base.rdb",
            "with space.1.base.rdb",
            "q\"uote.1.base.rdb",
        ] {
            let line = format!("file {} seq 1 type b", quote(name));
            assert_eq!(parse(&line)[0].file, name);
        }
    }

    #[test]
    fn next_seq_follows_the_base() {
        let dir = std::env::temp_dir().join(format!("fc-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("appendonly.aof.manifest");
        let _ = std::fs::remove_file(&path);
        assert_eq!(next_base_seq(&path), 1);
        write(&path, "appendonly.aof.7.base.rdb", 7).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "file appendonly.aof.7.base.rdb seq 7 type b\n"
        );
        assert_eq!(next_base_seq(&path), 8);
        assert_eq!(listed_files(&path), vec!["appendonly.aof.7.base.rdb"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
