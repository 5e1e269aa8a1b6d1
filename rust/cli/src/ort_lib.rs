//! Which ONNX Runtime library the CLI hands the engine: `--ort-lib`, else `ORT_DYLIB_PATH`
//! (the engine reads it itself), else the one in the virtualenv `tools/` sets up. Only the
//! CLI knows that layout; the engine (and so the JAR's library) takes an explicit path.

use std::path::{Path, PathBuf};

pub fn ort_library(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    if std::env::var_os("ORT_DYLIB_PATH").is_some_and(|p| !p.is_empty()) {
        return None;
    }
    venv_candidates().into_iter().next()
}

/// Where we look when no path is given, the virtualenvs that
/// `tools/` sets up under `$FLINKLLM_CACHE` (default `~/.cache/flinkllm`, `venv-<hash>`).
fn venv_candidates() -> Vec<PathBuf> {
    let base = match (std::env::var_os("FLINKLLM_CACHE"), std::env::var_os("HOME")) {
        (Some(c), _) if !c.is_empty() => PathBuf::from(c),
        (_, Some(home)) => PathBuf::from(home).join(".cache/flinkllm"),
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(&base) else { return out };
    let mut venvs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("venv") || n == ".venv"))
        .collect();
    venvs.sort();
    for venv in venvs {
        let Ok(pythons) = std::fs::read_dir(venv.join("lib")) else { continue };
        for py in pythons.flatten() {
            let capi = py.path().join("site-packages/onnxruntime/capi");
            let Ok(files) = std::fs::read_dir(&capi) else { continue };
            let mut libs: Vec<PathBuf> = files
                .flatten()
                .map(|f| f.path())
                .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("libonnxruntime.so")))
                .collect();
            libs.sort();
            out.extend(libs);
        }
    }
    out
}

