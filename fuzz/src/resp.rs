//! A strict RESP2/RESP3 reply checker: the server's output to a client must be a sequence
//! of complete, well-formed frames. A reply that breaks framing (a simple string holding
//! CR/LF, an array header announcing more or fewer elements than follow, a bad length)
//! desynchronises every later reply on that connection, so the fuzz targets treat it like
//! a panic.

/// Checks that `buf` is exactly a sequence of complete frames. On failure the error names
/// the byte offset and what was wrong there.
pub fn check_frames(buf: &[u8]) -> Result<usize, String> {
    let mut pos = 0;
    let mut frames = 0;
    while pos < buf.len() {
        pos = frame(buf, pos, 0)?;
        frames += 1;
    }
    Ok(frames)
}

const MAX_DEPTH: usize = 64;

fn line(buf: &[u8], pos: usize) -> Result<(&[u8], usize), String> {
    let rest = &buf[pos..];
    let Some(i) = rest.iter().position(|&b| b == b'\n') else {
        return Err(format!("offset {pos}: line without LF"));
    };
    if i == 0 || rest[i - 1] != b'\r' {
        return Err(format!("offset {pos}: LF without CR"));
    }
    let body = &rest[..i - 1];
    if body.contains(&b'\r') {
        return Err(format!("offset {pos}: CR inside a line: {:?}", lossy(body)));
    }
    Ok((body, pos + i + 1))
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(200)]).into_owned()
}

fn int(body: &[u8], pos: usize) -> Result<i64, String> {
    std::str::from_utf8(body)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| format!("offset {pos}: bad integer {:?}", lossy(body)))
}

/// Length of an aggregate or blob: -1 (null, where allowed) or >= 0.
fn len(body: &[u8], pos: usize, null_ok: bool) -> Result<Option<usize>, String> {
    match int(body, pos)? {
        -1 if null_ok => Ok(None),
        n if n >= 0 => Ok(Some(n as usize)),
        n => Err(format!("offset {pos}: bad length {n}")),
    }
}

fn blob(buf: &[u8], start: usize, n: usize, pos: usize) -> Result<usize, String> {
    let end = start
        .checked_add(n)
        .filter(|&e| e + 2 <= buf.len())
        .ok_or_else(|| format!("offset {pos}: blob of {n} bytes runs past the end"))?;
    if &buf[end..end + 2] != b"\r\n" {
        return Err(format!(
            "offset {pos}: blob of {n} bytes not followed by CRLF"
        ));
    }
    Ok(end + 2)
}

fn frame(buf: &[u8], pos: usize, depth: usize) -> Result<usize, String> {
    if depth > MAX_DEPTH {
        return Err(format!("offset {pos}: nesting deeper than {MAX_DEPTH}"));
    }
    let t = buf[pos];
    let (body, next) = line(buf, pos + 1)?;
    match t {
        b'+' | b'-' => Ok(next),
        b':' => int(body, pos).map(|_| next),
        b'(' => {
            let digits = body.strip_prefix(b"-").unwrap_or(body);
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Err(format!("offset {pos}: bad big number {:?}", lossy(body)));
            }
            Ok(next)
        }
        b',' => {
            let s = std::str::from_utf8(body).unwrap_or("");
            let ok = matches!(s, "inf" | "-inf" | "nan") || s.parse::<f64>().is_ok();
            if !ok {
                return Err(format!("offset {pos}: bad double {:?}", lossy(body)));
            }
            Ok(next)
        }
        b'#' => match body {
            b"t" | b"f" => Ok(next),
            _ => Err(format!("offset {pos}: bad boolean {:?}", lossy(body))),
        },
        b'_' => {
            if body.is_empty() {
                Ok(next)
            } else {
                Err(format!("offset {pos}: null with a body"))
            }
        }
        b'$' => match len(body, pos, true)? {
            None => Ok(next),
            Some(n) => blob(buf, next, n, pos),
        },
        b'!' => blob(buf, next, len(body, pos, false)?.unwrap_or(0), pos),
        b'=' => {
            let n = len(body, pos, false)?.unwrap_or(0);
            if n < 4 || buf.get(next + 3) != Some(&b':') {
                return Err(format!("offset {pos}: verbatim string without a format"));
            }
            blob(buf, next, n, pos)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let Some(n) = len(body, pos, t == b'*')? else {
                return Ok(next);
            };
            let items = if matches!(t, b'%' | b'|') { 2 * n } else { n };
            let mut p = next;
            for _ in 0..items {
                if p >= buf.len() {
                    return Err(format!(
                        "offset {pos}: aggregate '{}' of {n} announced, output ends early",
                        t as char
                    ));
                }
                p = frame(buf, p, depth + 1)?;
            }
            if t == b'|' {
                // An attribute precedes the value it describes.
                if p >= buf.len() {
                    return Err(format!("offset {pos}: attribute without a value"));
                }
                p = frame(buf, p, depth + 1)?;
            }
            Ok(p)
        }
        other => Err(format!(
            "offset {pos}: unknown type byte {:?} (line {:?})",
            other as char,
            lossy(body)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::check_frames;

    #[test]
    fn accepts_and_rejects() {
        assert_eq!(check_frames(b"+OK\r\n:1\r\n$3\r\nabc\r\n*-1\r\n"), Ok(4));
        assert_eq!(
            check_frames(b"*2\r\n$1\r\na\r\n%1\r\n+k\r\n,1.5\r\n"),
            Ok(1)
        );
        assert!(check_frames(b"*2\r\n$1\r\na\r\n").is_err());
        assert!(check_frames(b"+a\r\nb\r\n").is_err());
        assert!(check_frames(b"$3\r\nab\r\n").is_err());
        assert!(check_frames(b"=5\r\ntxt:\r\n").is_err());
    }
}

/// The payload of a reply that is one bulk string (`$n\r\n...\r\n`), if it is one.
pub fn bulk_payload(reply: &[u8]) -> Option<Vec<u8>> {
    let rest = reply.strip_prefix(b"$")?;
    let eol = rest.iter().position(|&b| b == b'\r')?;
    let n: usize = std::str::from_utf8(&rest[..eol]).ok()?.parse().ok()?;
    rest.get(eol + 2..eol + 2 + n).map(<[u8]>::to_vec)
}
