//! loop-orchestrator: an MCP server for schedule-driven development loops.
//!
//! Layers, each calling only the ones below it:
//!
//! * `transport` — stdio, streamable HTTP and legacy SSE; knows nothing
//!   about tools;
//! * `server` — the rmcp handler: the tool router, unknown-tool and logging
//!   behaviour;
//! * `tools` — thin: arguments → an op → its result, run through one wrapper
//!   (panics become `isError`, blocking work leaves the async workers);
//! * [`ops`] — the use cases with plain Rust inputs and outputs;
//! * `state` — file formats, the normalised project path, and the storage
//!   mechanics (locks, atomic replace, group-commit appends, backups).
//!
//! `app` owns the project, the background tasks and shutdown; `cli` is the
//! command line. The file formats and next-run rules are documented in the
//! repository's `docs/`.

#![forbid(unsafe_code)]

mod app;
mod cli;
pub mod config;
mod error;
pub mod ops;
mod server;
mod state;
mod tools;
mod transport;

pub use cli::run;
pub use config::Config;
pub use error::{Error, Result};
pub use state::Project;
