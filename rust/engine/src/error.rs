//! The one error type of the engine and the one table of error kinds. Every binding
//! derives from here: the JNI layer throws a Java exception carrying `ErrorKind::name`,
//! the Java metrics register one counter per `ErrorKind::ROW_KINDS` name, the CLI prints
//! `"<kind>: <reason>"`. The payload is the human-readable reason, already naming the file,
//! keyword or limit involved.

use std::fmt;

macro_rules! error_kinds {
    ($($(#[doc = $doc:literal])* $kind:ident, row: $row:literal;)*) => {
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        pub enum Error {
            $($(#[doc = $doc])* #[error("{0}")] $kind(String),)*
        }

        /// What went wrong, without the reason: what callers act on.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorKind {
            $($(#[doc = $doc])* $kind,)*
        }

        impl ErrorKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$kind,)*];

            /// The stable name (Java exceptions' `kind()`, metric names, CLI output).
            pub fn name(self) -> &'static str {
                match self {
                    $(ErrorKind::$kind => stringify!($kind),)*
                }
            }

            /// Whether one row can end with this kind while its task keeps working (the
            /// rest fail opening a task, or a call that never reached a row).
            pub fn is_row_level(self) -> bool {
                match self {
                    $(ErrorKind::$kind => $row,)*
                }
            }
        }

        impl Error {
            pub fn kind(&self) -> ErrorKind {
                match self {
                    $(Error::$kind(_) => ErrorKind::$kind,)*
                }
            }

            /// The reason without the kind.
            pub fn reason(&self) -> &str {
                match self {
                    $(Error::$kind(s) => s,)*
                }
            }
        }
    };
}

error_kinds! {
    /// The ONNX Runtime shared library could not be found or loaded.
    RuntimeLibrary, row: false;
    /// A model directory is missing, incomplete or inconsistent with its manifest.
    ModelLoad, row: false;
    /// The task file (or a file it names), or an option given with it, is missing or malformed.
    InvalidTask, row: false;
    /// The task's JSON schema uses something the constraint cannot enforce.
    UnsupportedSchema, row: false;
    /// A row's input is unusable (not text, missing field).
    InvalidInput, row: true;
    /// The prompt for a row does not fit the context window.
    InputTooLong, row: true;
    /// `max_new_tokens` or the context window was reached before the JSON closed.
    GenerationLimit, row: true;
    /// The row ran past the deadline its caller gave (checked between forward passes).
    RowTimeout, row: true;
    /// ONNX Runtime or an internal invariant failed while running a row.
    Runtime, row: true;
    /// A valid answer holds a value the caller's column type cannot (a task file's integer
    /// beyond an INT column of a model provider's OUTPUT); raised by bindings, not the engine.
    InvalidOutput, row: true;
    /// A binding's handle that was closed or never issued.
    InvalidHandle, row: false;
    /// A panic, caught at a binding's boundary (the process keeps running).
    Panic, row: true;
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Error {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_variant_names() {
        assert_eq!(Error::RowTimeout("late".into()).describe(), "RowTimeout: late");
        let names: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.name()).collect();
        assert!(names.contains(&"InputTooLong") && names.contains(&"Panic"));
        assert!(ErrorKind::GenerationLimit.is_row_level() && !ErrorKind::ModelLoad.is_row_level());
    }
}
