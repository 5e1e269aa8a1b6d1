//! `flinkllm eval`: accuracy on labelled rows (each with an `expected` object), for every
//! combination of task variant and model, beside speed and memory: the loop for choosing a
//! model and a prompt by measurement.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use flinkllm_engine::confidence;
use flinkllm_engine::{BatchConfig, RowStats, Task, TaskOptions};
use serde_json::{json, Map, Value};

use crate::calibration::{self, Prediction};
use crate::figures::{percentile, round};
use crate::input::peak_rss_mb;
use crate::score::Scorer;
use crate::{CliError, RowFlags};

#[derive(Args)]
pub struct EvalArgs {
    /// The task (--task), and labelled JSONL (--input) whose lines hold the text field and an
    /// `expected` object.
    #[command(flatten)]
    rows_from: RowFlags,
    /// Models to compare (names or directories, comma-separated); default: the task's own.
    #[arg(long, value_delimiter = ',')]
    models: Vec<String>,
    /// Task variants to compare (task files, comma-separated); default: --task alone.
    #[arg(long, value_delimiter = ',')]
    tasks: Vec<PathBuf>,
    /// Only the first N labelled rows.
    #[arg(long)]
    rows: Option<usize>,
    /// Rows in flight at once, sharing forward passes (results do not change).
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// One JSON line per run instead of the table.
    #[arg(long)]
    json: bool,
    /// Also write every row's answer beside its expected one (JSONL: task, model, text,
    /// expected, answer or error) to this file, to see which rows a prompt gets wrong.
    #[arg(long)]
    answers: Option<PathBuf>,
}

pub(crate) struct Labelled {
    pub text: String,
    pub expected: Map<String, Value>,
}

pub fn eval(a: EvalArgs) -> Result<(), CliError> {
    let rows = read_labelled(&a.rows_from.input, &a.rows_from.field, a.rows)?;
    let tasks = if a.tasks.is_empty() { vec![a.rows_from.task.task.clone()] } else { a.tasks.clone() };
    let models: Vec<Option<String>> = if a.models.is_empty() { vec![None] } else { a.models.iter().cloned().map(Some).collect() };
    let mut lines = Vec::new();
    let mut answers = match &a.answers {
        Some(path) => Some(std::fs::File::create(path).map_err(|e| CliError(format!("{}: {e}", path.display())))?),
        None => None,
    };
    for task in &tasks {
        for model in &models {
            let line = run_one(&a, task, model.clone(), &rows, answers.as_mut())?;
            if a.json {
                println!("{line}");
            }
            lines.push(line);
        }
    }
    if !a.json {
        print_table(&lines);
    }
    Ok(())
}

/// Labelled rows of `input`: each line's `field` text and its `expected` object.
pub(crate) fn read_labelled(input: &std::path::Path, field: &str, rows: Option<usize>) -> Result<Vec<Labelled>, CliError> {
    let text = std::fs::read_to_string(input).map_err(|e| CliError(format!("{}: {e}", input.display())))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let bad = |what: &str| CliError(format!("{}:{}: {what}", input.display(), i + 1));
        let v: Value = serde_json::from_str(line).map_err(|e| bad(&format!("not JSON: {e}")))?;
        let text = v.get(field).and_then(Value::as_str).ok_or_else(|| bad(&format!("no string field {field:?}")))?;
        let expected = v.get("expected").and_then(Value::as_object).ok_or_else(|| bad("no `expected` object"))?;
        out.push(Labelled { text: text.to_string(), expected: expected.clone() });
    }
    out.truncate(rows.unwrap_or(usize::MAX));
    if out.is_empty() {
        return Err(CliError(format!("{}: no labelled rows", input.display())));
    }
    Ok(out)
}

/// Runs every row, `concurrency` of them in flight (sharing passes): each row's result and
/// its latency in ms, in row order.
pub(crate) fn answer_rows(task: &Task, rows: &[Labelled], concurrency: usize) -> Vec<(flinkllm_engine::Result<(Value, RowStats)>, f64)> {
    let inputs: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
    let timed = |input: &str| {
        let t = Instant::now();
        (task.run_with_stats(input), t.elapsed().as_secs_f64() * 1e3)
    };
    if concurrency <= 1 {
        return inputs.iter().map(|i| timed(i)).collect();
    }
    std::thread::scope(|s| {
        let chunks: Vec<_> = inputs.chunks(inputs.len().div_ceil(concurrency)).collect();
        let handles: Vec<_> = chunks.iter().map(|c| s.spawn(|| c.iter().map(|i| timed(i)).collect::<Vec<_>>())).collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    })
}

/// Each label field's predictions over the rows labelled with it, with the probability
/// `p(stats, field)` gives (rows that failed are left out: they have no confidence), fields in
/// the schema's order.
pub(crate) fn label_predictions(
    task: &Task,
    rows: &[Labelled],
    results: &[(flinkllm_engine::Result<(Value, RowStats)>, f64)],
    p_of: impl Fn(&RowStats, &str) -> Option<f64>,
) -> Vec<(String, Vec<Prediction>)> {
    let mut out: Vec<(String, Vec<Prediction>)> = Vec::new();
    for (path, values) in confidence::label_values(&task.spec().ir) {
        let positive = (values.len() == 2).then(|| values[1].clone());
        let mut preds = Vec::new();
        for (row, (result, _)) in rows.iter().zip(results) {
            let (Some(want), Ok((answer, stats))) = (row.expected.get(&path), result) else { continue };
            let Some(p) = p_of(stats, &path) else { continue };
            let got = answer.get(&path);
            let correct = got == Some(want);
            preds.push(Prediction {
                p,
                correct,
                positive: positive.as_ref().map(|pos| (got == Some(pos), want == pos)),
            });
        }
        if !preds.is_empty() {
            out.push((path, preds));
        }
    }
    out
}

fn run_one(
    a: &EvalArgs,
    task_file: &PathBuf,
    model: Option<String>,
    rows: &[Labelled],
    mut answers: Option<&mut std::fs::File>,
) -> Result<Value, CliError> {
    let concurrency = a.concurrency.max(1);
    let options = TaskOptions { model: model.or_else(|| a.rows_from.task.model.clone()), batch: BatchConfig::batched(concurrency), ..a.rows_from.task.options()? };
    let opened = Instant::now();
    let task = Task::load(task_file, &options)?;
    let open_ms = opened.elapsed().as_secs_f64() * 1e3;
    let started = Instant::now();
    let results = answer_rows(&task, rows, concurrency);
    let secs = started.elapsed().as_secs_f64().max(1e-9);

    let mut scorer = Scorer::default();
    let (mut errors, mut tokens) = (Map::new(), 0usize);
    let mut latencies = Vec::with_capacity(rows.len());
    let model_name = task.spec().model_dir.file_name().map(|n| n.to_string_lossy().to_string());
    // Labels of fields the task does not answer (a classifier of one column over rows
    // labelled with several) are not scored.
    let answered: Vec<&String> = task.schema().get("properties").and_then(Value::as_object).map(|p| p.keys().collect()).unwrap_or_default();
    for (row, (result, ms)) in rows.iter().zip(&results) {
        latencies.push(*ms);
        let expected: Map<String, Value> =
            row.expected.iter().filter(|(k, _)| answered.is_empty() || answered.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
        if let Some(out) = answers.as_deref_mut() {
            let mut line = json!({"task": task_file.display().to_string(), "model": model_name, "text": row.text, "expected": row.expected});
            match result {
                Ok((value, _)) => line["answer"] = value.clone(),
                Err(e) => line["error"] = json!(e.describe()),
            }
            writeln!(out, "{line}").map_err(|e| CliError(format!("writing answers: {e}")))?;
        }
        match result {
            Ok((value, stats)) => {
                tokens += stats.generated_tokens;
                scorer.add(&expected, Some(value));
            }
            Err(e) => {
                scorer.add(&expected, None);
                let n = errors.entry(e.kind().name()).or_insert(json!(0));
                *n = json!(n.as_u64().unwrap_or(0) + 1);
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    let reported = |stats: &RowStats, field: &str| stats.confidence.iter().find(|(f, _)| f == field).map(|(_, p)| *p);
    let confidence: Map<String, Value> =
        label_predictions(&task, rows, &results, reported).iter().map(|(f, p)| (f.clone(), calibration::report(p))).collect();
    let ok = rows.len() - errors.values().filter_map(Value::as_u64).sum::<u64>() as usize;
    let (_, precision) = task.model_name();
    Ok(json!({
        "task": task_file.display().to_string(),
        "model": model_name,
        "precision": precision,
        "rows": rows.len(),
        // The engine validates every answer against the schema before returning it.
        "schema_valid": ok,
        "errors": errors,
        "scores": scorer.report(),
        // Label fields of a task that reports confidence: how well it says how often it is right.
        "confidence": confidence,
        "rows_per_s": round(rows.len() as f64 / secs, 3),
        "p50_ms": round(percentile(&latencies, 0.5), 1),
        "p99_ms": round(percentile(&latencies, 0.99), 1),
        "gen_tokens_per_row": round(tokens as f64 / ok.max(1) as f64, 1),
        "open_ms": round(open_ms, 1),
        "model_mb": round(task.model_file_bytes() as f64 / (1 << 20) as f64, 1),
        // The process's peak so far: with several models, run one per process to compare memory.
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }))
}

/// One line per run: identity, speed and memory, then each field's score.
fn print_table(lines: &[Value]) {
    println!(
        "{:<28} {:<36} {:>5} {:>6} {:>6} {:>7} {:>8} {:>8} {:>7} {:>7} {:>8}  scores",
        "task", "model", "rows", "valid", "errors", "rows/s", "p50 ms", "p99 ms", "tok/row", "size MB", "RSS MB"
    );
    for l in lines {
        let task = l["task"].as_str().unwrap_or("").rsplit('/').next().unwrap_or("");
        let errors: u64 = l["errors"].as_object().map_or(0, |e| e.values().filter_map(Value::as_u64).sum());
        let scores: Vec<String> = l["scores"]
            .as_object()
            .map(|s| {
                s.iter()
                    .map(|(field, sc)| match sc.get("f1") {
                        Some(f1) => format!(
                            "{field} F1 {:.2} (P {:.2} R {:.2} exact {:.2})",
                            f1.as_f64().unwrap_or(0.0),
                            sc["precision"].as_f64().unwrap_or(0.0),
                            sc["recall"].as_f64().unwrap_or(0.0),
                            sc["exact"].as_f64().unwrap_or(0.0)
                        ),
                        None => format!("{field} {:.2}", sc["accuracy"].as_f64().unwrap_or(0.0)),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let confidence: Vec<String> = l["confidence"]
            .as_object()
            .map(|c| {
                c.iter()
                    .map(|(field, f)| {
                        let auc = f.get("auc").and_then(Value::as_f64).map_or(String::new(), |a| format!(" AUC {a:.3}"));
                        format!("{field} ECE {:.3}{auc} acc@80% {:.2}", f["ece"].as_f64().unwrap_or(0.0), f["accuracy_at_80"].as_f64().unwrap_or(0.0))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let scores = if confidence.is_empty() { scores } else { [scores, vec![format!("| confidence: {}", confidence.join(", "))]].concat() };
        println!(
            "{:<28} {:<36} {:>5} {:>6} {:>6} {:>7} {:>8} {:>8} {:>7} {:>7} {:>8}  {}",
            task,
            l["model"].as_str().unwrap_or(""),
            l["rows"].to_string(),
            l["schema_valid"].to_string(),
            errors,
            l["rows_per_s"].to_string(),
            l["p50_ms"].to_string(),
            l["p99_ms"].to_string(),
            l["gen_tokens_per_row"].to_string(),
            l["model_mb"].to_string(),
            l["peak_rss_mb"].to_string(),
            scores.join(", ")
        );
    }
}
