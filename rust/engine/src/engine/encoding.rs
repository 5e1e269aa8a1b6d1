//! An open encoder task: `task` = `embedding` returns a row's vector, `task` =
//! `classification` the label whose examples the vector is nearest to. The encoder comes from
//! the model registry (one copy per process); rows in flight share passes (`encoder::passes`).

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value};

use super::runner::{Mode, Runner};
use super::stats::OpenStats;
use crate::batch::BatchConfig;
use crate::encoder::classify::Classifier;
use crate::encoder::passes::SharedPasses;
use crate::encoder::Encoder;
use crate::error::{Error, Result};
use crate::generate::RowStats;
use crate::registry;
use crate::overflow::ContextOverflow;
use crate::task::{kind, TaskKind, TaskOptions, TaskSpec};

/// An open encoder task: the shared encoder, the task's settings and, for classification,
/// the embedded examples.
struct EncoderTask {
    encoder: Arc<Encoder>,
    kind: TaskKind,
    max_length: usize,
    normalize: bool,
    classifier: Option<Classifier>,
    passes: SharedPasses,
    /// Rows per shared pass (`TaskOptions::batch`).
    pub batch: crate::BatchConfig,
    pub stats: OpenStats,
}

impl EncoderTask {
    pub fn open(spec: &TaskSpec, opts: &TaskOptions) -> Result<EncoderTask> {
        let started = Instant::now();
        spec.check_model()?;
        let loads_before = registry::model_loads();
        let encoder = registry::encoder(&spec.model_dir, spec.settings.threads, opts.ort_library.as_deref())?;
        let model_load_ms = if registry::model_loads() > loads_before { encoder.load_ms } else { 0.0 };
        let m = &encoder.manifest;
        let max_length = spec.encoder.max_length.unwrap_or(m.max_length);
        if max_length > m.max_position_embeddings {
            return Err(Error::InvalidTask(format!(
                "{}: max_length {max_length} is more than {} has positions for ({})",
                spec.origin, m.name, m.max_position_embeddings
            )));
        }
        let mut task = EncoderTask {
            encoder: encoder.clone(),
            kind: spec.kind.clone(),
            max_length,
            normalize: spec.encoder.normalize,
            classifier: None,
            passes: SharedPasses::new(opts.batch.max_batch),
            batch: opts.batch,
            stats: OpenStats {
                open_ms: 0.0,
                model_load_ms,
                index_build_ms: 0.0,
                index_bytes: 0,
                prefix_tokens: 0,
                prefix_ms: 0.0,
            },
        };
        if let TaskKind::Classification { labels, .. } = &spec.kind {
            let t = Instant::now();
            let label_of = kind::example_labels(&spec.kind, &spec.examples).map_err(|e| Error::InvalidTask(format!("{}: {e}", spec.origin)))?;
            let vectors = task.embed_examples(&spec.examples.iter().map(|e| e.input.as_str()).collect::<Vec<_>>())?;
            task.classifier = Some(Classifier::new(labels.clone(), label_of.into_iter().zip(vectors).collect(), spec.encoder.nearest));
            // Embedding the examples is this task's one-time prompt work.
            task.stats.prefix_ms = t.elapsed().as_secs_f64() * 1e3;
        }
        task.stats.open_ms = started.elapsed().as_secs_f64() * 1e3;
        Ok(task)
    }

    /// Vectors of token rows in passes of up to `max_batch` rows, grouped by length so
    /// that little of each pass is padding; results in input order.
    fn embed_grouped(&self, ids: &[&[u32]], normalize: bool) -> Result<Vec<Vec<f32>>> {
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| ids[i].len());
        let mut out = vec![Vec::new(); ids.len()];
        for chunk in order.chunks(self.batch.max_batch.max(1)) {
            let rows: Vec<&[u32]> = chunk.iter().map(|&i| ids[i]).collect();
            for (&i, v) in chunk.iter().zip(self.encoder.embed(&rows, normalize)?) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    fn embed_examples(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        // Examples are the task's own text: cut, never refused, when too long.
        let ids = texts
            .iter()
            .map(|t| self.encoder.tokenize(t, self.max_length, ContextOverflow::TruncateTail))
            .collect::<Result<Vec<_>>>()?;
        self.embed_grouped(&ids.iter().map(Vec::as_slice).collect::<Vec<_>>(), true)
    }

    /// Many rows in length-grouped passes (`flinkllm embed`, `Task::run_batch`); one row's
    /// error (too long under `error`) never affects another.
    pub fn run_many(&self, spec: &TaskSpec, inputs: &[&str]) -> Vec<Result<Value>> {
        let ids: Vec<Result<Vec<u32>>> =
            inputs.iter().map(|t| self.encoder.tokenize(&spec.templated(t), self.max_length, spec.settings.context_overflow)).collect();
        let ok: Vec<&[u32]> = ids.iter().filter_map(|r| r.as_ref().ok().map(Vec::as_slice)).collect();
        let mut vectors = match self.embed_grouped(&ok, self.normalize || self.classifier.is_some()) {
            Ok(v) => v.into_iter(),
            Err(e) => return inputs.iter().map(|_| Err(e.clone())).collect(),
        };
        ids.into_iter()
            .map(|r| r.and_then(|_| self.answer(&vectors.next().unwrap_or_default())))
            .collect()
    }

    /// The task's JSON object for a row's vector.
    fn answer(&self, vector: &[f32]) -> Result<Value> {
        let mut out = Map::new();
        match (&self.kind, &self.classifier) {
            (TaskKind::Embedding { field }, _) => {
                out.insert(field.clone(), vector.iter().map(|&x| Value::from(x as f64)).collect());
            }
            (TaskKind::Classification { label, score, .. }, Some(classifier)) => {
                let (name, similarity) = classifier.classify(vector);
                out.insert(label.clone(), Value::from(name));
                if let Some(score) = score {
                    out.insert(score.clone(), Value::from(similarity));
                }
            }
            _ => return Err(Error::Runtime("encoder task without its classifier".into())),
        }
        Ok(Value::Object(out))
    }

    /// One row: its vector (embedding) or label and score (classification), as the
    /// task's JSON object.
    pub fn run(&self, spec: &TaskSpec, input: &str) -> Result<(Value, RowStats)> {
        let started = Instant::now();
        let ids = self.encoder.tokenize(&spec.templated(input), self.max_length, spec.settings.context_overflow)?;
        let tokens = ids.len();
        let normalize = self.normalize || self.classifier.is_some();
        let row = self.passes.embed(&self.encoder, ids, normalize)?;
        let answer = self.answer(&row.vector)?;
        let stats = RowStats {
            prompt_tokens: tokens,
            decode_steps: 1,
            forward_time: row.pass_time,
            prefill_time: row.pass_time,
            queue_time: row.queue_time,
            batch_rows: row.pass_rows,
            total_time: started.elapsed(),
            ..RowStats::default()
        };
        Ok((answer, stats))
    }

    /// Native memory: the model directory's files and the example vectors.
    pub fn native_memory_bytes(&self) -> u64 {
        let examples = self.classifier.as_ref().map_or(0, |c| c.bytes());
        self.encoder.file_bytes() + examples as u64
    }
}

/// An encoder task with its spec: what `Task` runs for `embedding` and `classification`.
pub(super) struct Encoding {
    spec: TaskSpec,
    task: EncoderTask,
}

impl Encoding {
    pub(super) fn open(spec: TaskSpec, opts: &TaskOptions) -> Result<Encoding> {
        let task = EncoderTask::open(&spec, opts)?;
        Ok(Encoding { spec, task })
    }
}

impl Runner for Encoding {
    fn spec(&self) -> &TaskSpec {
        &self.spec
    }

    fn open_stats(&self) -> OpenStats {
        self.task.stats
    }

    fn model_name(&self) -> (&str, &str) {
        (&self.task.encoder.manifest.name, &self.task.encoder.manifest.precision)
    }

    fn model_file_bytes(&self) -> u64 {
        self.task.encoder.file_bytes()
    }

    fn native_memory_bytes(&self) -> u64 {
        self.task.native_memory_bytes()
    }

    fn batching(&self) -> BatchConfig {
        self.task.batch
    }

    /// One pass per row: a deadline is not checked inside it.
    fn run(&self, input: &str, _deadline: Option<Instant>, _mode: Mode) -> Result<(Value, RowStats)> {
        self.task.run(&self.spec, input)
    }

    fn run_many(&self, inputs: &[&str]) -> Option<Vec<Result<Value>>> {
        Some(self.task.run_many(&self.spec, inputs))
    }
}
