//! Rust errors → Java exceptions. The kinds are the engine's (`ErrorKind`, the one table):
//! every error becomes an `io.flinkllm.LlmException` carrying `ErrorKind::name`, except the
//! one kind Java code acts on by type, `InputTooLong` (`InputTooLongException`, for the
//! context-overflow policy).

use flinkllm_engine::{Error, ErrorKind};
use jni::objects::{JThrowable, JValue};
use jni::JNIEnv;

#[derive(Debug)]
pub enum JniError {
    Engine(Error),
    /// A JNI call itself failed (it usually leaves a more precise Java exception pending).
    Jni(jni::errors::Error),
}

pub type Result<T> = std::result::Result<T, JniError>;

impl From<Error> for JniError {
    fn from(e: Error) -> Self {
        JniError::Engine(e)
    }
}

impl From<jni::errors::Error> for JniError {
    fn from(e: jni::errors::Error) -> Self {
        JniError::Jni(e)
    }
}

const EXCEPTION: &str = "io/flinkllm/LlmException";
const INPUT_TOO_LONG: &str = "io/flinkllm/InputTooLongException";

impl JniError {
    fn kind_and_message(&self) -> (ErrorKind, String) {
        match self {
            JniError::Engine(e) => (e.kind(), e.reason().to_string()),
            JniError::Jni(e) => (ErrorKind::Runtime, format!("JNI call failed: {e}")),
        }
    }

    /// Raises the matching Java exception, unless one is already pending (a failed JNI
    /// call leaves its own, more precise exception: keep that one).
    pub fn throw(&self, env: &mut JNIEnv) {
        if env.exception_check().unwrap_or(true) {
            return;
        }
        let (kind, message) = self.kind_and_message();
        let class = if kind == ErrorKind::InputTooLong { INPUT_TOO_LONG } else { EXCEPTION };
        if raise(env, class, kind, &message).is_err() && !env.exception_check().unwrap_or(true) {
            // The class itself could not be found (JAR mismatch): still surface the reason.
            let _ = env.throw_new("java/lang/RuntimeException", format!("{kind}: {message}"));
        }
    }
}

fn raise(env: &mut JNIEnv, class: &str, kind: ErrorKind, message: &str) -> jni::errors::Result<()> {
    let kind = env.new_string(kind.name())?;
    let message = env.new_string(message)?;
    let exception = env.new_object(class, "(Ljava/lang/String;Ljava/lang/String;)V", &[JValue::Object(&kind), JValue::Object(&message)])?;
    env.throw(JThrowable::from(exception))
}
