//! A loaded sentence encoder: manifest, tokenizer and one ONNX Runtime session, with the
//! batched forward pass, mean pooling over each row's own tokens and L2 normalisation.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::Tensor;
use serde::Deserialize;
use tokenizers::{PostProcessor, Tokenizer, TruncationDirection};

use crate::error::{Error, Result};
use crate::manifest::read_manifest;
use crate::model::GRAPH_FILE;
use crate::overflow::ContextOverflow;

/// `flinkllm.json` of an encoder (`"kind": "encoder"`; docs/model-directory.md).
#[derive(Debug, Clone, Deserialize)]
pub struct EncoderManifest {
    pub name: String,
    #[serde(default)]
    pub precision: String,
    pub hidden_size: usize,
    /// The sequence length the model was trained with: the default `max_length`.
    pub max_length: usize,
    /// Positions the graph has embeddings for: the largest `max_length` it accepts.
    pub max_position_embeddings: usize,
    pub pooling: String,
    #[serde(default)]
    pub pad_token_id: u32,
    pub io: EncoderIo,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EncoderIo {
    pub input_ids: String,
    pub attention_mask: String,
    #[serde(default)]
    pub token_type_ids: Option<String>,
    pub last_hidden_state: String,
}

pub struct Encoder {
    pub dir: PathBuf,
    pub manifest: EncoderManifest,
    pub load_ms: f64,
    tokenizer: Tokenizer,
    /// Special tokens the tokenizer's post-processor adds around a text ([CLS] … [SEP]).
    added_tokens: usize,
    session: Mutex<Session>,
}

impl Encoder {
    pub fn load(dir: &Path, threads: usize, ort_library: Option<&Path>) -> Result<Encoder> {
        let started = Instant::now();
        let (path, value) = read_manifest(dir)?;
        let manifest: EncoderManifest =
            serde_json::from_value(value).map_err(|e| Error::ModelLoad(format!("{}: {e}", path.display())))?;
        if manifest.pooling != "mean" {
            return Err(Error::ModelLoad(format!("{}: pooling {:?} is not supported (mean is)", path.display(), manifest.pooling)));
        }
        let tokenizer_file = dir.join("tokenizer.json");
        let tokenizer = Tokenizer::from_file(&tokenizer_file)
            .map_err(|e| Error::ModelLoad(format!("{}: {e}", tokenizer_file.display())))?;
        let added_tokens = tokenizer.get_post_processor().map_or(0, |p| p.added_tokens(false));
        let graph = dir.join(GRAPH_FILE);
        let env = crate::runtime::environment(ort_library)?;
        let session = Session::builder(&env)
            .and_then(|b| b.with_optimization_level(GraphOptimizationLevel::All).map_err(Into::into))
            .and_then(|b| b.with_intra_threads(threads.max(1)).map_err(Into::into))
            .and_then(|b| b.with_inter_threads(1).map_err(Into::into))
            .and_then(|mut b| b.commit_from_file(&graph))
            .map_err(|e| Error::ModelLoad(format!("{}: {e}", graph.display())))?;
        Ok(Encoder {
            dir: dir.to_path_buf(),
            manifest,
            load_ms: started.elapsed().as_secs_f64() * 1e3,
            tokenizer,
            added_tokens,
            session: Mutex::new(session),
        })
    }

    /// The ids of `text` with the model's special tokens, at most `max_length` of them; a
    /// longer text is cut per `overflow` (the special tokens always stay).
    pub fn tokenize(&self, text: &str, max_length: usize, overflow: ContextOverflow) -> Result<Vec<u32>> {
        let mut encoding = self.tokenizer.encode(text, false).map_err(|e| Error::InvalidInput(format!("tokenizer: {e}")))?;
        let room = max_length.saturating_sub(self.added_tokens);
        if encoding.len() > room {
            let direction = match overflow {
                ContextOverflow::Error => {
                    return Err(Error::InputTooLong(format!(
                        "input is {} tokens; the encoder reads at most {room} (max_length {max_length})",
                        encoding.len()
                    )))
                }
                ContextOverflow::TruncateTail => TruncationDirection::Right,
                ContextOverflow::TruncateHead => TruncationDirection::Left,
            };
            encoding.truncate(room, 0, direction);
        }
        let encoding = self.tokenizer.post_process(encoding, None, true).map_err(|e| Error::InvalidInput(format!("tokenizer: {e}")))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// One forward pass over `rows` (right-padded to the longest), each row's vector the
    /// mean of its own tokens' hidden states, L2-normalised when `normalize`. The graph
    /// masks padded keys out of attention, so a row's vector does not depend on the other
    /// rows of the pass (tests/engine/test_encoder.py measures it).
    pub fn embed(&self, rows: &[&[u32]], normalize: bool) -> Result<Vec<Vec<f32>>> {
        let b = rows.len();
        let width = rows.iter().map(|r| r.len()).max().unwrap_or(0);
        if b == 0 || width == 0 {
            return Err(Error::Runtime("encoder pass with no tokens".into()));
        }
        let mut ids = vec![self.manifest.pad_token_id as i64; b * width];
        let mut mask = vec![0i64; b * width];
        for (i, row) in rows.iter().enumerate() {
            for (j, &t) in row.iter().enumerate() {
                ids[i * width + j] = t as i64;
                mask[i * width + j] = 1;
            }
        }
        let io = &self.manifest.io;
        let mut inputs = ort::inputs![
            io.input_ids.as_str() => Tensor::from_array(([b, width], ids))?,
            io.attention_mask.as_str() => Tensor::from_array(([b, width], mask))?,
        ];
        if let Some(name) = &io.token_type_ids {
            inputs.push((name.as_str().into(), Tensor::from_array(([b, width], vec![0i64; b * width]))?.into()));
        }
        let mut session = self
            .session
            .lock()
            .map_err(|_| Error::Runtime("encoder session lock poisoned by an earlier panic".into()))?;
        let out = session.run(inputs)?;
        let value = out
            .get(&io.last_hidden_state)
            .ok_or_else(|| Error::Runtime(format!("graph output {:?} missing", io.last_hidden_state)))?;
        let (shape, hidden) = value.try_extract_tensor::<f32>()?;
        let dim = self.manifest.hidden_size;
        if hidden.len() != b * width * dim {
            return Err(Error::Runtime(format!("last_hidden_state has shape {shape:?}, expected [{b}, {width}, {dim}]")));
        }
        Ok(rows
            .iter()
            .enumerate()
            .map(|(i, row)| pool(&hidden[i * width * dim..(i * width + row.len()) * dim], dim, normalize))
            .collect())
    }

    /// Bytes of the model directory's files (weights and tokenizer are read whole).
    pub fn file_bytes(&self) -> u64 {
        crate::model::dir_bytes(&self.dir)
    }
}

/// Mean over the row's positions (accumulated in f64, so the order of the other rows'
/// work cannot matter), then L2 normalisation.
fn pool(positions: &[f32], dim: usize, normalize: bool) -> Vec<f32> {
    let count = (positions.len() / dim).max(1) as f64;
    let mut sum = vec![0f64; dim];
    for position in positions.chunks_exact(dim) {
        for (s, &x) in sum.iter_mut().zip(position) {
            *s += x as f64;
        }
    }
    let mean: Vec<f64> = sum.iter().map(|s| s / count).collect();
    let norm = if normalize { mean.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12) } else { 1.0 };
    mean.iter().map(|x| (x / norm) as f32).collect()
}
