//! Running a command under the preload.

use crate::{RunError, RunOptions, RunResult};

/// Run the command `opts.repeats` times under the preload and aggregate every process's report.
pub fn run(_opts: &RunOptions) -> Result<RunResult, RunError> {
    Err(RunError::NoCommand)
}
