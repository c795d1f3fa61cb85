//! Use cases with plain Rust inputs and outputs: what a tool, a scheduler or
//! a dashboard calls. No MCP types here; the tool layer only translates
//! arguments into these inputs and returns these outputs.
//!
//! Every function is synchronous and may block on the disk; callers on an
//! async runtime run them through the tool runners (`tools::read` and
//! `tools::blocking`), which
//! answers from the caches on the async worker and moves everything else to
//! the blocking pool. Outputs leave out what is absent or empty, so that a
//! result costs an agent no more than it says.

pub mod delegation;
pub mod edit;
pub mod failures;
pub mod files;
pub mod ids;
pub mod listing;
pub mod loop_step;
pub mod memory;
pub mod modes;
pub mod page;
pub mod recovery;
pub mod scheduler;
pub mod schedules;
pub mod search;
pub mod status;
pub mod sync;
pub mod timing;
pub mod todo;
pub mod validation;

use crate::error::Result;
use crate::state::store::may_block;

/// Files above this size make computing an answer blocking work: it is done
/// on the blocking pool, never on an async worker.
const LARGE_FILE: u64 = 256 * 1024;

/// Called before computing an answer from a parsed file of `size` bytes.
pub(crate) fn heavy(size: u64) -> Result<()> {
    if size > LARGE_FILE {
        may_block()
    } else {
        Ok(())
    }
}
