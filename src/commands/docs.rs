//! COMMAND DOCS argument descriptions, so `redis-cli` shows its argument hints and
//! `help <command>` texts against Ferrocache as it does against Redis.
//!
//! Each command's arguments are written in a compact notation, parsed at startup:
//! `name[:type]` an argument (type defaults to string; types: key, integer, double,
//! pattern, unix-time, pure-token, token), `TOKEN` a pure token, `TOKEN=arg` an argument
//! introduced by a token, `name(a|b)` one of, `name{a b}` a block, `[x]` optional,
//! `x...` multiple (`x...*` repeats the token too).

use crate::protocol::ReplyBuf;

/// One argument of a command's syntax.
#[derive(Debug, Clone, PartialEq)]
pub struct ArgDoc {
    /// Argument name.
    pub name: String,
    /// Redis argument type (string, key, integer, oneof, block, pure-token...).
    pub kind: String,
    /// Token that introduces it, if any.
    pub token: Option<String>,
    /// May be omitted.
    pub optional: bool,
    /// May repeat.
    pub multiple: bool,
    /// The token repeats with each repetition.
    pub multiple_token: bool,
    /// Children of a oneof or block.
    pub arguments: Vec<ArgDoc>,
}

const TYPES: &[&str] = &[
    "key",
    "integer",
    "double",
    "pattern",
    "unix-time",
    "pure-token",
    "string",
    "token",
];

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
    }

    fn word(&mut self) -> String {
        let start = self.i;
        while let Some(c) = self.peek() {
            if b" []{}()|=".contains(&c) || (c == b'.' && self.s[self.i..].starts_with(b"...")) {
                break;
            }
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    fn elem(&mut self) -> Result<ArgDoc, String> {
        self.skip_spaces();
        if self.peek() == Some(b'[') {
            self.i += 1;
            let mut inner = self.elem()?;
            self.skip_spaces();
            if self.peek() != Some(b']') {
                return Err(format!("expected ']' at {}", self.i));
            }
            self.i += 1;
            inner.optional = true;
            return Ok(inner);
        }
        let mut w = self.word();
        let mut token = None;
        if self.peek() == Some(b'=') {
            self.i += 1;
            token = Some(w);
            w = self.word();
        }
        if w.is_empty() {
            return Err(format!("expected an argument at {}", self.i));
        }
        let mut arg = match self.peek() {
            Some(b'(') => {
                self.i += 1;
                let mut alts = vec![self.elem()?];
                loop {
                    self.skip_spaces();
                    match self.peek() {
                        Some(b'|') => {
                            self.i += 1;
                            alts.push(self.elem()?);
                        }
                        Some(b')') => {
                            self.i += 1;
                            break;
                        }
                        _ => return Err(format!("unterminated oneof at {}", self.i)),
                    }
                }
                group(w, "oneof", alts)
            }
            Some(b'{') => {
                self.i += 1;
                let mut parts = Vec::new();
                loop {
                    self.skip_spaces();
                    if self.peek() == Some(b'}') {
                        self.i += 1;
                        break;
                    }
                    if self.peek().is_none() {
                        return Err("unterminated block".into());
                    }
                    parts.push(self.elem()?);
                }
                group(w, "block", parts)
            }
            _ if token.is_none()
                && !w.is_empty()
                && w.bytes()
                    .all(|c| c.is_ascii_uppercase() || c == b'-' || c.is_ascii_digit()) =>
            {
                ArgDoc {
                    name: w.to_ascii_lowercase(),
                    kind: "pure-token".into(),
                    token: Some(w),
                    ..group(String::new(), "", Vec::new())
                }
            }
            _ => {
                let (name, kind) = match w.rsplit_once(':') {
                    Some((n, t)) if TYPES.contains(&t) => (n.to_string(), t.to_string()),
                    _ => (w, "string".to_string()),
                };
                group(name, &kind, Vec::new())
            }
        };
        if token.is_some() {
            arg.token = token;
        }
        if self.s[self.i..].starts_with(b"...") {
            self.i += 3;
            arg.multiple = true;
            if self.peek() == Some(b'*') {
                self.i += 1;
                arg.multiple_token = true;
            }
        }
        Ok(arg)
    }
}

fn group(name: String, kind: &str, arguments: Vec<ArgDoc>) -> ArgDoc {
    ArgDoc {
        name,
        kind: kind.to_string(),
        token: None,
        optional: false,
        multiple: false,
        multiple_token: false,
        arguments,
    }
}

/// Parses a command's argument notation.
pub fn parse_arguments(text: &str) -> Result<Vec<ArgDoc>, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let mut out = Vec::new();
    loop {
        p.skip_spaces();
        if p.peek().is_none() {
            return Ok(out);
        }
        out.push(p.elem()?);
    }
}

/// Writes an `arguments` array as COMMAND DOCS does.
pub fn write_arguments(out: &mut ReplyBuf, args: &[ArgDoc]) {
    out.array(args.len());
    for a in args {
        let mut flags = Vec::new();
        if a.optional {
            flags.push("optional");
        }
        if a.multiple {
            flags.push("multiple");
        }
        if a.multiple_token {
            flags.push("multiple_token");
        }
        let fields = 2
            + a.token.is_some() as usize
            + !flags.is_empty() as usize
            + !a.arguments.is_empty() as usize;
        out.map(fields);
        out.bulk_str("name");
        out.bulk_str(&a.name);
        out.bulk_str("type");
        out.bulk_str(&a.kind);
        if let Some(t) = &a.token {
            out.bulk_str("token");
            out.bulk_str(t);
        }
        if !flags.is_empty() {
            out.bulk_str("flags");
            out.set(flags.len());
            for f in flags {
                out.simple(f);
            }
        }
        if !a.arguments.is_empty() {
            out.bulk_str("arguments");
            write_arguments(out, &a.arguments);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declared_syntax_parses() {
        for c in crate::commands::all_commands() {
            parse_arguments(c.args).unwrap_or_else(|e| panic!("{}: {}", c.name, e));
            for s in c.subcommands {
                parse_arguments(s.args).unwrap_or_else(|e| panic!("{}|{}: {}", c.name, s.name, e));
            }
        }
    }

    fn args_of(name: &str) -> &'static str {
        let (cmd, sub) = name
            .split_once('|')
            .map_or((name, None), |(c, s)| (c, Some(s)));
        let c = crate::commands::all_commands()
            .iter()
            .find(|c| c.name == cmd)
            .unwrap();
        match sub {
            None => c.args,
            Some(s) => c.subcommands.iter().find(|x| x.name == s).unwrap().args,
        }
    }

    #[test]
    fn set_syntax_shape() {
        let a = parse_arguments(args_of("set")).unwrap();
        assert_eq!(a.len(), 5);
        assert_eq!(a[0].kind, "key");
        assert_eq!(a[2].kind, "oneof");
        assert!(a[2].optional);
        assert_eq!(a[2].arguments[0].token.as_deref(), Some("NX"));
        assert_eq!(a[4].arguments[0].token.as_deref(), Some("EX"));
        assert_eq!(a[4].arguments[0].name, "seconds");
        let m = parse_arguments(args_of("mset")).unwrap();
        assert!(m[0].multiple && m[0].kind == "block" && m[0].arguments.len() == 2);
        let k = parse_arguments(args_of("client|kill")).unwrap();
        assert_eq!(k[0].arguments[0].name, "ip:port");
    }
}
