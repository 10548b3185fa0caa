//! Typed command errors; each renders as the exact error line stock Redis sends.

/// A failed command. `Display` gives the text after `-`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CmdError {
    /// `ERR syntax error`.
    #[error("ERR syntax error")]
    Syntax,
    /// Operation against a key of another type.
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    /// An argument that must be an integer is not (or overflows).
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    /// An argument that must be a float is not.
    #[error("ERR value is not a valid float")]
    NotFloat,
    /// INCR family overflow.
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    /// Key missing where one is required.
    #[error("ERR no such key")]
    NoSuchKey,
    /// Wrong argument count.
    #[error("ERR wrong number of arguments for '{0}' command")]
    Arity(String),
    /// Unknown SELECT index.
    #[error("ERR DB index is out of range")]
    DbIndex,
    /// A write against a server that may not take it.
    #[error("NOAUTH Authentication required.")]
    NoAuth,
    /// Over maxmemory with nothing evictable (or `noeviction`), for commands that may
    /// grow memory.
    #[error("OOM command not allowed when used memory > 'maxmemory'.")]
    Oom,
    /// Any other error, with its full text including the code.
    #[error("{0}")]
    Msg(String),
    /// An error already counted in the error statistics (a script's error raised by a
    /// command it called, which counted it then), with its full text.
    #[error("{0}")]
    Counted(String),
}

impl CmdError {
    /// A container's subcommand/arity error as Redis's `addReplySubcommandSyntaxError`.
    pub fn subcommand(args: &[bytes::Bytes], container: &str) -> Self {
        CmdError::err(format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
            String::from_utf8_lossy(&args[1]),
            container
        ))
    }

    /// An `ERR`-coded error with free text.
    pub fn err(text: impl std::fmt::Display) -> Self {
        CmdError::Msg(format!("ERR {}", text))
    }
}

/// What every handler returns; the reply itself is already written on success.
pub type CmdResult = Result<(), CmdError>;
