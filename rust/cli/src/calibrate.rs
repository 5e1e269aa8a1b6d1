//! `flinkllm calibrate`: fits each label field's calibration on labelled rows and writes it
//! into the task file, where the task reads it (`calibration`, with `confidence: true`).

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use flinkllm_engine::confidence::Basis;
use flinkllm_engine::{BatchConfig, RowStats, Task, TaskOptions};
use serde_json::{json, Map, Value};

use crate::calibration::{self, Prediction};
use crate::eval::{answer_rows, label_predictions, read_labelled};
use crate::{CliError, RowFlags};

#[derive(Args)]
pub struct CalibrateArgs {
    /// The task (--task) and labelled JSONL (--input) to fit on: rows you will not report
    /// accuracy or calibration on.
    #[command(flatten)]
    rows_from: RowFlags,
    /// Only the first N labelled rows.
    #[arg(long)]
    rows: Option<usize>,
    /// Rows in flight at once, sharing forward passes (results do not change).
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Print the calibration instead of writing it into the task file.
    #[arg(long)]
    dry_run: bool,
    /// Also measure the calibration on rows it was not fitted on: split the rows into this
    /// many consecutive parts, fit on all parts but one, apply to that one, and report the
    /// pooled held-out figures (the written calibration is still fitted on every row).
    #[arg(long, default_value_t = 0)]
    folds: usize,
    /// With --folds: append each held-out prediction to this JSONL file (task, field, p,
    /// correct), to pool figures over several tasks.
    #[arg(long)]
    held_out: Option<PathBuf>,
}

pub fn calibrate(a: CalibrateArgs) -> Result<(), CliError> {
    let rows = read_labelled(&a.rows_from.input, &a.rows_from.field, a.rows)?;
    let task_file = &a.rows_from.task.task;
    // Fitted on the model's raw confidence, whatever calibration the file holds now.
    let options = TaskOptions { raw_confidence: true, batch: BatchConfig::batched(a.concurrency.max(1)), ..a.rows_from.task.options()? };
    let task = Task::load(task_file, &options)?;
    let results = answer_rows(&task, &rows, a.concurrency);
    let raw = |basis: Basis| {
        move |stats: &RowStats, field: &str| stats.labels.iter().find(|l| l.field == field).map(|l| l.of(basis))
    };
    let own = label_predictions(&task, &rows, &results, raw(Basis::Field));
    let path = label_predictions(&task, &rows, &results, raw(Basis::Path));
    let fields: Vec<(String, Vec<Prediction>, Vec<Prediction>)> = own.into_iter().zip(path).map(|((f, o), (_, p))| (f, o, p)).collect();
    if fields.is_empty() {
        return Err(CliError(format!("{}: no label field of the task is in the rows' `expected` objects", a.rows_from.input.display())));
    }
    if a.folds >= 2 {
        cross_fit(&a, &fields)?;
    }
    let mut fitted = Map::new();
    for (field, own, path) in &fields {
        let f = calibration::fit_field(own, path);
        let preds = if f.basis == Basis::Field { own } else { path };
        let after: Vec<Prediction> = preds.iter().map(|p| Prediction { p: f.apply(p.p), ..*p }).collect();
        eprintln!(
            "{field}: {} rows, accuracy {:.3}, {:?} probability, ECE {:.3} → {:.3}, Brier {:.3} → {:.3} (a = {:.3}, b = {:.3})",
            preds.len(),
            preds.iter().filter(|p| p.correct).count() as f64 / preds.len() as f64,
            f.basis,
            calibration::ece(preds),
            calibration::ece(&after),
            calibration::brier(preds),
            calibration::brier(&after),
            f.a,
            f.b
        );
        fitted.insert(field.clone(), serde_json::to_value(f).map_err(|e| CliError(e.to_string()))?);
    }
    if a.dry_run {
        println!("{}", Value::Object(fitted));
        return Ok(());
    }
    write_into(task_file, fitted)
}

/// Each field's predictions calibrated by a fit on the other folds: how the calibration does
/// on rows it never saw.
fn cross_fit(a: &CalibrateArgs, fields: &[(String, Vec<Prediction>, Vec<Prediction>)]) -> Result<(), CliError> {
    let mut held_out_file = match &a.held_out {
        Some(p) => Some(std::fs::OpenOptions::new().create(true).append(true).open(p).map_err(|e| CliError(format!("{}: {e}", p.display())))?),
        None => None,
    };
    for (field, own, path) in fields {
        let size = own.len().div_ceil(a.folds);
        let mut held: Vec<Prediction> = Vec::with_capacity(own.len());
        for k in 0..a.folds {
            let range = (k * size).min(own.len())..((k + 1) * size).min(own.len());
            let train = |preds: &[Prediction]| -> Vec<Prediction> { preds.iter().enumerate().filter(|(i, _)| !range.contains(i)).map(|(_, p)| *p).collect() };
            // The basis is chosen inside the fold too: the held-out rows play no part in it.
            let f = calibration::fit_field(&train(own), &train(path));
            let preds = if f.basis == Basis::Field { own } else { path };
            held.extend(preds[range].iter().map(|p| Prediction { p: f.apply(p.p), ..*p }));
        }
        eprintln!("{field}: held out ({} folds): {}", a.folds, calibration::report(&held));
        if let Some(out) = held_out_file.as_mut() {
            for p in &held {
                let line = json!({"task": a.rows_from.task.task.display().to_string(), "field": field, "p": p.p, "correct": p.correct,
                                  "p_positive": p.p_positive().map(|(q, expected)| json!({"p": q, "expected": expected}))});
                writeln!(out, "{line}").map_err(|e| CliError(format!("held-out file: {e}")))?;
            }
        }
    }
    Ok(())
}

/// Sets `confidence` and `calibration` in the task file, keeping its other keys and order.
fn write_into(task_file: &PathBuf, fitted: Map<String, Value>) -> Result<(), CliError> {
    let io = |e: std::io::Error| CliError(format!("{}: {e}", task_file.display()));
    let mut doc: Map<String, Value> = serde_json::from_str(&std::fs::read_to_string(task_file).map_err(io)?)
        .map_err(|e| CliError(format!("{}: {e}", task_file.display())))?;
    doc.insert("confidence".into(), Value::Bool(true));
    doc.insert("calibration".into(), Value::Object(fitted));
    let tmp = task_file.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(&doc).map_err(|e| CliError(e.to_string()))? + "\n").map_err(io)?;
    std::fs::rename(&tmp, task_file).map_err(io)?;
    eprintln!("wrote the calibration into {}", task_file.display());
    Ok(())
}
