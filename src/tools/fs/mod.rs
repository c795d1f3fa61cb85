//! The filesystem tools. Each tool's arguments live in the file named for
//! it and its use case in the `ops` module of the same name; the routers
//! wire names, descriptions and annotations.

pub mod listing;
pub mod search;
pub mod walk;
