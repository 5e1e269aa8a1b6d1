//! `flinkllm prompt`: print the exact prompt text a task builds for one input.

use clap::Args;
use flinkllm_engine::Task;

use crate::{CliError, TaskFlags};

#[derive(Args)]
pub struct PromptArgs {
    #[command(flatten)]
    task: TaskFlags,
    /// The row's input text.
    #[arg(long)]
    text: String,
    /// Print what the model reads: a long input cut to fit, as `context_overflow_action` says.
    #[arg(long)]
    fitted: bool,
}

pub fn prompt(a: PromptArgs) -> Result<(), CliError> {
    let task = Task::load(&a.task.task, &a.task.options()?)?;
    if a.fitted {
        print!("{}", task.fitted_prompt_for(&a.text)?);
    } else {
        print!("{}", task.prompt_for(&a.text));
    }
    Ok(())
}
