//! loop-orchestrator: an MCP server for schedule-driven development loops.
//!
//! Layers (arrows point to what a layer may call):
//! `transport` → `server` → `tools` → `state` → disk.

pub mod cli;
pub mod config;
pub mod error;
pub mod server;
pub mod state;
pub mod tools;
pub mod transport;
