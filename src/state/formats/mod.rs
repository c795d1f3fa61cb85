//! File formats, one module per kind of file (docs/formats.md). Parsers are
//! pure functions over bytes; nothing here touches the disk.

pub mod delegations;
pub mod memory;
pub mod modes;
pub mod next_run;
pub mod schedules;
pub mod time;
pub mod timing;
pub mod todo;
