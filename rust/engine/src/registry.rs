//! Process-wide sharing of models (decoders and encoders): one loaded model per (model directory, thread count),
//! kept alive by the tasks that use it (`Arc`) and dropped with the last of them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::encoder::Encoder;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::weak_map::WeakMap;

static MODELS: WeakMap<(PathBuf, usize), Model> = WeakMap::new("model");
static ENCODERS: WeakMap<(PathBuf, usize), Encoder> = WeakMap::new("encoder");
static LOADS: AtomicU64 = AtomicU64::new(0);

/// The shared model for `dir`, loading it if no live task holds it.
pub fn model(dir: &Path, threads: usize, ort_library: Option<&Path>) -> Result<Arc<Model>> {
    let dir = canonical(dir)?;
    MODELS.get_or_try_insert((dir.clone(), threads), || {
        let m = Model::load(&dir, threads, ort_library)?;
        LOADS.fetch_add(1, Ordering::Relaxed);
        Ok(m)
    })
}

/// The shared sentence encoder for `dir`, loading it if no live task holds it.
pub fn encoder(dir: &Path, threads: usize, ort_library: Option<&Path>) -> Result<Arc<Encoder>> {
    let dir = canonical(dir)?;
    ENCODERS.get_or_try_insert((dir.clone(), threads), || {
        let e = Encoder::load(&dir, threads, ort_library)?;
        LOADS.fetch_add(1, Ordering::Relaxed);
        Ok(e)
    })
}

fn canonical(dir: &Path) -> Result<PathBuf> {
    dir.canonicalize().map_err(|e| Error::ModelLoad(format!("model directory {}: {e}", dir.display())))
}

/// How many times a model was loaded in this process (proves sharing in tests and logs).
pub fn model_loads() -> u64 {
    LOADS.load(Ordering::Relaxed)
}

/// How many models are loaded right now.
pub fn live_models() -> usize {
    MODELS.live() + ENCODERS.live()
}
