//! The task file's format: its keys as they are read (`TaskSpec::from_source` checks them).

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TaskFile {
    pub model: String,
    /// "text_generation" (default), "embedding" or "classification" (encoder::spec).
    #[serde(default)]
    pub task: Option<String>,
    /// Encoder tasks: tokens per row, the model's `max_length` by default.
    #[serde(default)]
    pub max_length: Option<usize>,
    /// Embedding tasks: L2-normalise the vector (default true).
    #[serde(default)]
    pub normalize: Option<bool>,
    /// Classification tasks: "centroid" (default) or "knn", with `k` neighbours.
    #[serde(default)]
    pub classifier: Option<String>,
    #[serde(default)]
    pub k: Option<usize>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub system_prompt: Option<String>,
    #[serde(default)]
    pub system_prompt_file: Option<String>,
    #[serde(default)]
    pub examples: Option<Vec<Example>>,
    #[serde(default)]
    pub examples_file: Option<String>,
    #[serde(default)]
    pub schema: Option<Value>,
    #[serde(default)]
    pub schema_file: Option<String>,
    #[serde(default)]
    pub input_template: Option<String>,
    #[serde(default)]
    pub describe_schema: Option<bool>,
    #[serde(default)]
    pub max_new_tokens: Option<usize>,
    #[serde(default)]
    pub temperature: Option<f32>,
    #[serde(default)]
    pub top_p: Option<f32>,
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub threads: Option<usize>,
    #[serde(default)]
    pub context_overflow_action: Option<String>,
    #[serde(default)]
    pub max_context_size: Option<usize>,
    /// Bound for strings whose schema gives no `maxLength` (schema::DEFAULT_MAX_STRING_LENGTH).
    #[serde(default)]
    pub max_string_length: Option<u64>,
    /// Report each label field's confidence with the answer (`confidence`).
    #[serde(default)]
    pub confidence: Option<bool>,
    /// Per label field, the map from raw to calibrated confidence (`flinkllm calibrate` writes it).
    #[serde(default)]
    pub calibration: Option<crate::confidence::Calibration>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    pub input: String,
    pub output: Value,
}
