//! The task contract's keys, declared once: each key's name, the kinds of task it applies to
//! and what it means. A task file and a `CREATE MODEL` statement are checked by the same
//! rules here (a Java provider forwards its `WITH` options as written, in kebab-case):
//! unknown keys and keys of another kind are refused, naming the key as the user wrote it.

use serde_json::{Map, Value};

/// The kinds of task a key applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applies {
    All,
    Generation,
    /// Embedding and classification (sentence encoders).
    Encoder,
    Embedding,
    Classification,
}

impl Applies {
    fn includes(self, kind: &str) -> bool {
        match self {
            Applies::All => true,
            Applies::Generation => kind == TEXT_GENERATION,
            Applies::Encoder => kind != TEXT_GENERATION,
            Applies::Embedding => kind == EMBEDDING,
            Applies::Classification => kind == CLASSIFICATION,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Applies::All => "every task",
            Applies::Generation => "text_generation",
            Applies::Encoder => "embedding, classification",
            Applies::Embedding => "embedding",
            Applies::Classification => "classification",
        }
    }
}

pub const TEXT_GENERATION: &str = "text_generation";
pub const EMBEDDING: &str = "embedding";
pub const CLASSIFICATION: &str = "classification";
/// The values of `task`, as Flink's model task types name them.
pub const KINDS: [&str; 3] = [TEXT_GENERATION, EMBEDDING, CLASSIFICATION];

/// What a key's value is. A binding forwards SQL option values as strings: those are read
/// as the key's type here, so `'temperature' = '0.7'` and `"temperature": 0.7` mean one thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Text,
    Number,
    /// A whole number, 0 or more.
    Integer,
    Flag,
    /// A JSON value (an object or list; as a string, its JSON text).
    Json,
}

impl Type {
    fn read(self, written: &str, value: Value) -> Result<Value, String> {
        let Value::String(text) = &value else { return Ok(value) };
        let parsed = match self {
            Type::Text => return Ok(value),
            Type::Number => text.trim().parse::<f64>().ok().filter(|v| v.is_finite()).map(Value::from),
            Type::Integer => text.trim().parse::<u64>().ok().map(Value::from),
            Type::Flag => text.trim().parse::<bool>().ok().map(Value::from),
            Type::Json => serde_json::from_str(text).ok(),
        };
        let what = match self {
            Type::Number => "a number",
            Type::Integer => "a whole number",
            Type::Flag => "true or false",
            _ => "JSON",
        };
        parsed.ok_or_else(|| format!("'{written}' must be {what}, got '{text}'"))
    }
}

/// One key of a task document.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// The name in a task file (snake_case); `CREATE MODEL` writes it in kebab-case.
    pub name: &'static str,
    /// Another accepted name (Flink's own option name where it differs).
    pub alias: Option<&'static str>,
    pub applies: Applies,
    pub value: Type,
    pub doc: &'static str,
}

const fn key(name: &'static str, applies: Applies, value: Type, doc: &'static str) -> Key {
    Key { name, alias: None, applies, value, doc }
}

/// Every key, in the order the reference lists them.
pub const KEYS: &[Key] = &[
    key("task", Applies::All, Type::Text, "text_generation (default: a decoder writes JSON matching the schema), embedding or classification (a sentence encoder)."),
    key("model", Applies::All, Type::Text, "A model name (looked up in the models directory) or a model directory."),
    key("name", Applies::All, Type::Text, "How metrics and errors name the task (default: the file name)."),
    key("description", Applies::All, Type::Text, "Free text for people."),
    key("schema", Applies::All, Type::Json, "The answer's JSON Schema (a CREATE MODEL derives it from the OUTPUT columns)."),
    key("schema_file", Applies::All, Type::Text, "A file holding the schema, relative to the task file."),
    key("examples", Applies::All, Type::Json, "Few-shot examples: [{\"input\": ..., \"output\": {...}}]; a classification's labelled texts."),
    key("examples_file", Applies::All, Type::Text, "JSONL of examples, relative to the task file."),
    key("input_template", Applies::All, Type::Text, "The text around the row's input, with {input} once (default {input}); a decoder keeps it in the cached prompt, where truncation never cuts it."),
    key("threads", Applies::All, Type::Integer, "ONNX Runtime threads of the model (default: the CPU count, at most 8)."),
    key("context_overflow_action", Applies::All, Type::Text, "Input too long: truncated-tail (default), truncated-head or error."),
    key("system_prompt", Applies::Generation, Type::Text, "Instructions to the model."),
    key("system_prompt_file", Applies::Generation, Type::Text, "A file holding the system prompt, relative to the task file."),
    key("describe_schema", Applies::Generation, Type::Flag, "Append the list of answer fields to the system prompt (default true)."),
    Key {
        name: "max_new_tokens",
        alias: Some("max-tokens"),
        applies: Applies::Generation,
        value: Type::Integer,
        doc: "Most tokens an answer may take (default: the longest answer the schema allows).",
    },
    key("temperature", Applies::Generation, Type::Number, "0 (default): greedy; above 0: sampling, seeded per row by seed and the input."),
    key("top_p", Applies::Generation, Type::Number, "Nucleus sampling cut-off in (0, 1] (default 1)."),
    key("seed", Applies::Generation, Type::Integer, "Seeds each row's sampler with its input (default 0): a replay gives the same answers."),
    key("max_context_size", Applies::Generation, Type::Integer, "The most tokens of a row's input the model reads (default: what the context window leaves)."),
    key("max_string_length", Applies::Generation, Type::Integer, "The longest string where the schema gives no maxLength (default 512)."),
    key("confidence", Applies::Generation, Type::Flag, "Report each label field's probability beside the answer (default false)."),
    key("calibration", Applies::Generation, Type::Json, "Per label field, the Platt scaling `flinkllm calibrate` fits."),
    key("max_length", Applies::Encoder, Type::Integer, "Tokens of a row the encoder reads (default: the model's)."),
    key("normalize", Applies::Embedding, Type::Flag, "L2-normalise the vector (default true)."),
    key("classifier", Applies::Classification, Type::Text, "centroid (default: the label whose examples' mean is nearest) or knn."),
    key("k", Applies::Classification, Type::Integer, "Neighbours that vote with classifier knn (default 5)."),
];

/// The key a name stands for: its snake_case name, its kebab-case spelling or its alias.
pub fn find(written: &str) -> Option<&'static Key> {
    let snake = written.replace('-', "_");
    KEYS.iter().find(|k| k.name == snake || k.alias == Some(written))
}

/// A task document whose keys are checked, under their task-file names, and how its user
/// wrote them (for messages about their values).
pub struct Checked {
    pub doc: Map<String, Value>,
    written_as: Vec<(&'static str, String)>,
}

impl Checked {
    /// The key as the user wrote it (`max-string-length` in SQL), else its task-file name.
    pub fn name<'a>(&'a self, key: &'a str) -> &'a str {
        self.written_as.iter().find(|(name, _)| *name == key).map_or(key, |(_, w)| w.as_str())
    }
}

/// A task document with its keys checked and renamed to their task-file names: the kind is
/// read first, then every key must be known and apply to it. Errors name keys as written.
pub fn check(doc: Map<String, Value>) -> Result<Checked, String> {
    let kind = match doc.get("task") {
        None => TEXT_GENERATION,
        Some(Value::String(t)) if KINDS.contains(&t.as_str()) => t.as_str(),
        Some(other) => return Err(format!("task {other}: use \"text_generation\", \"embedding\" or \"classification\"")),
    }
    .to_string();
    let mut out = Map::new();
    let mut written_as: Vec<(&str, String)> = Vec::new();
    for (written, value) in doc {
        let Some(key) = find(&written) else {
            let known: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
            return Err(format!("unknown key '{written}' (task keys: {})", known.join(", ")));
        };
        if !key.applies.includes(&kind) {
            return Err(format!("'{written}' does not apply to task '{kind}' (only to {})", key.applies.describe()));
        }
        if let Some((_, first)) = written_as.iter().find(|(name, _)| *name == key.name) {
            return Err(format!("'{first}' and '{written}' are the same key: give it once"));
        }
        let value = key.value.read(&written, value)?;
        written_as.push((key.name, written));
        out.insert(key.name.to_string(), value);
    }
    Ok(Checked { doc: out, written_as })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn checked(v: Value) -> Result<Map<String, Value>, String> {
        check(v.as_object().unwrap().clone()).map(|c| c.doc)
    }

    #[test]
    fn kebab_and_snake_names_are_one_key() {
        let out = checked(json!({"model": "m", "max-context-size": 64, "top_p": 0.5, "max-tokens": 9})).unwrap();
        assert_eq!(out["max_context_size"], 64);
        assert_eq!(out["top_p"], 0.5);
        assert_eq!(out["max_new_tokens"], 9);
        let c = check(json!({"max-string-length": 0}).as_object().unwrap().clone()).unwrap();
        assert_eq!((c.name("max_string_length"), c.name("seed")), ("max-string-length", "seed"));
        let twice = checked(json!({"top_p": 0.5, "top-p": 0.4})).unwrap_err();
        assert!(twice.contains("'top_p' and 'top-p' are the same key"), "{twice}");
    }

    #[test]
    fn a_key_of_another_kind_is_refused_as_written() {
        let e = checked(json!({"task": "embedding", "model": "m", "temperature": 0.7})).unwrap_err();
        assert_eq!(e, "'temperature' does not apply to task 'embedding' (only to text_generation)");
        let e = checked(json!({"task": "embedding", "max-context-size": 10})).unwrap_err();
        assert!(e.starts_with("'max-context-size' does not apply to task 'embedding'"), "{e}");
        let e = checked(json!({"task": "classification", "normalize": true})).unwrap_err();
        assert!(e.starts_with("'normalize' does not apply to task 'classification'"), "{e}");
        let e = checked(json!({"max_length": 10})).unwrap_err();
        assert!(e.starts_with("'max_length' does not apply to task 'text_generation'"), "{e}");
        assert!(checked(json!({"task": "classification", "k": 3, "max-length": 10, "threads": 1})).is_ok());
    }

    #[test]
    fn sql_strings_are_read_as_the_key_s_type() {
        let out = checked(json!({"temperature": "0.7", "seed": "3", "describe-schema": "false", "schema": "{\"type\": \"object\"}"}));
        let out = out.unwrap();
        assert_eq!((out["temperature"].as_f64(), out["seed"].as_u64()), (Some(0.7), Some(3)));
        assert_eq!((out["describe_schema"].as_bool(), out["schema"]["type"].as_str()), (Some(false), Some("object")));
        let e = checked(json!({"max-string-length": "-1"})).unwrap_err();
        assert_eq!(e, "'max-string-length' must be a whole number, got '-1'");
    }

    #[test]
    fn unknown_keys_and_kinds_are_refused() {
        let e = checked(json!({"tempreature": 1})).unwrap_err();
        assert!(e.starts_with("unknown key 'tempreature' (task keys: task, model"), "{e}");
        assert!(checked(json!({"task": "chat"})).unwrap_err().contains("use \"text_generation\""));
    }
}
