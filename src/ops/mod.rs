//! Use cases with plain Rust inputs and outputs: what a tool, a scheduler or
//! a dashboard calls. No MCP types here; the tool layer only translates
//! arguments into these inputs and returns these outputs.
//!
//! Every function is synchronous and may block on the disk; callers on an
//! async runtime run them through the tool runner (`tools::run`), which
//! answers from the caches on the async worker and moves everything else to
//! the blocking pool. Outputs leave out what is absent or empty, so that a
//! result costs an agent no more than it says.

pub mod delegation;
pub mod ids;
pub mod memory;
pub mod schedules;
pub mod timing;
pub mod todo;

/// For `skip_serializing_if`: leave out `false`.
pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// For `skip_serializing_if`: leave out zero counts.
pub(crate) fn is_zero(n: &u64) -> bool {
    *n == 0
}
