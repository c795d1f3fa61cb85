//! Change detection and content versions.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::state::path::ProjectPath;

/// Hex SHA-256 of `bytes`: the `version` of a file.
pub fn version(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        use std::fmt::Write as _;
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// What identifies a file's content cheaply: size, modification and change
/// times, inode and device. Used to skip re-parsing files that did not
/// change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    len: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    ino: u64,
    dev: u64,
}

impl Stamp {
    pub fn of(meta: &fs::Metadata) -> Self {
        Stamp {
            len: meta.len(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
            ino: meta.ino(),
            dev: meta.dev(),
        }
    }

    /// The stamp of `path`, or `None` when it does not exist (one `stat`).
    pub fn read(path: &ProjectPath) -> Result<Option<Self>> {
        match fs::metadata(path.abs()) {
            Ok(m) => Ok(Some(Stamp::of(&m))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("cannot stat", path.rel(), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_hex_sha256() {
        assert_eq!(
            version(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
