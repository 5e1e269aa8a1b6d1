//! The prompt: the model's chat template (from the manifest) rendered with
//! minijinja over system prompt, few-shot turns and the row's input.
//!
//! We render once per task with a sentinel in place of the input and split there:
//! everything before it is the fixed prefix whose KV cache is computed once and
//! reused; the input itself is tokenized as plain text (so `<|im_end|>` typed by a
//! user stays text) and the rest (`<|im_end|>\n<|im_start|>assistant\n`) follows.

use minijinja::{context, Environment};
use serde::Serialize;

use crate::error::{Error, Result};

const SENTINEL: &str = "\u{E000}flinkllm-input\u{E001}";

#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub role: &'static str,
    pub content: String,
}

/// The rendered prompt around the row input.
#[derive(Debug, Clone)]
pub struct PromptParts {
    pub before: String,
    pub after: String,
}

/// Renders `template` (Hugging Face Jinja) with `messages`, then appends a user turn
/// whose content is the input template with the input marked.
pub fn split_prompt(
    template: &str,
    bos: Option<&str>,
    eos: Option<&str>,
    mut messages: Vec<Message>,
    input_template: &str,
) -> Result<PromptParts> {
    messages.push(Message { role: "user", content: input_template.replace("{input}", SENTINEL) });
    let rendered = render(template, bos, eos, &messages)?;
    let mut parts = rendered.split(SENTINEL);
    match (parts.next(), parts.next(), parts.next()) {
        (Some(before), Some(after), None) => Ok(PromptParts { before: before.to_string(), after: after.to_string() }),
        _ => Err(Error::InvalidTask(
            "input_template must contain {input} exactly once, and the chat template must keep message content intact".into(),
        )),
    }
}

/// Plain rendering, with `add_generation_prompt`.
pub fn render(template: &str, bos: Option<&str>, eos: Option<&str>, messages: &[Message]) -> Result<String> {
    let mut env = Environment::new();
    // Hugging Face renders with these Jinja settings, and templates call Python
    // string methods (`.strip()`, `.startswith()`): pycompat provides them.
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function("raise_exception", |msg: String| -> std::result::Result<String, minijinja::Error> {
        Err(minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, msg))
    });
    let bad = |e: minijinja::Error| Error::ModelLoad(format!("chat template: {e}"));
    env.add_template("chat", template).map_err(bad)?;
    let tmpl = env.get_template("chat").map_err(bad)?;
    tmpl.render(context! {
        messages => messages,
        add_generation_prompt => true,
        bos_token => bos.unwrap_or(""),
        eos_token => eos.unwrap_or(""),
    })
    .map_err(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHATML: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    #[test]
    fn chatml_split_around_input() {
        let msgs = vec![Message { role: "system", content: "Be brief.".into() }];
        let p = split_prompt(CHATML, None, None, msgs, "Ticket: {input}").unwrap();
        assert_eq!(p.before, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nTicket: ");
        assert_eq!(p.after, "<|im_end|>\n<|im_start|>assistant\n");
    }

    #[test]
    fn pycompat_methods_and_raise_exception() {
        let t = "{% if messages[0]['content'].strip().startswith('x') %}{{ raise_exception('no x') }}{% endif %}ok";
        let m = vec![Message { role: "user", content: " hi ".into() }];
        assert_eq!(render(t, None, None, &m).unwrap(), "ok");
        let m = vec![Message { role: "user", content: " x ".into() }];
        assert!(render(t, None, None, &m).is_err());
    }
}
