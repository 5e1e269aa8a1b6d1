//! Sentence encoders (the models of `embedding` and `classification` tasks): the graph and
//! its manifest (`model`), passes shared by rows in flight (`passes`), and nearest-example
//! classification (`classify`). What a task asks of them is `task`'s; running it, `engine`'s.

pub mod classify;
mod model;
pub(crate) mod passes;

use std::path::Path;

use crate::error::{Error, Result};
use crate::manifest::{model_kind, ModelKind};

pub use model::{Encoder, EncoderManifest};

/// Checks an encoder's directory without loading it (planning time).
pub fn check_dir(dir: &Path) -> Result<()> {
    if model_kind(dir)? != ModelKind::Encoder {
        return Err(Error::ModelLoad(format!(
            "{} is a generative model; embedding and classification tasks need a sentence encoder \
             (tools/prepare-model minilm)",
            dir.display()
        )));
    }
    let (path, value) = crate::manifest::read_manifest(dir)?;
    serde_json::from_value::<EncoderManifest>(value).map_err(|e| Error::ModelLoad(format!("{}: {e}", path.display())))?;
    for file in ["tokenizer.json", crate::model::GRAPH_FILE] {
        if !dir.join(file).is_file() {
            return Err(Error::ModelLoad(format!("{} is missing", dir.join(file).display())));
        }
    }
    Ok(())
}
