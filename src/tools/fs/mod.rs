//! The filesystem tools: every path goes through the sandbox
//! (`state::fs`). Each tool's arguments live in the file named for it (or
//! for its family) and its use case in `ops`; the routers wire names,
//! descriptions and annotations. `files`: read_project_file,
//! write_project_file, backup_file and restore_file; `walk`:
//! list_project_structure (`listing`) and search_in_files (`search`).

pub mod files;
pub mod listing;
pub mod search;
pub mod walk;
