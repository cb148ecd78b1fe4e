//! The one error every command returns: bad usage or bad input, said in one line.

use benchmem_launcher::RunError;

use crate::blob::BlobError;

/// Why a command could not do its work. Every kind ends benchmem with
/// [`Error::exit_status`] after one line on stderr, `benchmem: <message>`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// Bad usage or bad input that no more specific kind covers.
    #[error("{0}")]
    Input(String),
    /// A saved run that cannot be read.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// A command that cannot be measured.
    #[error(transparent)]
    Run(#[from] RunError),
    /// A finished measurement that cannot be saved where `--json` says.
    #[error("{0}")]
    Save(String),
    /// Bad input explained in several lines: what is wrong, then what was found and
    /// what to do. Each line is escaped on its own when printed.
    #[error("{}", .0.join("\n"))]
    Lines(Vec<String>),
}

impl Error {
    /// The status benchmem exits with.
    pub(crate) fn exit_status(&self) -> i32 {
        match self {
            Error::Input(_) | Error::Blob(_) | Error::Run(_) | Error::Save(_) | Error::Lines(_) => {
                crate::EXIT_BAD_INPUT
            }
        }
    }
}

impl From<String> for Error {
    fn from(message: String) -> Error {
        Error::Input(message)
    }
}

/// What a command returns: the status to exit with when it did its work (the measured
/// command's, a gate's), or why it could not.
pub(crate) type Result<T = i32> = std::result::Result<T, Error>;
