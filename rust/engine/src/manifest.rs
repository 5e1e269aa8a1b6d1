//! `flinkllm.json`, the model-directory manifest (docs/model-directory.md).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub name: String,
    #[serde(default)]
    pub precision: String,
    pub num_layers: usize,
    pub num_kv_heads: usize,
    pub head_dim: usize,
    pub vocab_size: usize,
    pub context_length: usize,
    pub kv_dtype: String,
    pub eos_token_id: u32,
    #[serde(default)]
    pub stop_token_ids: Vec<u32>,
    pub chat_template: String,
    #[serde(default)]
    pub bos_token: Option<String>,
    #[serde(default)]
    pub eos_token: Option<String>,
    pub io: IoNames,
    /// How the graph lays out rows of different lengths in one batch; see [`PaddingSide`].
    #[serde(default)]
    pub padding_side: PaddingSide,
    /// The graph's kernels give a row the same floats in a batch of several rows as
    /// alone (measured by the converter's precision; see docs/model-directory.md).
    #[serde(default)]
    pub batch_invariant: bool,
}

/// Which graphs can decode rows of different lengths together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaddingSide {
    /// Packed passes (`tools/prepare-model`'s graphs, `Model::pass`): any number of new
    /// tokens per row, a row's cache filling columns `0..len` of a right-padded batch,
    /// new keys and values returned for the caller to write. A row's results do not
    /// depend on the other rows of the pass. Batching needs this.
    Packed,
    /// GroupQueryAttention graphs of converters before 0.7.0: refused at load (re-run
    /// `tools/prepare-model`).
    Right,
    /// Concatenating attention (optimum exports): new keys/values are appended after
    /// the longest row, so rows cannot share a batch without their results depending
    /// on each other's lengths. Rows of such a model run one at a time.
    #[default]
    Left,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IoNames {
    pub input_ids: String,
    pub attention_mask: String,
    pub position_ids: Option<String>,
    #[serde(default)]
    pub num_logits_to_keep: Option<String>,
    pub past_key: String,
    pub past_value: String,
    pub logits: String,
    pub present_key: String,
    pub present_value: String,
}

/// What a model directory holds, from its manifest's `kind` (absent: a decoder).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    Decoder,
    Encoder,
}

/// The manifest of `dir` as JSON, with its path (for errors).
pub(crate) fn read_manifest(dir: &Path) -> Result<(PathBuf, Value)> {
    let path = dir.join("flinkllm.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::ModelLoad(format!(
            "cannot read {}: {e} (is {} a model directory made by tools/prepare-model?)",
            path.display(),
            dir.display()
        ))
    })?;
    let value = serde_json::from_str(&text).map_err(|e| Error::ModelLoad(format!("{}: {e}", path.display())))?;
    Ok((path, value))
}

/// Whether `dir` holds a decoder or an encoder.
pub fn model_kind(dir: &Path) -> Result<ModelKind> {
    let (path, value) = read_manifest(dir)?;
    match value.get("kind").and_then(Value::as_str) {
        None | Some("decoder") => Ok(ModelKind::Decoder),
        Some("encoder") => Ok(ModelKind::Encoder),
        Some(other) => Err(Error::ModelLoad(format!("{}: unknown model kind {other:?}", path.display()))),
    }
}

impl Manifest {
    pub fn load(dir: &Path) -> Result<Manifest> {
        let (path, value) = read_manifest(dir)?;
        if value.get("kind").and_then(Value::as_str) == Some("encoder") {
            return Err(Error::ModelLoad(format!(
                "{} is a sentence encoder: use it with \"task\": \"embedding\" or \"classification\"",
                dir.display()
            )));
        }
        let m: Manifest = serde_json::from_value(value).map_err(|e| Error::ModelLoad(format!("{}: {e}", path.display())))?;
        if m.format_version != 1 {
            return Err(Error::ModelLoad(format!(
                "{}: format_version {} is not supported (this engine reads 1)",
                path.display(),
                m.format_version
            )));
        }
        if m.padding_side == PaddingSide::Right {
            return Err(Error::ModelLoad(format!(
                "{}: made by an older tools/prepare-model (one-token batches only); run tools/prepare-model again for this engine's packed graph",
                path.display()
            )));
        }
        if m.kv_dtype != "float32" {
            return Err(Error::ModelLoad(format!(
                "{}: kv_dtype {:?} is not supported (this engine feeds float32 KV caches)",
                path.display(),
                m.kv_dtype
            )));
        }
        Ok(m)
    }

    /// Whether rows of this model may share forward passes without any row's result
    /// depending on the others: the graph keeps rows apart and its kernels are
    /// batch-invariant.
    pub fn can_batch(&self) -> bool {
        self.padding_side == PaddingSide::Packed && self.batch_invariant
    }

    /// Token ids that end generation: eos plus any extra stop ids.
    pub fn stop_ids(&self) -> Vec<u32> {
        let mut ids = self.stop_token_ids.clone();
        if !ids.contains(&self.eos_token_id) {
            ids.push(self.eos_token_id);
        }
        ids
    }
}
