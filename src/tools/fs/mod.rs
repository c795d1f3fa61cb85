//! The filesystem tools: every path goes through the sandbox
//! (`state::fs`). `files`: read_project_file, write_project_file,
//! backup_file and restore_file.

pub mod files;
