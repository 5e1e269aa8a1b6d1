//! A loaded model directory: manifest, vocabulary and one ONNX Runtime session,
//! with the forward pass in the optimum KV-cache convention.
//!
//! `Session::run` takes `&mut self`, so the session sits behind a `Mutex`; a model is
//! shared by every task and thread of the process through `registry`.

use std::borrow::Cow;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use ort::session::builder::GraphOptimizationLevel;
use ort::memory::Allocator;
use ort::session::{Session, SessionInputValue};
use ort::value::{DynValue, Tensor};

use crate::error::{Error, Result};
use crate::manifest::{Manifest, PaddingSide};
use crate::packed::PackedInputs;
use crate::tokens::TokenText;

pub struct Model {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub tokens: TokenText,
    pub threads: usize,
    pub load_ms: f64,
    session: Mutex<Session>,
    names: Names,
}

/// Graph I/O names with `{i}` expanded, computed once.
struct Names {
    /// Packed graphs' shared-prefix inputs (fixed names, docs/model-directory.md).
    prefix: Vec<String>,
    past: Vec<String>,
    present: Vec<String>,
}

/// KV cache: per layer key then value, `[1, kv_heads, len, head_dim]` each.
/// Values are reference-counted ONNX Runtime tensors: feeding a `present` output back
/// as the next `past` input copies nothing on our side.
pub struct Kv {
    pub values: Vec<DynValue>,
    pub len: usize,
}

/// What a packed pass returns (`Model::pass`).
pub struct PassOutput {
    /// The fed rows' next-token logits, `fed rows x vocab`, in batch-row order.
    pub logits: Vec<f32>,
    /// Per layer key then value, `[tokens, kv_heads, head_dim]`: the new tokens' keys and
    /// values, for the caller to write after each row's cached columns.
    pub new: Vec<DynValue>,
    /// Per batch row, its tokens' range among the pass's tokens.
    pub spans: Vec<Range<usize>>,
}

/// What one forward pass returns: logits of the last position, and the new cache.
pub struct Step {
    pub logits: Vec<f32>,
    pub kv: Kv,
}

/// The ONNX graph of a model directory (with `model.onnx.data` beside it when large).
pub const GRAPH_FILE: &str = "model.onnx";

impl Model {
    /// Everything about a model directory that can be checked without loading the graph:
    /// the manifest, the tokenizer, the graph file. For planners, so a broken directory fails
    /// before any task manager tries it.
    pub fn check_dir(dir: &Path) -> Result<()> {
        let manifest = Manifest::load(dir)?;
        TokenText::load(dir, manifest.vocab_size, manifest.eos_token_id)?;
        graph_file(dir).map(|_| ())
    }

    pub fn load(dir: &Path, threads: usize, ort_library: Option<&Path>) -> Result<Model> {
        let started = Instant::now();
        let manifest = Manifest::load(dir)?;
        let env = crate::runtime::environment(ort_library)?;
        let graph = graph_file(dir)?;
        // The vocabulary tables (~0.15 s) are built while ONNX Runtime loads the graph.
        let (tokens, session) = std::thread::scope(|s| {
            let tokens = s.spawn(|| TokenText::load(dir, manifest.vocab_size, manifest.eos_token_id));
            let session = Session::builder(&env)
                .and_then(|b| b.with_optimization_level(GraphOptimizationLevel::All).map_err(Into::into))
                .and_then(|b| b.with_intra_threads(threads.max(1)).map_err(Into::into))
                .and_then(|b| b.with_inter_threads(1).map_err(Into::into))
                .and_then(|mut b| b.commit_from_file(&graph))
                .map_err(|e| Error::ModelLoad(format!("{}: {e}", graph.display())));
            let tokens = tokens
                .join()
                .unwrap_or_else(|_| Err(Error::ModelLoad("tokenizer loading panicked".into())));
            (tokens, session)
        });
        let (tokens, session) = (tokens?, session?);
        let layer = |pattern: &str, i: usize| pattern.replace("{i}", &i.to_string());
        let io = &manifest.io;
        let mut past = Vec::new();
        let mut present = Vec::new();
        let mut prefix = Vec::new();
        for i in 0..manifest.num_layers {
            prefix.push(format!("prefix_key_values.{i}.key"));
            prefix.push(format!("prefix_key_values.{i}.value"));
            past.push(layer(&io.past_key, i));
            past.push(layer(&io.past_value, i));
            present.push(layer(&io.present_key, i));
            present.push(layer(&io.present_value, i));
        }
        let inputs: Vec<&str> = session.inputs().iter().map(|o| o.name()).collect();
        // A packed graph's prefix inputs have fixed names (docs/model-directory.md).
        let packed = if manifest.padding_side == PaddingSide::Packed { prefix.as_slice() } else { &[] };
        for name in past.iter().chain(packed).chain([&io.input_ids, &io.attention_mask]) {
            if !inputs.contains(&name.as_str()) {
                return Err(Error::ModelLoad(format!(
                    "{}: graph has no input {name:?} named by flinkllm.json",
                    graph.display()
                )));
            }
        }
        Ok(Model {
            dir: dir.to_path_buf(),
            manifest,
            tokens,
            threads,
            load_ms: started.elapsed().as_secs_f64() * 1e3,
            session: Mutex::new(session),
            names: Names { prefix, past, present },
        })
    }

    /// Bytes of the model directory's files (the weights and tokenizer are read whole).
    pub fn file_bytes(&self) -> u64 {
        dir_bytes(&self.dir)
    }

    /// Bytes of a KV cache holding `tokens` positions (float32, every layer's key and value).
    pub fn kv_bytes(&self, tokens: usize) -> u64 {
        let m = &self.manifest;
        (tokens * m.num_layers * 2 * m.num_kv_heads * m.head_dim * std::mem::size_of::<f32>()) as u64
    }

    pub fn context_length(&self) -> usize {
        self.manifest.context_length
    }

    /// An empty cache (past length 0) to start from.
    pub fn empty_kv(&self) -> Result<Kv> {
        // A packed pass's prefix input needs a column: one zero column, masked (len 0).
        let width = usize::from(self.is_packed());
        let mut values = Vec::with_capacity(self.names.past.len());
        for _ in 0..self.names.past.len() {
            values.push(self.cache_tensor(1, width)?);
        }
        Ok(Kv { values, len: 0 })
    }

    /// Runs `ids` after the cached `past` (one row) on a graph that concatenates its present
    /// cache (optimum exports) and returns the last position's logits: `num_logits_to_keep`
    /// = 1 skips projecting the vocabulary for every other position of a long prompt. Any
    /// model: `cache::forward`.
    pub(crate) fn forward_concatenating(&self, ids: &[u32], past: &Kv) -> Result<Step> {
        if ids.is_empty() {
            return Err(Error::Runtime("forward pass with no tokens".into()));
        }
        if self.is_packed() {
            return Err(Error::Runtime("a packed model's forward pass goes through its slot cache (cache::forward)".into()));
        }
        let io = &self.manifest.io;
        let n = ids.len();
        let total = past.len + n;
        let mut inputs: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = Vec::with_capacity(self.names.past.len() + 4);
        let input_ids = Tensor::from_array(([1, n], ids.iter().map(|i| *i as i64).collect::<Vec<_>>()))?;
        inputs.push((io.input_ids.as_str().into(), input_ids.into()));
        inputs.push((io.attention_mask.as_str().into(), Tensor::from_array(([1, total], vec![1i64; total]))?.into()));
        if let Some(name) = &io.position_ids {
            let positions: Vec<i64> = (past.len..total).map(|p| p as i64).collect();
            inputs.push((name.as_str().into(), Tensor::from_array(([1, n], positions))?.into()));
        }
        if let Some(name) = &io.num_logits_to_keep {
            inputs.push((name.as_str().into(), Tensor::from_array((Vec::<i64>::new(), vec![1i64]))?.into()));
        }
        for (name, v) in self.names.past.iter().zip(&past.values) {
            inputs.push((name.as_str().into(), v.into()));
        }
        let (shape, mut logits, present) = self.run(inputs)?;
        let vocab = shape.last().copied().unwrap_or(0) as usize;
        if vocab == 0 || logits.len() % vocab != 0 {
            return Err(Error::Runtime(format!("unexpected logits shape {shape:?}")));
        }
        let logits = logits.split_off(logits.len() - vocab);
        Ok(Step { logits, kv: Kv { values: present, len: total } })
    }

    /// `first`'s columns then `second`'s, as one cache.
    pub(crate) fn concat(&self, first: &Kv, second: &Kv) -> Result<Kv> {
        let m = &self.manifest;
        let (h, d, len) = (m.num_kv_heads, m.head_dim, first.len + second.len);
        let mut values = Vec::with_capacity(first.values.len());
        for (a, b) in first.values.iter().zip(&second.values) {
            let mut joined = self.cache_tensor(1, len.max(1))?;
            let (_, out) = joined.try_extract_tensor_mut::<f32>()?;
            let width = len.max(1);
            for (kv, offset, n) in [(a, 0, first.len), (b, first.len, second.len)] {
                let (shape, data) = kv.try_extract_tensor::<f32>()?;
                let cols = shape[2] as usize;
                for head in 0..h {
                    let s = head * cols * d;
                    let t = (head * width + offset) * d;
                    out[t..t + n * d].copy_from_slice(&data[s..s + n * d]);
                }
            }
            values.push(joined);
        }
        Ok(Kv { values, len })
    }

    /// Whether the graph runs packed passes (tools/prepare-model's graphs), rather than
    /// concatenating a present cache (optimum exports).
    pub fn is_packed(&self) -> bool {
        self.manifest.padding_side == PaddingSide::Packed
    }

    /// A zeroed cache tensor `[rows, kv_heads, capacity, head_dim]`. Zero, because a packed
    /// pass multiplies the columns after a row's length by exact zero weights, and only a
    /// finite value times zero is zero.
    pub fn cache_tensor(&self, rows: usize, capacity: usize) -> Result<DynValue> {
        let m = &self.manifest;
        let mut t = Tensor::<f32>::new(&Allocator::default(), [rows, m.num_kv_heads, capacity, m.head_dim])?;
        t.extract_tensor_mut().1.fill(0.0);
        Ok(t.into_dyn())
    }

    /// One packed pass (docs/model-directory.md, "Packed passes"): `feeds[r]` after the
    /// `lens[r]` columns row `r` has in `cache` (per layer key then value, `[rows,
    /// kv_heads, width, head_dim]`, width at least 1), `None` for a row that sits out.
    /// The cache is only read. A row's floats do not depend on the other rows, on the
    /// width or on what lies past its length (as long as it is finite).
    pub fn pass(&self, prefix: &Kv, cache: &[DynValue], lens: &[usize], feeds: &[Option<&[u32]>]) -> Result<PassOutput> {
        let io = &self.manifest.io;
        let prefix_width = match prefix.values.first().map(|v| v.shape().to_vec()) {
            Some(shape) if shape.len() == 4 && shape[2] as usize >= prefix.len.max(1) => shape[2] as usize,
            _ => return Err(Error::Runtime("packed pass with a prefix cache without columns".into())),
        };
        let width = match cache.first().map(|v| v.shape().to_vec()) {
            Some(shape) if shape.len() == 4 && shape[2] > 0 => shape[2] as usize,
            _ => return Err(Error::Runtime("packed pass over a cache without columns".into())),
        };
        let p = PackedInputs::new(prefix.len, lens, feeds, width);
        if p.tokens() == 0 {
            return Err(Error::Runtime("packed pass with no tokens".into()));
        }
        let (batch, tokens) = (lens.len(), p.tokens());
        let mut inputs: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = Vec::with_capacity(cache.len() + 10);
        let mut index = |name: &'static str, shape: Vec<usize>, values: Vec<i64>| -> Result<()> {
            inputs.push((name.into(), Tensor::from_array((shape, values))?.into()));
            Ok(())
        };
        index("prefix_mask", vec![prefix_width], (0..prefix_width).map(|c| i64::from(c < prefix.len)).collect())?;
        index("token_index", vec![batch], p.token_index)?;
        index("token_mask", vec![batch], p.token_mask)?;
        index("chunk_rows", vec![p.chunk_rows.len()], p.chunk_rows.clone())?;
        index("chunk_index", vec![p.chunk_index.len()], p.chunk_index)?;
        index("chunk_mask", vec![p.chunk_rows.len(), p.chunk_length], p.chunk_mask)?;
        index("output_index", vec![tokens], p.output_index)?;
        let fed = p.logits_index.len();
        index("logits_index", vec![fed], p.logits_index)?;
        inputs.push((io.input_ids.as_str().into(), Tensor::from_array(([1, tokens], p.input_ids))?.into()));
        inputs.push((io.attention_mask.as_str().into(), Tensor::from_array(([batch, width], p.past_mask))?.into()));
        let position_ids = io.position_ids.as_deref().unwrap_or("position_ids");
        inputs.push((position_ids.into(), Tensor::from_array(([1, tokens], p.position_ids))?.into()));
        for (name, v) in self.names.prefix.iter().zip(&prefix.values) {
            inputs.push((name.as_str().into(), v.into()));
        }
        for (name, v) in self.names.past.iter().zip(cache) {
            inputs.push((name.as_str().into(), v.into()));
        }
        let (_, logits, new) = self.run(inputs)?;
        if logits.is_empty() || logits.len() % fed != 0 {
            return Err(Error::Runtime(format!("logits of {} values for {fed} rows", logits.len())));
        }
        Ok(PassOutput { logits, new, spans: p.spans })
    }

    /// One run of the session: the logits output's shape and values, and the outputs the
    /// manifest names `present` (per layer key then value).
    fn run(&self, inputs: Vec<(Cow<'_, str>, SessionInputValue<'_>)>) -> Result<(Vec<i64>, Vec<f32>, Vec<DynValue>)> {
        let name = &self.manifest.io.logits;
        let mut session = self
            .session
            .lock()
            .map_err(|_| Error::Runtime("model session lock poisoned by an earlier panic".into()))?;
        let mut out = session.run(inputs)?;
        let (shape, logits) = {
            let value = out.get(name).ok_or_else(|| Error::Runtime(format!("graph output {name:?} missing")))?;
            let (shape, data) = value.try_extract_tensor::<f32>()?;
            (shape.to_vec(), data.to_vec())
        };
        let mut present = Vec::with_capacity(self.names.present.len());
        for name in &self.names.present {
            present.push(out.remove(name).ok_or_else(|| Error::Runtime(format!("graph output {name:?} missing")))?);
        }
        Ok((shape, logits, present))
    }
}

/// Bytes of the files directly in `dir`.
pub(crate) fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|dir| dir.filter_map(|e| e.ok()?.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

fn graph_file(dir: &Path) -> Result<PathBuf> {
    let graph = dir.join(GRAPH_FILE);
    if graph.is_file() {
        Ok(graph)
    } else {
        Err(Error::ModelLoad(format!("{} is missing", graph.display())))
    }
}
