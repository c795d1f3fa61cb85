//! File formats, one module per kind of file (docs/formats.md). Parsers are
//! pure functions over bytes; nothing here touches the disk.

pub mod delegations;
pub mod memory;
pub mod modes;
pub mod next_run;
pub mod schedules;
pub mod server_state;
pub mod time;
pub mod timing;
pub mod todo;

/// For `skip_serializing_if`: leave out `false`.
pub fn is_false(b: &bool) -> bool {
    !*b
}

/// For `skip_serializing_if`: leave out a zero count.
pub fn is_zero<T: Default + PartialEq>(n: &T) -> bool {
    *n == T::default()
}
