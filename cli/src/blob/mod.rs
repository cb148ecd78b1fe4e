//! Saved runs: pytest-benchmark JSON documents with memory in each benchmark's
//! `extra_info.benchmem` (one entry per repeat, raw integers).

mod document;
mod env_info;
mod from_run;
mod read;
mod timing;
mod write;

pub use document::{Benchmark, Document, PytestStats};
pub use env_info::{commit_info, iso_utc, machine_info};
pub use from_run::{document_from_run, document_with_commit};
pub use read::{
    parse_run, read_run, BlobError, Record, Run, TimeStats, INCOMPLETE_KEY, MAX_FILE_BYTES,
    MEMORY_KEY, RUN_KEY,
};
pub use write::{check_destination, write_document, Destination};
