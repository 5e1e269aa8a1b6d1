//! The one error type of the engine. Every variant is a kind a caller can act on
//! (the JNI layer maps each to its own Java exception class); the payload is the
//! human-readable reason, already naming the file, keyword or limit involved.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The ONNX Runtime shared library could not be found or loaded.
    #[error("{0}")]
    RuntimeLibrary(String),
    /// A model directory is missing, incomplete or inconsistent with its manifest.
    #[error("{0}")]
    ModelLoad(String),
    /// The task file (or a file it names) is missing or malformed.
    #[error("{0}")]
    InvalidTask(String),
    /// The task's JSON schema uses something the constraint cannot enforce.
    #[error("{0}")]
    UnsupportedSchema(String),
    /// A row's input is unusable (not text, missing field).
    #[error("{0}")]
    InvalidInput(String),
    /// The prompt for a row does not fit the context window.
    #[error("{0}")]
    InputTooLong(String),
    /// `max_new_tokens` or the context window was reached before the JSON closed.
    #[error("{0}")]
    GenerationLimit(String),
    /// ONNX Runtime or an internal invariant failed while running a row.
    #[error("{0}")]
    Runtime(String),
}

/// Stable names of the error kinds, as printed by the CLI (`"<kind>: <reason>"`)
/// and used by the JNI layer to pick an exception class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    RuntimeLibrary,
    ModelLoad,
    InvalidTask,
    UnsupportedSchema,
    InvalidInput,
    InputTooLong,
    GenerationLimit,
    Runtime,
}

impl ErrorKind {
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::RuntimeLibrary => "RuntimeLibrary",
            ErrorKind::ModelLoad => "ModelLoad",
            ErrorKind::InvalidTask => "InvalidTask",
            ErrorKind::UnsupportedSchema => "UnsupportedSchema",
            ErrorKind::InvalidInput => "InvalidInput",
            ErrorKind::InputTooLong => "InputTooLong",
            ErrorKind::GenerationLimit => "GenerationLimit",
            ErrorKind::Runtime => "Runtime",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::RuntimeLibrary(_) => ErrorKind::RuntimeLibrary,
            Error::ModelLoad(_) => ErrorKind::ModelLoad,
            Error::InvalidTask(_) => ErrorKind::InvalidTask,
            Error::UnsupportedSchema(_) => ErrorKind::UnsupportedSchema,
            Error::InvalidInput(_) => ErrorKind::InvalidInput,
            Error::InputTooLong(_) => ErrorKind::InputTooLong,
            Error::GenerationLimit(_) => ErrorKind::GenerationLimit,
            Error::Runtime(_) => ErrorKind::Runtime,
        }
    }

    /// The reason without the kind.
    pub fn reason(&self) -> &str {
        match self {
            Error::RuntimeLibrary(s)
            | Error::ModelLoad(s)
            | Error::InvalidTask(s)
            | Error::UnsupportedSchema(s)
            | Error::InvalidInput(s)
            | Error::InputTooLong(s)
            | Error::GenerationLimit(s)
            | Error::Runtime(s) => s,
        }
    }

    /// `"<kind>: <reason>"`, the form the CLI writes per failed row.
    pub fn describe(&self) -> String {
        format!("{}: {}", self.kind(), self.reason())
    }
}

impl From<ort::Error> for Error {
    fn from(e: ort::Error) -> Self {
        Error::Runtime(format!("onnxruntime: {e}"))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
