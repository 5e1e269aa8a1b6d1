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

/// Inputs of one (possibly batched) forward pass, row-major.
pub struct Rows<'a> {
    pub rows: usize,
    /// New tokens per row (the same for every row).
    pub new: usize,
    pub ids: Vec<i64>,
    /// `rows x (past + new)`: 1 = attend, 0 = padding (see `PaddingSide` for where).
    pub mask: Vec<i64>,
    pub positions: Vec<i64>,
    /// Per layer key then value, `[rows, kv_heads, past, head_dim]`.
    pub past: &'a [DynValue],
}

/// What a batched forward pass returns: `rows x vocab` logits, the new cache.
pub struct Output {
    pub logits: Vec<f32>,
    pub present: Vec<DynValue>,
}

/// What one forward pass returns: logits of the last position, and the new cache.
pub struct Step {
    pub logits: Vec<f32>,
    pub kv: Kv,
}

impl Model {
    pub fn load(dir: &Path, threads: usize, ort_library: Option<&Path>) -> Result<Model> {
        let started = Instant::now();
        let manifest = Manifest::load(dir)?;
        let env = crate::runtime::environment(ort_library)?;
        let graph = dir.join("model.onnx");
        if !graph.is_file() {
            return Err(Error::ModelLoad(format!("{} is missing", graph.display())));
        }
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

    /// Runs `ids` after the cached `past` and returns the last position's logits.
    pub fn forward(&self, ids: &[u32], past: &Kv) -> Result<Step> {
        if ids.is_empty() {
            return Err(Error::Runtime("forward pass with no tokens".into()));
        }
        let n = ids.len();
        let total = past.len + n;
        let out = self.run(Rows {
            rows: 1,
            new: n,
            ids: ids.iter().map(|i| *i as i64).collect(),
            mask: vec![1i64; total],
            positions: (past.len..total).map(|p| p as i64).collect(),
            past: &past.values,
        })?;
        let logits = out.logits;
        Ok(Step { logits, kv: Kv { values: out.present, len: total } })
    }

    /// One forward pass over `rows` rows of `new` tokens each after a shared-length
    /// past (padding marked by zeros in `mask`). Returns every row's logits for its
    /// last position only: callers never pad inside a row's new tokens, so that is its last real
    /// token, and `num_logits_to_keep` = 1 (one N for all rows) skips projecting the
    /// vocabulary for every other position.
    pub fn run(&self, input: Rows<'_>) -> Result<Output> {
        let io = &self.manifest.io;
        let (b, n) = (input.rows, input.new);
        if b == 0 || n == 0 {
            return Err(Error::Runtime("forward pass with no tokens".into()));
        }
        let total = input.mask.len() / b;
        let padded = input.mask.contains(&0);
        let input_ids = Tensor::from_array(([b, n], input.ids))?;
        let mask = Tensor::from_array(([b, total], input.mask))?;
        let mut inputs: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = Vec::with_capacity(self.names.past.len() + 4);
        inputs.push((io.input_ids.as_str().into(), input_ids.into()));
        inputs.push((io.attention_mask.as_str().into(), mask.into()));
        if let Some(name) = &io.position_ids {
            inputs.push((name.as_str().into(), Tensor::from_array(([b, n], input.positions))?.into()));
        } else if padded {
            // Without position ids the graph derives positions from the mask's column
            // index, which padding would shift.
            return Err(Error::Runtime("this graph has no position_ids input, so rows cannot be padded".into()));
        }
        if let Some(name) = &io.num_logits_to_keep {
            inputs.push((name.as_str().into(), Tensor::from_array((Vec::<i64>::new(), vec![1i64]))?.into()));
        }
        for (name, v) in self.names.past.iter().zip(input.past) {
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
            if vocab == 0 || data.len() % (b * vocab) != 0 || data.is_empty() {
                return Err(Error::Runtime(format!("unexpected logits shape {shape:?}")));
            }
            // [b, kept, vocab]: keep each row's last position.
            let per_row = data.len() / b;
            let mut last = Vec::with_capacity(b * vocab);
            for r in 0..b {
                last.extend_from_slice(&data[(r + 1) * per_row - vocab..(r + 1) * per_row]);
            }
            last
        };
        let mut present = Vec::with_capacity(self.names.present.len());
        for name in &self.names.present {
            present.push(
                out.remove(name)
                    .ok_or_else(|| Error::Runtime(format!("graph output {name:?} missing")))?,
            );
        }
        Ok(Output { logits, present })
    }
}
