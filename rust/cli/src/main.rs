//! `flinkllm`: run a task over a JSONL file, benchmark it, or decode a raw prompt.

mod bench;
mod calibrate;
mod calibration;
mod embed;
mod eval;
mod figures;
mod generate;
mod input;
mod ort_lib;
mod prompt;
mod run;
mod score;
mod show;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use flinkllm_engine::{ContextOverflow, TaskOptions};

#[derive(Parser)]
#[command(name = "flinkllm", version, about = "Schema-constrained small-model inference on CPU")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a task over JSONL input: one output line per input line, same order.
    Run(run::RunArgs),
    /// Run a task over JSONL input and print one JSON line of performance figures.
    Bench(bench::BenchArgs),
    /// Accuracy on labelled JSONL rows (`expected` objects) per model and task variant, with speed and memory.
    Eval(eval::EvalArgs),
    /// Fit each label field's confidence calibration on labelled rows and write it into the task file.
    Calibrate(calibrate::CalibrateArgs),
    /// Sentence embeddings of JSONL input with an encoder model (one JSON line per row).
    Embed(embed::EmbedArgs),
    /// Greedy, unconstrained decoding of a raw prompt (fidelity checks).
    Generate(generate::GenerateArgs),
    /// Print the prompt a task builds for one input text.
    Prompt(prompt::PromptArgs),
    /// Print the task as the engine reads it (JSON: system message, examples, template, schema, settings).
    Show(show::ShowArgs),
}

/// Overrides shared by `run` and `bench`.
#[derive(Args, Clone)]
pub struct TaskFlags {
    /// Task file (JSON).
    #[arg(long)]
    task: PathBuf,
    /// A model name or directory instead of the task's.
    #[arg(long)]
    model: Option<String>,
    /// Intra-op threads for the model (overrides the task's `threads`).
    #[arg(long)]
    threads: Option<usize>,
    /// Overrides the task's `max_new_tokens`.
    #[arg(long)]
    max_new_tokens: Option<usize>,
    /// Overrides `context_overflow_action`: error, truncated-tail, truncated-head.
    #[arg(long)]
    context_overflow_action: Option<String>,
    /// Directory where bare model names are looked up (else $FLINKLLM_MODELS, else ~/.cache/flinkllm/models).
    #[arg(long)]
    models_dir: Option<PathBuf>,
    /// libonnxruntime.so to load (else $ORT_DYLIB_PATH, else the tools' virtualenv).
    #[arg(long)]
    ort_lib: Option<PathBuf>,
}

/// A task and the JSONL rows to run it on (`run` and `bench`).
#[derive(Args, Clone)]
pub struct RowFlags {
    #[command(flatten)]
    task: TaskFlags,
    /// Input JSONL file.
    #[arg(long)]
    input: PathBuf,
    /// Field of each input line that holds the text.
    #[arg(long, default_value = "message")]
    field: String,
}

impl TaskFlags {
    fn options(&self) -> flinkllm_engine::Result<TaskOptions> {
        Ok(TaskOptions {
            model: self.model.clone(),
            max_new_tokens: self.max_new_tokens,
            threads: self.threads,
            context_overflow: self.context_overflow_action.as_deref().map(ContextOverflow::parse).transpose()?,
            models_dir: self.models_dir.clone(),
            ort_library: ort_lib::ort_library(self.ort_lib.as_deref()),
            ..TaskOptions::default()
        })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(a) => run::run(a),
        Command::Bench(a) => bench::bench(a),
        Command::Eval(a) => eval::eval(a),
        Command::Calibrate(a) => calibrate::calibrate(a),
        Command::Embed(a) => embed::embed(a),
        Command::Generate(a) => generate::generate(a),
        Command::Prompt(a) => prompt::prompt(a),
        Command::Show(a) => show::show(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flinkllm: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Errors that stop the whole command (not per-row errors).
#[derive(Debug)]
pub struct CliError(String);

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<flinkllm_engine::Error> for CliError {
    fn from(e: flinkllm_engine::Error) -> Self {
        CliError(e.describe())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError(format!("I/O: {e}"))
    }
}
