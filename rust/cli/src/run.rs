//! `flinkllm run`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use flinkllm_engine::Task;
use serde_json::Value;

use crate::input::{line_for, output, peak_rss_mb, read_rows};
use crate::{CliError, RowFlags};

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    rows_from: RowFlags,
    /// Output JSONL file (default: stdout).
    #[arg(long)]
    output: Option<PathBuf>,
}

pub fn run(a: RunArgs) -> Result<(), CliError> {
    let rows = read_rows(&a.rows_from.input, &a.rows_from.field)?;
    let started = Instant::now();
    let task = Task::load(&a.rows_from.task.task, &a.rows_from.task.options()?)?;
    let open_ms = started.elapsed().as_secs_f64() * 1e3;
    let mut out = output(a.output.as_deref())?;
    let run_started = Instant::now();
    let (mut ok, mut failed, mut gen_tokens) = (0usize, 0usize, 0usize);
    for row in &rows {
        let mut line = line_for(row);
        match &row.text {
            Ok(None) => {
                line.insert("output".into(), Value::Null);
                ok += 1;
            }
            Ok(Some(text)) => match task.run_with_stats(text) {
                Ok((v, stats)) => {
                    gen_tokens += stats.generated_tokens;
                    line.insert("output".into(), v);
                    if !stats.confidence.is_empty() {
                        line.insert("confidence".into(), Value::Object(stats.confidence.into_iter().map(|(k, p)| (k, p.into())).collect()));
                    }
                    ok += 1;
                }
                Err(e) => {
                    line.insert("error".into(), Value::String(e.describe()));
                    failed += 1;
                }
            },
            Err(reason) => {
                line.insert("error".into(), Value::String(reason.clone()));
                failed += 1;
            }
        }
        writeln!(out, "{}", Value::Object(line))?;
    }
    out.flush()?;
    let secs = run_started.elapsed().as_secs_f64().max(1e-9);
    eprintln!(
        "flinkllm run: rows={} ok={ok} errors={failed} repaired={} rows_per_s={:.2} gen_tokens_per_s={:.1} open_ms={open_ms:.0} peak_rss_mb={:.0}",
        rows.len(),
        rows.iter().filter(|r| r.repaired).count(),
        rows.len() as f64 / secs,
        gen_tokens as f64 / secs,
        peak_rss_mb()
    );
    Ok(())
}
