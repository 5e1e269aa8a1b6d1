//! `flinkllm show`: the task as the engine reads it, as one JSON object, without loading its
//! model, for tools that rebuild its prompt elsewhere (bench/llamacpp_bench.py) or check its
//! answers (bench/flink_bench.py): they read no task file themselves.

use clap::Args;
use flinkllm_engine::TaskSpec;
use serde_json::json;

use crate::{CliError, TaskFlags};

#[derive(Args)]
pub struct ShowArgs {
    #[command(flatten)]
    task: TaskFlags,
}

pub fn show(a: ShowArgs) -> Result<(), CliError> {
    let spec = TaskSpec::load(&a.task.task, &a.task.options()?)?;
    let examples: Vec<_> = spec.examples.iter().map(|e| json!({"input": e.input, "output": e.output})).collect();
    let s = &spec.settings;
    let shown = json!({
        "name": spec.name,
        "model_dir": spec.model_dir,
        "system_message": spec.system_message(),
        "examples": examples,
        "input_template": spec.input_template,
        "schema": spec.ir.source,
        "max_new_tokens": s.max_new_tokens,
        "temperature": s.temperature,
        "top_p": s.top_p,
        "seed": s.seed,
    });
    println!("{shown}");
    Ok(())
}
