//! Confining the files a task makes the engine read (the task file, the files it names, the
//! model directory) to directories an operator allows. Whoever can submit SQL can name those
//! files; on a shared cluster, an unconfined `system_prompt_file` would put any file the task
//! manager can read into a prompt. Paths are compared after resolving `.`, `..` and symlinks,
//! and a refusal names the setting, never the file's content.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// How the operator sets the directories: the JVM system property (for every Flink process,
/// `env.java.opts.all`) or the environment variable; `:`-separated. Named in every refusal.
pub const SETTING: &str = "flinkllm.allowed-paths (or FLINKLLM_ALLOWED_PATHS)";

/// Directories files may be read from; `None`: anywhere the process may read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AllowedPaths(Option<Vec<PathBuf>>);

impl AllowedPaths {
    pub fn anywhere() -> Self {
        AllowedPaths(None)
    }

    /// From the setting's value (`dir1:dir2`); empty entries are ignored, and a value with no
    /// directory at all allows nothing (a typo must not open everything up).
    pub fn parse(value: &str) -> Self {
        AllowedPaths(Some(value.split(':').filter(|d| !d.trim().is_empty()).map(|d| resolved(Path::new(d.trim()))).collect()))
    }

    /// `Ok` if `path` (after resolving `..` and symlinks) lies inside an allowed directory.
    /// `what` says which file it is, for the error.
    pub fn check(&self, path: &Path, what: &str) -> Result<()> {
        let Some(dirs) = &self.0 else { return Ok(()) };
        let real = resolved(path);
        if dirs.iter().any(|d| real.starts_with(d)) {
            return Ok(());
        }
        Err(Error::InvalidTask(format!(
            "{what} {} is outside the directories {SETTING} allows ({})",
            path.display(),
            dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(":")
        )))
    }
}

/// The path with symlinks and `..` resolved; a path that does not exist (yet) is resolved as
/// far as it exists, so `allowed/missing/../../etc/x` cannot slip past.
fn resolved(path: &Path) -> PathBuf {
    let absolute = if path.is_absolute() { path.to_path_buf() } else { std::env::current_dir().unwrap_or_default().join(path) };
    if let Ok(real) = absolute.canonicalize() {
        return real;
    }
    // Walk up to the deepest part that exists, then apply the rest lexically.
    let mut base = absolute.clone();
    let mut rest = Vec::new();
    while !base.exists() {
        match (base.file_name().map(|n| n.to_os_string()), base.parent()) {
            (name, Some(parent)) => {
                rest.push(name.unwrap_or_else(|| "..".into()));
                base = parent.to_path_buf();
            }
            (_, None) => break,
        }
    }
    let mut out = base.canonicalize().unwrap_or(base);
    for part in rest.into_iter().rev() {
        if part == ".." {
            out.pop();
        } else if part != "." {
            out.push(part);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("flinkllm-confine-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("allowed")).unwrap();
        std::fs::create_dir_all(d.join("outside")).unwrap();
        std::fs::write(d.join("outside/secret.txt"), "x").unwrap();
        std::fs::write(d.join("allowed/task.json"), "{}").unwrap();
        d
    }

    #[test]
    fn inside_passes_and_escapes_are_refused() {
        let d = scratch("escapes");
        let allowed = AllowedPaths::parse(&format!("{}:", d.join("allowed").display()));
        assert!(allowed.check(&d.join("allowed/task.json"), "task file").is_ok());
        assert!(allowed.check(&d.join("allowed/not-yet.json"), "task file").is_ok());
        for escape in [d.join("outside/secret.txt"), d.join("allowed/../outside/secret.txt"), d.join("allowed/missing/../../outside/secret.txt")] {
            let e = allowed.check(&escape, "system_prompt_file").unwrap_err();
            assert!(e.reason().contains("flinkllm.allowed-paths"), "{e}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(d.join("outside/secret.txt"), d.join("allowed/link.txt")).unwrap();
            assert!(allowed.check(&d.join("allowed/link.txt"), "schema_file").is_err(), "a symlink out of an allowed directory");
        }
        assert!(AllowedPaths::anywhere().check(&d.join("outside/secret.txt"), "x").is_ok());
        assert!(AllowedPaths::parse("").check(&d.join("allowed/task.json"), "x").is_err(), "an empty list allows nothing");
    }
}
