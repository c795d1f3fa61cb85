//! The one error type of the library. Every message says what was wrong,
//! where (a root-relative path, line and column when there is one) and, for
//! bad input, what is accepted.
//!
//! [`Error`] is `Clone` (the I/O source is shared), so one failure can be
//! handed to every waiter of a batch without losing its kind: a lock
//! timeout reaches each caller as a lock timeout, not as a string.

use std::sync::Arc;
use std::time::Duration;

/// Errors raised by the state layer, the ops and the tools.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// An I/O operation on a file failed.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: String,
        #[source]
        source: Arc<std::io::Error>,
    },
    /// An append failed; `cleanup` says what became of the bytes it had
    /// written (removed again, or why not).
    #[error("cannot append to {path}: {source}; {cleanup}")]
    AppendFailed {
        path: String,
        #[source]
        source: Arc<std::io::Error>,
        cleanup: String,
    },
    /// A state file does not parse. It is never rewritten in that state.
    #[error(
        "{path}:{line}:{column}: {message}; the file was not changed (repair it by hand; the server keeps copies of earlier versions under .roo/backups/)"
    )]
    Corrupt {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// The file's permissions allow no writes: the server leaves it alone.
    #[error(
        "{path} is read-only (its permissions allow no writes), so the server does not change it; make it writable (chmod u+w {path}) to allow this"
    )]
    ReadOnly { path: String },
    /// The file's lock was held for longer than the lock timeout.
    #[error(
        "timed out after {:.1} s waiting for the lock on {path} (lock file {lock}); {holder}",
        waited.as_secs_f64()
    )]
    LockTimeout {
        path: String,
        lock: String,
        waited: Duration,
        /// Who holds it, as far as the lock file tells.
        holder: String,
    },
    /// `expected_version` did not match the file on disk.
    #[error(
        "{path} has changed since you read it: expected_version {expected} but the current version is {actual}; read it again and retry"
    )]
    VersionMismatch {
        path: String,
        expected: String,
        actual: String,
    },
    /// The caller's input is not acceptable; the message says what is.
    #[error("{0}")]
    Invalid(String),
    /// The sandbox refused a path; the message names the rule.
    #[error("{0}")]
    Refused(String),
    /// The thing the caller named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A write would break a limit (e.g. the memory line limit).
    #[error("{0}")]
    Limit(String),
    /// The server is stopping and takes no more writes.
    #[error("the server is shutting down; retry with another server process")]
    ShuttingDown,
    /// The work would block an async worker. Never reaches a client: the
    /// tool runner catches it and runs the call again off the workers.
    #[error("this call has to run off the async workers")]
    MustBlock,
    /// A bug or an unexpected runtime failure (a worker thread died, ...).
    #[error("internal error: {0}")]
    Internal(String),
    /// An error with what it meant for the caller's request.
    #[error("{context}: {source}")]
    Context { context: String, source: Box<Error> },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Longest excerpt of a given value that a message repeats.
const EXCERPT: usize = 60;

/// A value as a message repeats it: quoted, and cut to a short excerpt with
/// its full length when it is long (an error never echoes a whole argument
/// or file).
pub fn shown(s: &str) -> String {
    let n = s.chars().count();
    if n <= EXCERPT {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(EXCERPT).collect();
        format!("{head:?}… ({n} characters)")
    }
}

/// [`shown`] for a JSON value (strings quoted, other values as JSON).
pub fn shown_json(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => shown(s),
        other => {
            let text = other.to_string();
            let n = text.chars().count();
            if n <= EXCERPT {
                text
            } else {
                let head: String = text.chars().take(EXCERPT).collect();
                format!("{head}… ({n} characters)")
            }
        }
    }
}

/// The first few of a list for a message, each cut to an excerpt, and how
/// many more there are: `a, b, c and 17 more`.
pub fn some_of<'a>(items: impl IntoIterator<Item = &'a str>, sep: &str) -> String {
    const FEW: usize = 20;
    let mut out: Vec<String> = Vec::new();
    let mut rest = 0usize;
    for item in items {
        if out.len() < FEW {
            out.push(if item.chars().count() <= EXCERPT {
                item.to_string()
            } else {
                item.chars().take(EXCERPT).chain(['…']).collect()
            });
        } else {
            rest += 1;
        }
    }
    let mut text = out.join(sep);
    if rest > 0 {
        text.push_str(&format!(" and {rest} more"));
    }
    text
}

impl Error {
    /// `MustBlock` and `ShuttingDown`: errors the tool runner acts on,
    /// which an op passes up unchanged (never wrapped, never turned into a
    /// partial answer).
    pub fn is_for_runner(&self) -> bool {
        matches!(self, Error::MustBlock | Error::ShuttingDown)
    }

    /// This error with what it meant for the request (`MustBlock` and
    /// `ShuttingDown` pass unchanged: the runner acts on them).
    pub fn context(self, context: &str) -> Error {
        match self {
            e if e.is_for_runner() => e,
            source => Error::Context {
                context: context.to_string(),
                source: Box::new(source),
            },
        }
    }

    pub fn io(op: &'static str, path: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source: Arc::new(source),
        }
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_shown_as_an_excerpt_with_their_size() {
        assert_eq!(shown("abc"), "\"abc\"");
        let long = "x".repeat(1_000_000);
        let s = shown(&long);
        assert!(
            s.len() < 100 && s.ends_with("… (1000000 characters)"),
            "{s}"
        );
        let v = serde_json::json!({"a": "y".repeat(500)});
        assert!(
            shown_json(&v).ends_with("(508 characters)"),
            "{}",
            shown_json(&v)
        );
    }
}
