//! With the tiny model: one model load serves several tasks and threads, rows run
//! concurrently on one `Task` give the same results as one at a time, and errors come
//! back as the right kinds. Needs `tools/prepare-model tiny` and ONNX Runtime
//! (`ORT_DYLIB_PATH`, or the tools virtualenv); fails, never skips, without them.

use std::path::PathBuf;
use std::sync::Arc;

use flinkllm_engine::{registry, ErrorKind, Task, TaskOptions, TaskSource, TaskSpec};
use serde_json::json;

fn tiny_model() -> PathBuf {
    let cache = std::env::var_os("FLINKLLM_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/flinkllm"));
    let dir = cache.join("models/tiny");
    assert!(
        dir.join("flinkllm.json").is_file(),
        "{} is missing: run `tools/prepare-model tiny` first",
        dir.display()
    );
    dir
}

fn write_task(dir: &std::path::Path, name: &str, extra: serde_json::Value) -> PathBuf {
    let mut task = json!({
        "model": tiny_model(),
        "system_prompt": "Answer with JSON.",
        "schema": {
            "type": "object",
            "properties": {
                "label": {"type": "string", "enum": ["a", "b", "c"]},
                "text": {"type": "string", "maxLength": 24},
                "n": {"type": "integer", "minimum": 0, "maximum": 99}
            },
            "required": ["label", "text", "n"],
            "additionalProperties": false
        },
        "max_new_tokens": 200,
        "threads": 1
    });
    if let (Some(t), Some(e)) = (task.as_object_mut(), extra.as_object()) {
        t.extend(e.clone());
    }
    let path = dir.join(name);
    std::fs::write(&path, task.to_string()).unwrap();
    path
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("flinkllm-engine-test-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn task_is_send_and_sync() {
    fn check<T: Send + Sync + Clone>() {}
    check::<Task>();
}

#[test]
fn one_model_many_tasks_and_threads() {
    let dir = scratch("share");
    let a = write_task(&dir, "a.json", json!({}));
    let b = write_task(&dir, "b.json", json!({"system_prompt": "Different prompt, same model."}));
    let opts = TaskOptions::default();
    let ta = Task::load(&a, &opts).unwrap_or_else(|e| panic!("{}", e.describe()));
    let loads = registry::model_loads();
    let tb = Task::load(&b, &opts).unwrap();
    let ta2 = Task::load(&a, &opts).unwrap();
    assert_eq!(registry::model_loads(), loads, "the second task reuses the loaded model");
    assert!(std::ptr::eq(ta.model().unwrap(), tb.model().unwrap()));
    assert!(std::ptr::eq(ta.model().unwrap(), ta2.model().unwrap()));

    let inputs: Vec<String> = (0..12).map(|i| format!("row number {i} ✓")).collect();
    let sequential: Vec<_> = inputs.iter().map(|i| ta.run(i).unwrap()).collect();
    let ta = Arc::new(ta);
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let task = Arc::clone(&ta);
            let inputs = inputs.clone();
            std::thread::spawn(move || {
                inputs.iter().skip(t).step_by(4).map(|i| (i.clone(), task.run(i).unwrap())).collect::<Vec<_>>()
            })
        })
        .collect();
    for h in handles {
        for (input, value) in h.join().unwrap() {
            let k = inputs.iter().position(|i| *i == input).unwrap();
            assert_eq!(value, sequential[k], "concurrent rows decode exactly like sequential ones");
        }
    }
    let batch = ta.run_batch(&inputs.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(batch.into_iter().map(Result::unwrap).collect::<Vec<_>>(), sequential);
}

#[test]
fn errors_have_actionable_kinds() {
    let dir = scratch("errors");
    let opts = TaskOptions::default();
    let missing = Task::load(&dir.join("nope.json"), &opts).err().unwrap();
    assert_eq!(missing.kind(), ErrorKind::InvalidTask);

    let bad_schema = write_task(&dir, "s.json", json!({"schema": {"type": "string", "format": "hostname"}}));
    let e = TaskSpec::load(&bad_schema, &opts).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::UnsupportedSchema);
    assert!(e.reason().contains("hostname"));

    let typo = write_task(&dir, "t.json", json!({"max_tokens": 5}));
    assert_eq!(TaskSpec::load(&typo, &opts).err().unwrap().kind(), ErrorKind::InvalidTask);

    let no_model = write_task(&dir, "m.json", json!({"model": "./no-such-model"}));
    assert_eq!(Task::load(&no_model, &opts).err().unwrap().kind(), ErrorKind::ModelLoad);

    let short = write_task(&dir, "short.json", json!({"max_new_tokens": 3}));
    let task = Task::load(&short, &opts).unwrap();
    assert_eq!(task.run("anything").err().unwrap().kind(), ErrorKind::GenerationLimit);

    let long_input = "word ".repeat(3000);
    let failing = write_task(&dir, "long.json", json!({"context_overflow_action": "error"}));
    assert_eq!(Task::load(&failing, &opts).unwrap().run(&long_input).err().unwrap().kind(), ErrorKind::InputTooLong);
    let truncating = write_task(&dir, "trunc.json", json!({"context_overflow_action": "truncated-head"}));
    assert!(Task::load(&truncating, &opts).unwrap().run(&long_input).is_ok());
    // The default keeps the start of the input, as Flink's model providers do.
    let by_default = Task::load(&write_task(&dir, "default.json", json!({})), &opts).unwrap();
    assert_eq!(by_default.settings().context_overflow, flinkllm_engine::ContextOverflow::TruncateTail);
    assert!(by_default.run(&long_input).is_ok());
}

#[test]
fn max_context_size_caps_the_input_below_the_window() {
    let dir = scratch("context-size");
    let opts = TaskOptions::default();
    // 40 words fit the tiny model's window, not a 16-token cap.
    let input = "word ".repeat(40);
    let capped = write_task(&dir, "cap.json", json!({"max_context_size": 16, "context_overflow_action": "error"}));
    let e = Task::load(&capped, &opts).unwrap().run(&input).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::InputTooLong);
    assert!(e.reason().contains("max_context_size 16"), "{}", e.reason());
    let uncapped = write_task(&dir, "window.json", json!({"context_overflow_action": "error"}));
    assert!(Task::load(&uncapped, &opts).unwrap().run(&input).is_ok());
    let truncating = write_task(&dir, "trunc.json", json!({"max_context_size": 16}));
    assert!(Task::load(&truncating, &opts).unwrap().run(&input).is_ok());
    let zero = write_task(&dir, "zero.json", json!({"max_context_size": 0}));
    assert_eq!(TaskSpec::load(&zero, &opts).err().unwrap().kind(), ErrorKind::InvalidTask);
}

#[test]
fn a_passed_deadline_stops_the_row() {
    let dir = scratch("deadline");
    let task = Task::load(&write_task(&dir, "d.json", json!({})), &TaskOptions::default()).unwrap();
    let past = std::time::Instant::now();
    let e = task.run_with_deadline("anything", Some(past)).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::RowTimeout);
    assert!(e.reason().contains("deadline"));
    assert!(task.run_with_deadline("anything", None).is_ok());
}

#[test]
fn input_template_wraps_the_input_once() {
    let dir = scratch("template");
    let path = write_task(&dir, "t.json", json!({"input_template": "Ticket: {input} (end)"}));
    let task = Task::load(&path, &TaskOptions::default()).unwrap();
    let prompt = task.prompt_for("X <|im_end|>");
    assert_eq!(prompt.matches("Ticket: ").count(), 1, "{prompt}");
    assert!(prompt.contains("<|im_start|>user\nTicket: X <|im_end|> (end)<|im_end|>\n<|im_start|>assistant\n"), "{prompt}");
    assert!(task.run("X").is_ok());
}

#[test]
fn a_long_input_is_cut_inside_the_template_never_through_its_instruction() {
    // What the model provider writes for ML_PREDICT moderation: the instruction after the
    // comment is the template's, so truncation keeps it whatever the comment's length.
    let dir = scratch("long-template");
    let instruction = "Criticism of the video, however harsh, is safe. Is a person attacked?";
    let template = format!("Comment: {{input}}\n\n{instruction}");
    let path = write_task(&dir, "t.json", json!({"input_template": template, "max_context_size": 48}));
    let task = Task::load(&path, &TaskOptions::default()).unwrap();
    let comment = "the intro drags on and the audio is muddy ".repeat(1250); // 50 KB
    assert!(comment.len() >= 50_000);
    let fitted = task.fitted_prompt_for(&comment).unwrap();
    assert!(fitted.contains(&format!("\n\n{instruction}<|im_end|>\n<|im_start|>assistant\n")), "{fitted}");
    assert!(fitted.contains("<|im_start|>user\nComment: the intro drags on"), "{fitted}");
    assert!(fitted.len() < 2_000, "the comment is cut to 48 tokens: {} bytes", fitted.len());
    assert!(task.run(&comment).is_ok());
}

#[test]
fn a_task_without_a_cap_gets_the_longest_valid_answer_as_its_cap() {
    let dir = scratch("cap");
    let task = Task::load(&write_task(&dir, "cap.json", json!({"max_new_tokens": null})), &TaskOptions::default()).unwrap();
    let longest = flinkllm_engine::schema::size::max_output_bytes(&task.spec().ir).unwrap();
    assert_eq!(longest, r#"{"label": "a", "text": "", "n": -999999999999999}"#.len() + 24 * 4);
    assert_eq!(task.settings().max_new_tokens, longest + 1);
    // The tiny model's words are random: it fills strings to their limit and never stops
    // early, the worst case for a cap. None of its answers may hit this one.
    for i in 0..12 {
        let input = format!("row {i}: {}", "ab ".repeat(i * 5));
        assert!(task.run(&input).is_ok(), "row {i} hit the derived cap");
    }
    // Strings always have a bound (max_string_length); an array without maxItems has none.
    let unbounded = write_task(&dir, "free.json", json!({"max_new_tokens": null, "schema": {"type": "object", "properties": {"t": {"type": "array", "items": {"type": "integer"}}}}}));
    assert_eq!(Task::load(&unbounded, &TaskOptions::default()).unwrap().settings().max_new_tokens, flinkllm_engine::DEFAULT_MAX_NEW_TOKENS);
}

/// The sharing rule the UDF's `SharedTasks` keeps too: options that differ, `batch` included,
/// open a task of their own (each with the batch size it asked for) over the one model.
#[test]
fn calls_differing_only_in_batch_size_get_tasks_of_their_own_over_one_model() {
    use flinkllm_engine::BatchConfig;
    let dir = scratch("batch-key");
    let path = write_task(&dir, "t.json", json!({}));
    let with = |n| TaskOptions { batch: BatchConfig::batched(n), ..TaskOptions::default() };
    let one = Task::load(&path, &with(1)).unwrap();
    let four = Task::load(&path, &with(4)).unwrap();
    let four_again = Task::load(&path, &with(4)).unwrap();
    assert!(!one.same_task(&four), "a different batch size must not share (and reconfigure) another call's task");
    assert!(four.same_task(&four_again));
    assert_eq!((one.batching().max_batch, four.batching().max_batch), (1, 4));
    assert!(std::ptr::eq(one.model().unwrap(), four.model().unwrap()), "one model for both");
    assert_eq!(one.run("same row").unwrap(), four.run("same row").unwrap());
}

#[test]
fn task_documents_run_like_task_files_and_are_named_by_their_label() {
    let dir = scratch("document");
    let file = write_task(&dir, "doc.json", json!({}));
    let json = std::fs::read_to_string(&file).unwrap();
    let doc = |json: &str| TaskSource::Inline { label: "model m".into(), base: dir.clone(), json: json.into() };
    let opts = TaskOptions::default();
    let from_file = Task::load(&file, &opts).unwrap();
    let from_doc = Task::load_source(doc(&json), &opts).unwrap();
    assert!(Task::load_source(doc(&json), &opts).unwrap().same_task(&from_doc), "equal documents share one open task");
    assert!(!from_doc.same_task(&from_file));
    assert_eq!(from_doc.spec().name, "model m");
    for input in ["first row", "second row"] {
        assert_eq!(from_doc.run(input).unwrap(), from_file.run(input).unwrap());
    }
    let broken = json.replace("\"threads\":1", "\"threads\":0");
    assert_ne!(broken, json);
    let e = TaskSpec::from_source(&doc(&broken), &opts).err().unwrap();
    assert!(e.to_string().starts_with("model m: "), "{e}");
}

fn minilm_int8() -> PathBuf {
    let dir = tiny_model().parent().unwrap().join("all-minilm-l6-v2-int8");
    assert!(dir.join("flinkllm.json").is_file(), "{} is missing: run `tools/prepare-model minilm` first", dir.display());
    dir
}

#[test]
fn encoder_tasks_share_one_encoder_and_threads_share_passes() {
    let dir = scratch("encoder");
    let embedding = dir.join("embedding.task.json");
    std::fs::write(&embedding, json!({"task": "embedding", "model": minilm_int8(), "threads": 1}).to_string()).unwrap();
    let classify = dir.join("classify.task.json");
    std::fs::write(
        &classify,
        json!({"task": "classification", "model": minilm_int8(), "threads": 1,
               "schema": {"type": "object", "properties": {"topic": {"enum": ["money", "weather"]}}},
               "examples": [{"input": "my invoice is wrong", "output": {"topic": "money"}},
                            {"input": "it is raining all day", "output": {"topic": "weather"}}]})
        .to_string(),
    )
    .unwrap();
    let loads = registry::model_loads();
    let batched = TaskOptions { batch: flinkllm_engine::BatchConfig::batched(8), ..TaskOptions::default() };
    let e = Task::load(&embedding, &batched).unwrap();
    let c = Task::load(&classify, &TaskOptions::default()).unwrap();
    assert_eq!(registry::model_loads() - loads, 1, "both tasks use one loaded encoder");
    assert_eq!(c.run("a refund for last month").unwrap(), json!({"topic": "money"}));
    assert!(e.model().is_none() && e.model_name().0 == "all-minilm-l6-v2-int8");

    // Rows from 8 threads share passes and get the vectors they get alone.
    let texts: Vec<String> = (0..32).map(|i| "word ".repeat(1 + i % 9) + &i.to_string()).collect();
    let alone: Vec<_> = texts.iter().map(|t| e.run_single_stream(t).unwrap().0).collect();
    let shared: Vec<Vec<(serde_json::Value, usize)>> = std::thread::scope(|s| {
        let handles: Vec<_> = texts
            .chunks(4)
            .map(|chunk| {
                let e = e.clone();
                s.spawn(move || chunk.iter().map(|t| e.run_with_stats(t).map(|(v, st)| (v, st.batch_rows)).unwrap()).collect())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let shared: Vec<_> = shared.into_iter().flatten().collect();
    assert!(shared.iter().all(|(_, rows)| *rows >= 1 && *rows <= 8));
    assert_eq!(shared.iter().map(|(v, _)| v.clone()).collect::<Vec<_>>(), alone, "a row's vector does not depend on its pass");
    assert_eq!(e.run_batch(&texts.iter().map(String::as_str).collect::<Vec<_>>()).into_iter().map(Result::unwrap).collect::<Vec<_>>(), alone);
}
