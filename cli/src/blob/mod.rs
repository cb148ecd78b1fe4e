//! Saved runs: pytest-benchmark JSON documents with memory in each benchmark's
//! `extra_info.benchmem` (one entry per repeat, raw integers).

mod document;
mod env_info;
mod from_run;
mod pytest_stats;
mod read;
pub(crate) mod timeline;
mod write;

pub(crate) use document::Document;
pub(crate) use env_info::commit_info;
pub(crate) use from_run::{Measured, document_from_run, document_of_runs, overall_status};
pub(crate) use read::{BlobError, Clean, PerOp, Record, Run, parse_run, read_json, read_run};
pub(crate) use write::{check_destination_for, write_document, write_file};
