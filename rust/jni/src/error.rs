//! Rust errors → typed Java exceptions, one class per engine error kind.

use jni::JNIEnv;

#[derive(Debug)]
pub enum JniError {
    Engine(flinkllm_engine::Error),
    /// A handle that was closed or never issued.
    InvalidHandle(String),
    /// A Java argument the engine cannot take (e.g. a lone UTF-16 surrogate).
    InvalidInput(String),
    /// The row ran past the caller's per-row timeout.
    Timeout(String),
    /// Engine output that does not fit the declared shape (a bug, not a user error).
    Shape(String),
    Panic(String),
    Jni(jni::errors::Error),
}

pub type Result<T> = std::result::Result<T, JniError>;

impl From<flinkllm_engine::Error> for JniError {
    fn from(e: flinkllm_engine::Error) -> Self {
        JniError::Engine(e)
    }
}

impl From<jni::errors::Error> for JniError {
    fn from(e: jni::errors::Error) -> Self {
        JniError::Jni(e)
    }
}

impl JniError {
    fn class_and_message(&self) -> (&'static str, String) {
        use flinkllm_engine::Error as E;
        match self {
            JniError::Engine(e) => {
                let class = match e {
                    E::RuntimeLibrary(_) => "io/flinkllm/RuntimeLibraryException",
                    E::ModelLoad(_) => "io/flinkllm/ModelLoadException",
                    E::InvalidTask(_) => "io/flinkllm/InvalidTaskException",
                    E::UnsupportedSchema(_) => "io/flinkllm/UnsupportedSchemaException",
                    E::InvalidInput(_) => "io/flinkllm/InvalidInputException",
                    E::InputTooLong(_) => "io/flinkllm/InputTooLongException",
                    E::GenerationLimit(_) => "io/flinkllm/GenerationLimitException",
                    E::Runtime(_) => "io/flinkllm/EngineRuntimeException",
                };
                (class, e.reason().to_string())
            }
            JniError::InvalidHandle(m) => ("io/flinkllm/InvalidHandleException", m.clone()),
            JniError::InvalidInput(m) => ("io/flinkllm/InvalidInputException", m.clone()),
            JniError::Timeout(m) => ("io/flinkllm/RowTimeoutException", m.clone()),
            JniError::Shape(m) => ("io/flinkllm/EngineRuntimeException", m.clone()),
            JniError::Panic(m) => ("io/flinkllm/NativePanicException", format!("panic in libflinkllm: {m}")),
            JniError::Jni(e) => ("io/flinkllm/EngineRuntimeException", format!("JNI call failed: {e}")),
        }
    }

    /// Raises the matching Java exception, unless one is already pending (a failed JNI
    /// call leaves its own, more precise exception: keep that one).
    pub fn throw(&self, env: &mut JNIEnv) {
        if env.exception_check().unwrap_or(true) {
            return;
        }
        let (class, message) = self.class_and_message();
        if env.throw_new(class, &message).is_err() && !env.exception_check().unwrap_or(true) {
            // The class itself could not be found (JAR mismatch): still surface the reason.
            let _ = env.throw_new("java/lang/RuntimeException", format!("{class}: {message}"));
        }
    }
}
