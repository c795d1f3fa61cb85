//! The development tools.

pub mod validation;
