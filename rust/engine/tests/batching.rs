//! Continuous batching gives exactly the single-stream results: the support-ticket
//! task over real tickets, greedy, fp32 and int8, rows submitted from many threads
//! so that they join and leave a running batch: prompts, jump-forward chunks and single
//! tokens of different rows share passes. Needs the SmolLM2 models
//! (`tools/prepare-model`) and ONNX Runtime; fails, never skips, without them.

use std::path::{Path, PathBuf};

use flinkllm_engine::{BatchConfig, Task, TaskOptions};
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tickets(n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("sql/data/support_tickets.jsonl")).expect("support_tickets.jsonl");
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["message"].as_str().map(str::to_string))
        .take(n)
        .collect()
}

/// The project's support-ticket task bound to one precision of the model.
fn task(precision: &str, batch: BatchConfig) -> Task {
    let model = format!("smollm2-135m-instruct-{precision}");
    let opts = TaskOptions { batch, ..TaskOptions::default() };
    let dir = flinkllm_engine::models_dir(&opts).join(&model);
    assert!(dir.join("flinkllm.json").is_file(), "{} is missing: run tools/prepare-model", dir.display());
    let tasks = repo().join("tasks");
    let mut spec: Value =
        serde_json::from_str(&std::fs::read_to_string(tasks.join("support_ticket.task.json")).expect("task file")).expect("task json");
    spec["model"] = Value::from(dir.to_string_lossy().to_string());
    for key in ["system_prompt_file", "examples_file", "schema_file"] {
        let rel = spec[key].as_str().expect(key).to_string();
        spec[key] = Value::from(tasks.join(rel).to_string_lossy().to_string());
    }
    let scratch = std::env::temp_dir().join(format!("flinkllm-batching-{precision}-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    let path = scratch.join("support_ticket.task.json");
    std::fs::write(&path, spec.to_string()).expect("write task");
    Task::load(&path, &opts).expect("load task")
}

fn batched_equals_single_stream(precision: &str) {
    let task = task(precision, BatchConfig::default());
    let inputs = tickets(24);
    let single: Vec<Value> = inputs
        .iter()
        .map(|i| task.run_single_stream(i).expect("single-stream row").0)
        .collect();
    // 8 rows per pass, 24 rows from 24 threads: rows wait in the queue and join the
    // running batch as others finish.
    let task = self::task(precision, BatchConfig::batched(8));
    let batched: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = inputs.iter().map(|i| s.spawn(|| task.run_with_stats(i))).collect();
        handles.into_iter().map(|h| h.join().expect("row thread")).collect()
    });
    let (mut rows, mut steps, mut prefill_rows, mut chunk_rows, mut chunk_passes) = (0usize, 0usize, 0usize, 0usize, 0usize);
    let mut differ = Vec::new();
    for (i, (want, got)) in single.iter().zip(&batched).enumerate() {
        let (value, stats) = got.as_ref().unwrap_or_else(|e| panic!("{precision} row {i}: {e}"));
        if value != want {
            differ.push(format!("row {i} {:?}:\n  single  {want}\n  batched {value}", inputs[i]));
        }
        rows += stats.batch_rows;
        steps += stats.decode_steps;
        prefill_rows += stats.prefill_rows;
        chunk_rows += stats.chunk_rows;
        chunk_passes += stats.chunk_passes;
    }
    assert!(differ.is_empty(), "{precision}: {} of {} rows differ from single stream:\n{}", differ.len(), inputs.len(), differ.join("\n"));
    let mean = rows as f64 / steps.max(1) as f64;
    // Guards against a scheduler that silently ran rows one by one.
    assert!(mean > 2.0, "{precision}: mean batch size {mean:.2}, rows were not batched");
    // ... and that prompts and jump-forward chunks ran in passes with other rows.
    let (prefill_mean, chunk_mean) = (prefill_rows as f64 / inputs.len() as f64, chunk_rows as f64 / chunk_passes.max(1) as f64);
    assert!(prefill_mean > 2.0 && chunk_mean > 2.0, "{precision}: rows per prompt pass {prefill_mean:.2}, per chunk pass {chunk_mean:.2}");
    eprintln!("{precision}: 24 rows identical, mean batch size {mean:.2}; rows per prompt pass {prefill_mean:.2}, per chunk pass {chunk_mean:.2}");
}

#[test]
fn batched_greedy_equals_single_stream_fp32() {
    batched_equals_single_stream("fp32");
}

#[test]
fn batched_greedy_equals_single_stream_int8() {
    batched_equals_single_stream("int8");
}
