//! What an encoder task asks for, read from its `task` and schema: the vector column of an
//! embedding, or the label (and score) columns of a classification.

use serde_json::{json, Value};

use crate::schema::{Node, NodeId, SchemaIr};
use super::file::Example;
use super::keys::{CLASSIFICATION, EMBEDDING, KINDS, TEXT_GENERATION};

use crate::encoder::classify::Nearest;

/// The kind of a task (`"task"` in a task file, `'task'` of `CREATE MODEL`; Confluent's names).
#[derive(Debug, Clone, PartialEq)]
pub enum TaskKind {
    /// A generative model writes JSON that matches the schema (the default).
    TextGeneration,
    /// A sentence encoder's vector, in the schema's one array-of-numbers property.
    Embedding { field: String },
    /// The label whose examples a row's vector is nearest to (`label`: a string enum
    /// property), and, if the schema has a number property, the score.
    Classification { label: String, score: Option<String>, labels: Vec<String> },
}

impl TaskKind {
    pub fn is_encoder(&self) -> bool {
        !matches!(self, TaskKind::TextGeneration)
    }
}

/// How an encoder task reads and compares text (task file keys `max_length`, `normalize`,
/// `classifier`, `k`; defaults from the model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EncoderSettings {
    /// Tokens per row, special tokens included; `None`: the model's `max_length`.
    pub max_length: Option<usize>,
    /// L2-normalise embeddings (classification always compares normalised vectors).
    pub normalize: bool,
    pub nearest: Nearest,
}

/// The schema an embedding task has when it gives none.
pub fn default_embedding_schema() -> Value {
    json!({"type": "object", "properties": {"embedding": {"type": "array", "items": {"type": "number"}}},
           "required": ["embedding"]})
}

/// The concrete node of a property, looking through `anyOf [T, null]` (nullable columns).
fn concrete(ir: &SchemaIr, id: NodeId) -> Option<&Node> {
    let mut alternatives = Vec::new();
    ir.alternatives(id, &mut alternatives);
    let mut non_null = alternatives.into_iter().map(|a| ir.node(a)).filter(|n| !matches!(n, Node::Null));
    match (non_null.next(), non_null.next()) {
        (Some(node), None) => Some(node),
        _ => None,
    }
}

/// Reads the kind from `task` and the schema; errors say what the schema must look like.
pub fn task_kind(task: Option<&str>, ir: &SchemaIr) -> Result<TaskKind, String> {
    let task = task.unwrap_or(TEXT_GENERATION);
    if task == TEXT_GENERATION {
        return Ok(TaskKind::TextGeneration);
    }
    let Node::Object { properties, .. } = ir.node(ir.root) else {
        return Err(format!("a {task} task's schema must be an object"));
    };
    match task {
        EMBEDDING => match properties.as_slice() {
            [p] if matches!(concrete(ir, p.node), Some(Node::Array { items, prefix, .. })
                if prefix.is_empty() && matches!(ir.node(*items), Node::Number { .. })) =>
            {
                Ok(TaskKind::Embedding { field: p.name.clone() })
            }
            _ => Err("an embedding task's schema must have exactly one property, an array of numbers \
                      (e.g. OUTPUT (embedding ARRAY<FLOAT>))"
                .into()),
        },
        CLASSIFICATION => {
            let (mut label, mut score, mut labels) = (None, None, Vec::new());
            for p in properties {
                match concrete(ir, p.node) {
                    Some(Node::Enum(values)) if label.is_none() && values.iter().all(Value::is_string) => {
                        label = Some(p.name.clone());
                        labels = values.iter().filter_map(|v| v.as_str().map(str::to_string)).collect();
                    }
                    Some(Node::Number { .. }) if score.is_none() => score = Some(p.name.clone()),
                    _ => {
                        return Err(format!(
                            "a classification task's schema has one string enum property (the label) and at most one \
                             number property (the score); {:?} is neither",
                            p.name
                        ))
                    }
                }
            }
            let label = label.ok_or("a classification task's schema needs a string enum property: the labels")?;
            Ok(TaskKind::Classification { label, score, labels })
        }
        other => Err(format!("task {other:?}: use one of {KINDS:?}")),
    }
}

/// Each example's label index; every label needs at least one example.
pub fn example_labels(kind: &TaskKind, examples: &[Example]) -> Result<Vec<usize>, String> {
    let TaskKind::Classification { label, labels, .. } = kind else { return Ok(Vec::new()) };
    let indices = examples
        .iter()
        .enumerate()
        .map(|(i, ex)| {
            let value = ex.output.get(label).and_then(Value::as_str);
            value.and_then(|v| labels.iter().position(|l| l == v)).ok_or_else(|| {
                format!("example {}: output.{label} must be one of the labels {labels:?}, got {:?}", i + 1, ex.output.get(label))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(missing) = labels.iter().enumerate().find(|(i, _)| !indices.contains(i)) {
        return Err(format!("label {:?} has no example: a classification task needs at least one per label", missing.1));
    }
    Ok(indices)
}
