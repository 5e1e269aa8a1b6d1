//! Loading the ONNX Runtime shared library once per process, from the path the caller
//! gives (else `ORT_DYLIB_PATH`, `ort`'s own variable), and keeping the one `ort`
//! environment. Finding a library is the caller's business (the JAR's loader extracts its
//! own; the CLI looks in the tools' virtualenv).
//!
//! A failed load is reported from our own checks and `ort::LoadDynamicError`
//! (never as `ort::Error`, whose formatting calls into the missing library).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use once_cell::sync::Lazy;
use ort::environment::Environment;

use crate::error::{Error, Result};

static ENV: Lazy<Mutex<Option<(Environment, PathBuf)>>> = Lazy::new(|| Mutex::new(None));

/// ONNX Runtime 1.31 starts Microsoft's 1DS telemetry with the process's first
/// environment, unless `ORT_DISABLE_TELEMETRY` is set: a dispatcher thread that lives as
/// long as the process, a SQLite store and a device id under
/// `~/.cache/Microsoft/DeveloperTools/.onnxruntime`, and reads of `/proc/cpuinfo`, the PCI
/// devices and the command line. `ort` turns telemetry events off, but only once the
/// environment (and that thread) exists. So the variable is set here, before the library is
/// loaded, unless the operator set it either way (`ORT_DISABLE_TELEMETRY=0` keeps telemetry).
///
/// Setting a variable while other threads may read the environment is a known hazard; it
/// is done once per process (later calls, e.g. from another class loader's copy of this
/// library, find it set), and glibc's first `setenv` copies the environment into a new array
/// without freeing the one concurrent readers may hold.
fn opt_out_of_telemetry() {
    const VAR: &str = "ORT_DISABLE_TELEMETRY";
    if std::env::var_os(VAR).is_none() {
        std::env::set_var(VAR, "1");
    }
}

/// Loads ONNX Runtime (first successful call wins; later calls return the path in use).
pub fn init(explicit: Option<&Path>) -> Result<PathBuf> {
    let mut env = ENV.lock().map_err(|_| Error::RuntimeLibrary("runtime lock poisoned".into()))?;
    if let Some((_, path)) = env.as_ref() {
        return Ok(path.clone());
    }
    opt_out_of_telemetry();
    let mut tried: Vec<String> = Vec::new();
    let mut candidates: Vec<(PathBuf, &str)> = Vec::new();
    if let Some(p) = explicit {
        candidates.push((p.to_path_buf(), "configured path"));
    } else {
        match std::env::var_os("ORT_DYLIB_PATH") {
            Some(p) if !p.is_empty() => candidates.push((PathBuf::from(p), "ORT_DYLIB_PATH")),
            _ => tried.push("ORT_DYLIB_PATH (not set)".into()),
        }
    }
    for (path, source) in candidates {
        if !path.is_file() {
            tried.push(format!("{} ({source}): no such file", path.display()));
            continue;
        }
        match ort::init_from(&path) {
            Ok(builder) => match builder.with_name("flinkllm").build() {
                Ok(e) => {
                    *env = Some((e, path.clone()));
                    return Ok(path);
                }
                Err(e) => tried.push(format!("{} ({source}): environment: {e}", path.display())),
            },
            Err(e) => tried.push(format!("{} ({source}): {e}", path.display())),
        }
    }
    Err(Error::RuntimeLibrary(format!(
        "ONNX Runtime library not loaded; set ORT_DYLIB_PATH (or the ort_library option) to the \
         libonnxruntime.so of the onnxruntime==1.31.1 wheel. Tried: {}",
        if tried.is_empty() { "nothing".to_string() } else { tried.join("; ") }
    )))
}

/// The process's ONNX Runtime environment (loading the library if needed).
pub fn environment(explicit: Option<&Path>) -> Result<Environment> {
    init(explicit)?;
    let env = ENV.lock().map_err(|_| Error::RuntimeLibrary("runtime lock poisoned".into()))?;
    env.as_ref()
        .map(|(e, _)| e.clone())
        .ok_or_else(|| Error::RuntimeLibrary("ONNX Runtime environment missing".into()))
}

/// Hands the C heap's free pages back to the operating system; call it after dropping a
/// model. glibc keeps what a thread freed in that thread's arena, and every ONNX Runtime
/// intra-op thread (started per session, joined when the session drops) and every loader
/// thread gets an arena of its own, so without this a closed model's ~50 MB stays in RSS,
/// and a task manager that opens and closes tasks (job redeploys) keeps growing. Returns
/// whether memory was released; a no-op off glibc. Takes a few milliseconds.
pub fn release_free_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::os::raw::c_int;
        }
        // SAFETY: malloc_trim only walks glibc's own arenas under their locks.
        unsafe { malloc_trim(0) != 0 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
