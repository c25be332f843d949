//! The peer-matching engine: pure code, no database and no async (issue 5 builds the
//! scoring and the round on top of it).

pub mod blossom;
pub mod engine;
pub mod graph_file;
