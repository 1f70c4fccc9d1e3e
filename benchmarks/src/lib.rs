//! Shared pieces of the benchmark binaries (see README.md): command-line arguments, loading a model the way
//! the reference pipeline does, medians and peak memory, and the results table.

pub mod args;
pub mod measure;
pub mod setup;
pub mod table;
