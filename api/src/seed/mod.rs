//! Data for people to look at and for load tests.
//!
//! `demo` builds a deterministic, realistic network (the same rows on every run and on both
//! databases); `librarians` adds N librarians quickly with chunked multi-row inserts.

mod bulk;
mod demo;
mod generator;

pub use bulk::librarians;
pub use demo::demo;
