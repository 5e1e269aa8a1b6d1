//! `flinkllm generate`: greedy decoding of a raw prompt with no constraint, printing
//! the same JSON as `tools/reference-decode` so the two can be compared token by token.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use crate::CliError;

#[derive(Args)]
pub struct GenerateArgs {
    /// Model directory.
    #[arg(long)]
    model: PathBuf,
    /// File holding the prompt text (special tokens such as <|im_start|> are recognised).
    #[arg(long)]
    prompt_file: PathBuf,
    /// Tokens to generate at most.
    #[arg(long)]
    max_new: usize,
    /// Feed the first N prompt tokens as a separate cached prefix.
    #[arg(long)]
    split_prefix: Option<usize>,
    #[arg(long, default_value_t = 2)]
    threads: usize,
    #[arg(long)]
    ort_lib: Option<PathBuf>,
}

pub fn generate(a: GenerateArgs) -> Result<(), CliError> {
    let prompt = std::fs::read_to_string(&a.prompt_file)
        .map_err(|e| CliError(format!("{}: {e}", a.prompt_file.display())))?;
    let model = flinkllm_engine::open_model(&a.model, a.threads, crate::ort_lib::ort_library(a.ort_lib.as_deref()).as_deref())?;
    let ids = model.tokens.encode_template(&prompt)?;
    let out = flinkllm_engine::generate::unconstrained(&model, &ids, a.max_new, a.split_prefix)?;
    let text = String::from_utf8_lossy(&model.tokens.text_of(&out)).into_owned();
    println!("{}", json!({"prompt_ids": ids, "generated_ids": out, "text": text}));
    Ok(())
}
