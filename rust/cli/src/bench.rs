//! `flinkllm bench`: one JSON line of throughput, latency and memory figures.

use std::time::{Duration, Instant};

use clap::Args;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use flinkllm_engine::{BatchConfig, RowStats, Task, TaskOptions};
use serde_json::json;

use crate::figures::{percentile, round};
use crate::input::{peak_rss_mb, read_rows};
use crate::{CliError, RowFlags};

#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    rows_from: RowFlags,
    /// Rows to run (cycling over the input); default: every input line once.
    #[arg(long)]
    rows: Option<usize>,
    /// Rows run before timing starts (not counted).
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Rows in flight at once, from as many threads, sharing forward passes through the
    /// task's batching worker (max batch = this); 1 runs rows alone, one after another.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
}

pub fn bench(a: BenchArgs) -> Result<(), CliError> {
    let texts: Vec<String> = read_rows(&a.rows_from.input, &a.rows_from.field)?
        .into_iter()
        .filter_map(|r| r.text.ok().flatten())
        .collect();
    if texts.is_empty() {
        return Err(CliError(format!("{}: no usable rows", a.rows_from.input.display())));
    }
    let n = a.rows.unwrap_or(texts.len()).max(1);
    let concurrency = a.concurrency.max(1);
    let started = Instant::now();
    let options = TaskOptions { batch: BatchConfig::batched(concurrency), ..a.rows_from.task.options()? };
    let task = Task::load(&a.rows_from.task.task, &options)?;
    let open_ms = started.elapsed().as_secs_f64() * 1e3;
    let open = task.open_stats();
    for t in texts.iter().cycle().take(a.warmup) {
        let _ = task.run(t);
    }

    let next = AtomicUsize::new(0);
    // Per row: start and end (seconds since the run started), result.
    let results: Mutex<Vec<(f64, f64, Option<RowStats>)>> = Mutex::new(Vec::with_capacity(n));
    let run_started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..concurrency {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let t = &texts[i % texts.len()];
                let start = run_started.elapsed().as_secs_f64();
                let r = if concurrency == 1 { task.run_single_stream(t) } else { task.run_with_stats(t) };
                let end = run_started.elapsed().as_secs_f64();
                if let Ok(mut all) = results.lock() {
                    all.push((start, end, r.ok().map(|(_, s)| s)));
                }
            });
        }
    });
    let results = results.into_inner().map_err(|_| CliError("a bench thread panicked".into()))?;
    let steady = steady_rows_per_s(&results);
    let mut latencies = Vec::with_capacity(n);
    let (mut ok, mut errors) = (0usize, 0usize);
    let mut total = RowStats::default();
    for (start, end, stats) in results {
        latencies.push((end - start) * 1e3);
        match stats {
            Some(s) => {
                ok += 1;
                total.add(&s);
            }
            None => errors += 1,
        }
    }
    let secs = run_started.elapsed().as_secs_f64().max(1e-9);
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| percentile(&latencies, p);
    let per_row = |x: usize| x as f64 / ok.max(1) as f64;
    let step_time = (total.forward_time + total.constraint_time).as_secs_f64().max(1e-9);
    let ms_per_row = |d: Duration| round(d.as_secs_f64() * 1e3 / ok.max(1) as f64, 1);
    let line = json!({
        "task": task.spec().name,
        "model": task.model_name().0,
        "precision": task.model_name().1,
        "threads": task.settings().threads,
        "concurrency": concurrency,
        "mean_batch_rows": round(total.batch_rows as f64 / total.decode_steps.max(1) as f64, 2),
        "queue_ms_per_row": ms_per_row(total.queue_time),
        "rows": n,
        "ok": ok,
        "errors": errors,
        "rows_per_s": round(n as f64 / secs, 3),
        "steady_rows_per_s": round(steady.unwrap_or(n as f64 / secs), 3),
        "gen_tokens_per_s": round(total.generated_tokens as f64 / secs, 1),
        "gen_tokens_per_row": round(per_row(total.generated_tokens), 1),
        "decode_steps_per_row": round(per_row(total.decode_steps), 1),
        "forced_tokens_per_row": round(per_row(total.forced_tokens), 1),
        "prompt_tokens_per_row": round(per_row(total.prompt_tokens), 1),
        "prefix_tokens": open.prefix_tokens,
        "p50_ms": round(pct(0.5), 1),
        "p99_ms": round(pct(0.99), 1),
        "open_ms": round(open_ms, 1),
        "model_load_ms": round(open.model_load_ms, 1),
        "index_build_ms": round(open.index_build_ms, 1),
        "index_bytes": open.index_bytes,
        "prefix_ms": round(open.prefix_ms, 1),
        "constraint_share": round(total.constraint_time.as_secs_f64() / step_time, 4),
        "constraint_us_per_step": round(total.constraint_time.as_secs_f64() * 1e6 / total.decode_steps.max(1) as f64, 1),
        "forward_ms_per_step": round(total.forward_time.as_secs_f64() * 1e3 / total.decode_steps.max(1) as f64, 2),
        // Where a row's time goes; each pass counts as the row's share of it (by tokens
        // fed), so these add up to machine time per row (compare 1000 / rows_per_s).
        "time_per_row_ms": {
            "prefill": ms_per_row(total.prefill_time),
            "chunk_passes": round(per_row(total.chunk_passes), 1),
            "chunk": ms_per_row(total.chunk_time),
            "token_passes": round(per_row(total.token_passes), 1),
            "token_share": ms_per_row(total.token_time_share),
            "constraint": ms_per_row(total.constraint_time),
            "wall": round(secs * 1e3 / n.max(1) as f64, 1),
        },
        "peak_rss_mb": round(peak_rss_mb(), 1),
    });
    println!("{line}");
    Ok(())
}

/// Rows per second while the pipeline is full: rows finished between the first row
/// finishing and the last row starting, over that time. Leaves out the ramp-up (every
/// first row's prompt pass) and the drain (the last rows finishing in ever smaller
/// batches), which a finite run has and a long-running stream does not. `None` when
/// the run is too short to have such a window.
fn steady_rows_per_s(rows: &[(f64, f64, Option<RowStats>)]) -> Option<f64> {
    let first_end = rows.iter().map(|r| r.1).fold(f64::INFINITY, f64::min);
    let last_start = rows.iter().map(|r| r.0).fold(0.0, f64::max);
    let window = last_start - first_end;
    let done = rows.iter().filter(|r| r.1 > first_end && r.1 <= last_start).count();
    (window > 0.0 && done > 0).then(|| done as f64 / window)
}
