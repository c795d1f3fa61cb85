//! The development tools: the loop's health and its environment. Each
//! tool's arguments live in the file named for its family and its use case
//! in the `ops` module of the same name; the routers wire names,
//! descriptions and annotations. `status`: get_system_status and
//! sync_environment.

pub mod status;
