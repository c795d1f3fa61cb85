//! loop-orchestrator: an MCP server for schedule-driven development loops.
//!
//! Layers, each calling only the ones below it:
//!
//! * `transport` — stdio, streamable HTTP and legacy SSE; knows nothing
//!   about tools;
//! * `server` — the rmcp handler: the tool router and its profile,
//!   resources, prompts, completions, subscriptions and logging;
//! * `tools` — thin: arguments → an op → its result, run through one wrapper
//!   (panics become `isError`, blocking work leaves the async workers);
//! * [`ops`] — the use cases with plain Rust inputs and outputs;
//! * `state` — file formats, the normalised project path, and the storage
//!   mechanics (locks, atomic replace, group-commit appends, backups).
//!
//! `app` owns the project, the background tasks, shutdown and the file
//! watcher (`hub`); [`embed`] is the serving path, the binary's and an
//! embedding program's (see `examples/conformance.rs`); `scheduler` is
//! the daemon that fires due schedules (an `app` background task); `cli` is the
//! command line. The file formats and next-run rules are documented in the
//! repository's `docs/`.

#![forbid(unsafe_code)]

/// Prints a line on stderr, like `eprintln!`, but a stderr nobody reads any
/// more (a closed pipe) is ignored instead of panicking: a daemon whose log
/// reader went away must still shut down on SIGTERM.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod app;
mod cli;
pub mod config;
pub mod embed;
mod error;
mod hub;
pub mod metrics;
pub mod ops;
mod scheduler;
mod server;
mod state;
mod tools;
mod transport;

pub use cli::run;
pub use config::Config;
pub use error::{Error, Result};
pub use state::Project;
