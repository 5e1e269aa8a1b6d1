//! `flinkllm embed`: sentence embeddings of a JSONL file with an encoder model, rows in
//! passes of `--batch`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use flinkllm_engine::{BatchConfig, Task, TaskOptions, TaskSource};
use serde_json::{json, Value};

use crate::input::{line_for, output, peak_rss_mb, read_rows};
use crate::{ort_lib, CliError};

#[derive(Args)]
pub struct EmbedArgs {
    /// Encoder model: a name under the models directory or a directory.
    #[arg(long, default_value = "all-minilm-l6-v2-int8")]
    model: String,
    /// Input JSONL file.
    #[arg(long)]
    input: PathBuf,
    /// Field of each input line that holds the text.
    #[arg(long, default_value = "message")]
    field: String,
    /// Output JSONL file (default: stdout): `event_id` and `embedding`, or `error`.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Rows per forward pass.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Tokens per row (default: the model's).
    #[arg(long)]
    max_length: Option<usize>,
    /// Leave vectors unnormalised (mean pooling only).
    #[arg(long)]
    no_normalize: bool,
    /// Intra-op threads.
    #[arg(long)]
    threads: Option<usize>,
    /// libonnxruntime.so to load (else $ORT_DYLIB_PATH, else the tools' virtualenv).
    #[arg(long)]
    ort_lib: Option<PathBuf>,
}

pub fn embed(a: EmbedArgs) -> Result<(), CliError> {
    let rows = read_rows(&a.input, &a.field)?;
    let mut doc = json!({"task": "embedding", "model": a.model, "normalize": !a.no_normalize});
    if let Some(n) = a.max_length {
        doc["max_length"] = json!(n);
    }
    let source = TaskSource::Inline {
        label: "flinkllm embed".into(),
        base: std::env::current_dir()?,
        json: doc.to_string(),
    };
    let options = TaskOptions {
        threads: a.threads,
        ort_library: ort_lib::ort_library(a.ort_lib.as_deref()),
        batch: BatchConfig::batched(a.batch.max(1)),
        ..TaskOptions::default()
    };
    let task = Task::load_source(source, &options)?;
    let texts: Vec<&str> = rows.iter().filter_map(|r| r.text.as_ref().ok().and_then(|t| t.as_deref())).collect();
    let started = Instant::now();
    let mut results = task.run_batch(&texts).into_iter();
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    let mut out = output(a.output.as_deref())?;
    let mut failed = 0;
    for row in &rows {
        let mut line = line_for(row);
        match &row.text {
            Ok(None) => {
                line.insert("embedding".into(), Value::Null);
            }
            Ok(Some(_)) => match results.next() {
                Some(Ok(mut v)) => {
                    line.insert("embedding".into(), v["embedding"].take());
                }
                Some(Err(e)) => {
                    line.insert("error".into(), json!(e.describe()));
                    failed += 1;
                }
                None => return Err(CliError("fewer results than rows".into())),
            },
            Err(reason) => {
                line.insert("error".into(), json!(reason));
                failed += 1;
            }
        }
        writeln!(out, "{}", Value::Object(line))?;
    }
    out.flush()?;
    eprintln!(
        "flinkllm embed: rows={} errors={failed} rows_per_s={:.1} batch={} peak_rss_mb={:.0}",
        texts.len(),
        texts.len() as f64 / secs,
        a.batch,
        peak_rss_mb()
    );
    Ok(())
}
