//! The development tools. Each tool's arguments and router live in the
//! file named for it (or its family), its use case in the `ops` module of
//! the same name. `modes`: get_mode_capabilities and switch_mode;
//! `recovery`: error_recovery; `validation`: run_validation; `status`:
//! get_system_status and sync_environment.

pub mod modes;
pub mod recovery;
pub mod status;
pub mod validation;
