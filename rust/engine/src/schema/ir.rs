//! The parsed schema: an arena of typed nodes that the regex builder, the bounds tracker, the
//! output validator and the prompt read, and the two markers `normalize` hands to `parse`.

use serde_json::Value;

/// Length bound for strings whose schema gives none (task key `max_string_length`): without
/// one, a model that rambles never closes the string and the row is lost to the token cap.
pub const DEFAULT_MAX_STRING_LENGTH: u64 = 512;

/// Marks a `$defs` entry that could not be normalized; the parser refuses it with the
/// message only if a `$ref` uses it.
pub const UNSUPPORTED: &str = "x-flinkllm-unsupported";

pub type NodeId = usize;

/// An inclusive or exclusive numeric bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    pub value: f64,
    pub exclusive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Date,
    DateTime,
    Uuid,
    Email,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    pub name: String,
    pub node: NodeId,
    pub required: bool,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Object {
        properties: Vec<Property>,
        /// False only for `additionalProperties: false`; matters for oneOf disjointness.
        additional: bool,
    },
    Array {
        /// `prefixItems`: the first items' own schemas (a tuple); `items` for the rest.
        prefix: Vec<NodeId>,
        items: NodeId,
        min_items: u64,
        max_items: Option<u64>,
        /// `uniqueItems: true`, enforced while writing (constraint::unique).
        unique: bool,
    },
    String {
        min_length: u64,
        max_length: Option<u64>,
        /// Regex fragment for the raw JSON string body (already restricted so it
        /// cannot produce quotes, backslashes or control characters).
        pattern: Option<String>,
        /// The pattern as written in the schema, for validation.
        pattern_source: Option<String>,
        format: Option<Format>,
    },
    Integer {
        minimum: Option<Bound>,
        maximum: Option<Bound>,
        /// `multipleOf` (a positive integer), enforced digit by digit like the bounds.
        multiple_of: Option<u64>,
    },
    Number {
        minimum: Option<Bound>,
        maximum: Option<Bound>,
    },
    Boolean,
    Null,
    /// `enum` and `const` (one value).
    Enum(Vec<Value>),
    /// `anyOf`, `oneOf` (proved disjoint at load time), and type lists.
    AnyOf {
        branches: Vec<NodeId>,
        one_of: bool,
    },
}

/// The parsed schema: an arena of nodes, `root` first.
#[derive(Debug, Clone)]
pub struct SchemaIr {
    pub nodes: Vec<Node>,
    pub root: NodeId,
    /// The schema as given, kept for the JNI layer's type mapping and for tools.
    pub source: Value,
}

impl SchemaIr {
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    /// `AnyOf` nodes replaced by their branches, recursively: the concrete
    /// alternatives a value at this position may take.
    pub fn alternatives(&self, id: NodeId, out: &mut Vec<NodeId>) {
        alternatives(&self.nodes, id, out)
    }
}

/// `SchemaIr::alternatives` over a node arena (also while it is being parsed).
pub(crate) fn alternatives(nodes: &[Node], id: NodeId, out: &mut Vec<NodeId>) {
    match &nodes[id] {
        Node::AnyOf { branches, .. } => {
            for &b in branches {
                alternatives(nodes, b, out);
            }
        }
        _ => {
            if !out.contains(&id) {
                out.push(id)
            }
        }
    }
}

/// A JSON pointer-ish location used in error messages (`#/properties/x/items`).
pub(crate) fn child_path(path: &str, key: &str) -> String {
    format!("{path}/{}", key.replace('~', "~0").replace('/', "~1"))
}
