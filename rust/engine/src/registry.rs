//! Process-wide sharing: one loaded model per (model directory, thread count), kept
//! alive by the tasks that use it (`Arc`) and dropped with the last of them.
//! The registry holds only `Weak` references, so it never keeps a model alive itself.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use once_cell::sync::Lazy;

use crate::error::{Error, Result};
use crate::model::Model;

type Key = (PathBuf, usize);

static MODELS: Lazy<Mutex<HashMap<Key, Weak<Model>>>> = Lazy::new(|| Mutex::new(HashMap::new()));
static LOADS: AtomicU64 = AtomicU64::new(0);

/// The shared model for `dir`, loading it if no live task holds it.
pub fn model(dir: &Path, threads: usize, ort_library: Option<&Path>) -> Result<Arc<Model>> {
    let dir = dir
        .canonicalize()
        .map_err(|e| Error::ModelLoad(format!("model directory {}: {e}", dir.display())))?;
    let key = (dir, threads);
    // Loading under the lock makes concurrent first uses (several Flink slots
    // opening at once) load the model exactly once.
    let mut models = MODELS.lock().map_err(|_| Error::Runtime("model registry lock poisoned".into()))?;
    if let Some(m) = models.get(&key).and_then(Weak::upgrade) {
        return Ok(m);
    }
    models.retain(|_, w| w.strong_count() > 0);
    let m = Arc::new(Model::load(&key.0, key.1, ort_library)?);
    LOADS.fetch_add(1, Ordering::Relaxed);
    models.insert(key, Arc::downgrade(&m));
    Ok(m)
}

/// How many times a model was loaded in this process (proves sharing in tests and logs).
pub fn model_loads() -> u64 {
    LOADS.load(Ordering::Relaxed)
}

/// How many models are loaded right now.
pub fn live_models() -> usize {
    MODELS
        .lock()
        .map(|m| m.values().filter(|w| w.strong_count() > 0).count())
        .unwrap_or(0)
}
