//! A loaded model directory: manifest, vocabulary and one ONNX Runtime session,
//! with the forward pass in the optimum KV-cache convention.
//!
//! `Session::run` takes `&mut self`, so the session sits behind a `Mutex`; a model is
//! shared by every task and thread of the process through `registry`.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use ort::session::builder::GraphOptimizationLevel;
use ort::memory::{Allocator, MemoryInfo};
use ort::session::{Session, SessionInputValue};
use ort::value::{DynValue, Tensor};

use crate::error::{Error, Result};
use crate::manifest::Manifest;
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

/// Inputs of one decode step (one new token per row) whose cache is updated in place.
pub struct InPlace<'a> {
    pub ids: Vec<i64>,
    /// `rows x width`: 1 = attend, 0 = padding.
    pub mask: Vec<i64>,
    pub positions: Vec<i64>,
    /// Per layer key then value, `[rows, kv_heads, capacity, head_dim]`, allocated by
    /// ONNX Runtime (`Model::cache_tensor`); each row's new key/value is written at its
    /// length.
    pub cache: &'a mut [DynValue],
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
        for i in 0..manifest.num_layers {
            past.push(layer(&io.past_key, i));
            past.push(layer(&io.past_value, i));
            present.push(layer(&io.present_key, i));
            present.push(layer(&io.present_value, i));
        }
        let inputs: Vec<&str> = session.inputs().iter().map(|o| o.name()).collect();
        for name in past.iter().chain([&io.input_ids, &io.attention_mask]) {
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
            names: Names { past, present },
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
        let m = &self.manifest;
        let mut values = Vec::with_capacity(self.names.past.len());
        for _ in 0..self.names.past.len() {
            let t = Tensor::<f32>::from_array(([1usize, m.num_kv_heads, 0, m.head_dim], Vec::<f32>::new()))?;
            values.push(t.into_dyn());
        }
        Ok(Kv { values, len: 0 })
    }

    /// Runs `ids` after the cached `past` (one row) and returns the last position's
    /// logits: `num_logits_to_keep` = 1 skips projecting the vocabulary for every
    /// other position of a long prompt.
    pub fn forward(&self, ids: &[u32], past: &Kv) -> Result<Step> {
        if ids.is_empty() {
            return Err(Error::Runtime("forward pass with no tokens".into()));
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
        let mut session = self
            .session
            .lock()
            .map_err(|_| Error::Runtime("model session lock poisoned by an earlier panic".into()))?;
        let mut out = session.run(inputs)?;
        let logits = {
            let value = out
                .get(&io.logits)
                .ok_or_else(|| Error::Runtime(format!("graph output {:?} missing", io.logits)))?;
            let (shape, data) = value.try_extract_tensor::<f32>()?;
            let vocab = shape.last().copied().unwrap_or(0) as usize;
            if vocab == 0 || data.len() % vocab != 0 {
                return Err(Error::Runtime(format!("unexpected logits shape {shape:?}")));
            }
            data[data.len() - vocab..].to_vec()
        };
        let mut present = Vec::with_capacity(self.names.present.len());
        for name in &self.names.present {
            present.push(
                out.remove(name)
                    .ok_or_else(|| Error::Runtime(format!("graph output {name:?} missing")))?,
            );
        }
        Ok(Step { logits, kv: Kv { values: present, len: total } })
    }

    /// An uninitialised cache tensor `[rows, kv_heads, capacity, head_dim]` that
    /// ONNX Runtime owns, so that it can be bound as a graph output (`step_in_place`).
    pub fn cache_tensor(&self, rows: usize, capacity: usize) -> Result<DynValue> {
        let m = &self.manifest;
        Ok(Tensor::<f32>::new(&Allocator::default(), [rows, m.num_kv_heads, capacity, m.head_dim])?.into_dyn())
    }

    /// One decode step with the cache tensors bound as both the `past` inputs and the
    /// `present` outputs: GroupQueryAttention then writes each row's new key/value into
    /// the same buffer (its shared-buffer mode) instead of copying every row's whole
    /// cache into a new tensor, which at 16 rows is most of a step's memory traffic.
    /// Returns `rows x vocab` logits.
    pub fn step_in_place(&self, step: InPlace<'_>) -> Result<Vec<f32>> {
        let io = &self.manifest.io;
        let b = step.ids.len();
        if b == 0 || step.mask.len() % b != 0 {
            return Err(Error::Runtime("in-place step with no rows".into()));
        }
        let position_ids = io
            .position_ids
            .as_ref()
            .ok_or_else(|| Error::Runtime("batched steps need a graph with position_ids".into()))?;
        let mut session = self
            .session
            .lock()
            .map_err(|_| Error::Runtime("model session lock poisoned by an earlier panic".into()))?;
        let mut binding = session.create_binding()?;
        binding.bind_input(io.input_ids.as_str(), &Tensor::from_array(([b, 1], step.ids))?)?;
        binding.bind_input(io.attention_mask.as_str(), &Tensor::from_array(([b, step.mask.len() / b], step.mask))?)?;
        binding.bind_input(position_ids.as_str(), &Tensor::from_array(([b, 1], step.positions))?)?;
        if let Some(name) = &io.num_logits_to_keep {
            binding.bind_input(name.as_str(), &Tensor::from_array((Vec::<i64>::new(), vec![1i64]))?)?;
        }
        for (name, value) in self.names.past.iter().zip(step.cache.iter()) {
            binding.bind_input(name.as_str(), value)?;
        }
        for (name, value) in self.names.present.iter().zip(step.cache.iter_mut()) {
            binding.bind_output(name.as_str(), value)?;
        }
        binding.bind_output_to_device(io.logits.as_str(), &MemoryInfo::default())?;
        let out = session.run_binding(&binding)?;
        let value = out
            .get(&io.logits)
            .ok_or_else(|| Error::Runtime(format!("graph output {:?} missing", io.logits)))?;
        let (_, data) = value.try_extract_tensor::<f32>()?;
        if data.is_empty() || data.len() % b != 0 {
            return Err(Error::Runtime(format!("logits of {} values for {b} rows", data.len())));
        }
        Ok(data.to_vec())
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
