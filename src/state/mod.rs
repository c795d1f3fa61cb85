//! The state layer: owns every byte the server reads or writes on disk.

pub mod atomic;
pub mod modes;
pub mod next_run;
pub mod time;
pub mod timing;
pub mod backup;
pub mod file;
pub mod schedules;
pub mod memory;
pub mod delegations;
pub mod todo;
