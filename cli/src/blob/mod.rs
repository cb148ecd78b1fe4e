//! Saved runs: pytest-benchmark JSON documents with memory in each benchmark's
//! `extra_info.benchmem` (one entry per repeat, raw integers).

mod document;
mod env_info;
mod from_run;
mod pytest_stats;
mod read;
mod write;

pub(crate) use document::Document;
pub(crate) use env_info::commit_info;
pub(crate) use from_run::{document_from_run, document_with_commit};
pub(crate) use read::{parse_run, read_run, BlobError, Clean, Record, Run};
pub(crate) use write::{check_destination, write_document};
