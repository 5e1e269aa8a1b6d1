//! JSON schema → the shape of the Flink value: one mapping used both for the SQL type
//! declared at planning time and for the Java objects built from each output, so the two
//! can never disagree.
//!
//! string→STRING, integer→BIGINT, number→DOUBLE, boolean→BOOLEAN, array→ARRAY, object with
//! properties→ROW (fields not in `required` nullable). Anything without one Flink type
//! (mixed anyOf, free-form objects, mixed enums) becomes a STRING holding the JSON text.

use flinkllm_engine::confidence;
use flinkllm_engine::schema::{Node, NodeId, SchemaIr};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    String,
    Long,
    Double,
    Boolean,
    Array(Box<Shape>),
    Row(Vec<Field>),
    /// No single Flink type: the JSON text, as STRING.
    Json,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub shape: Shape,
    pub nullable: bool,
}

/// The shape of the schema's root, which must be a ROW (an object with properties).
pub fn row_shape(schema: &SchemaIr) -> Result<Shape, String> {
    match shape_of(schema, schema.root).0 {
        row @ Shape::Row(_) => Ok(row),
        other => Err(format!(
            "the task's schema must be an object with properties to give a ROW, but its root maps to {}",
            sql_type(&other)
        )),
    }
}

/// The ROW a task's answers fill: the schema's, plus a nullable `confidence` ROW of one DOUBLE
/// per label field when the task reports confidence.
pub fn task_row(schema: &SchemaIr, confidence_fields: Option<Vec<String>>) -> Result<Shape, String> {
    let Shape::Row(mut fields) = row_shape(schema)? else { unreachable!("row_shape returns a ROW") };
    if let Some(labels) = confidence_fields {
        if fields.iter().any(|f| f.name == confidence::FIELD) {
            return Err(format!("the task reports confidence in a field `{}`, which its schema has too; rename that property", confidence::FIELD));
        }
        let labels = labels.into_iter().map(|name| Field { name, shape: Shape::Double, nullable: true }).collect();
        fields.push(Field { name: confidence::FIELD.into(), shape: Shape::Row(labels), nullable: true });
    }
    Ok(Shape::Row(fields))
}

/// The shape of a node, and whether JSON null is one of its values.
fn shape_of(schema: &SchemaIr, id: NodeId) -> (Shape, bool) {
    match schema.node(id) {
        Node::String { .. } => (Shape::String, false),
        Node::Integer { .. } => (Shape::Long, false),
        Node::Number { .. } => (Shape::Double, false),
        Node::Boolean => (Shape::Boolean, false),
        Node::Null => (Shape::Json, true),
        Node::Enum(values) => enum_shape(values),
        // A tuple's positions have types of their own: its JSON text, as for mixed anyOf.
        Node::Array { prefix, .. } if !prefix.is_empty() => (Shape::Json, false),
        Node::Array { items, .. } => (Shape::Array(Box::new(shape_of(schema, *items).0)), false),
        Node::Object { properties, .. } if properties.is_empty() => (Shape::Json, false),
        Node::Object { properties, .. } => {
            let fields = properties
                .iter()
                .map(|p| {
                    let (shape, null_allowed) = shape_of(schema, p.node);
                    Field { name: p.name.clone(), shape, nullable: null_allowed || !p.required }
                })
                .collect();
            (Shape::Row(fields), false)
        }
        Node::AnyOf { .. } => {
            let mut alternatives = Vec::new();
            schema.alternatives(id, &mut alternatives);
            let nullable = alternatives.iter().any(|&a| matches!(schema.node(a), Node::Null));
            let shapes: Vec<Shape> = alternatives
                .iter()
                .filter(|&&a| !matches!(schema.node(a), Node::Null))
                .map(|&a| shape_of(schema, a).0)
                .collect();
            match shapes.split_first() {
                Some((first, rest)) if rest.iter().all(|s| s == first) => (first.clone(), nullable),
                _ => (Shape::Json, nullable),
            }
        }
    }
}

fn enum_shape(values: &[Value]) -> (Shape, bool) {
    let nullable = values.iter().any(Value::is_null);
    let non_null: Vec<&Value> = values.iter().filter(|v| !v.is_null()).collect();
    let shape = if non_null.is_empty() {
        Shape::Json
    } else if non_null.iter().all(|v| v.is_string()) {
        Shape::String
    } else if non_null.iter().all(|v| v.is_i64()) {
        Shape::Long
    } else if non_null.iter().all(|v| v.is_number()) {
        Shape::Double
    } else if non_null.iter().all(|v| v.is_boolean()) {
        Shape::Boolean
    } else {
        Shape::Json
    };
    (shape, nullable)
}

/// Flink SQL type syntax, parsed on the Java side by Flink's `LogicalTypeParser`.
/// Array elements stay nullable: `ARRAY<BIGINT NOT NULL>` would bridge to `long[]`.
pub fn sql_type(shape: &Shape) -> String {
    match shape {
        Shape::String | Shape::Json => "STRING".into(),
        Shape::Long => "BIGINT".into(),
        Shape::Double => "DOUBLE".into(),
        Shape::Boolean => "BOOLEAN".into(),
        Shape::Array(item) => format!("ARRAY<{}>", sql_type(item)),
        Shape::Row(fields) => {
            let fields: Vec<String> = fields
                .iter()
                .map(|f| {
                    let not_null = if f.nullable { "" } else { " NOT NULL" };
                    format!("`{}` {}{}", f.name.replace('`', "``"), sql_type(&f.shape), not_null)
                })
                .collect();
            format!("ROW<{}>", fields.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flinkllm_engine::schema::parse_schema;
    use serde_json::json;

    fn type_of(schema: Value) -> String {
        sql_type(&row_shape(&parse_schema(&schema).unwrap()).unwrap())
    }

    #[test]
    fn scalars_required_and_optional() {
        let t = type_of(json!({"type": "object", "properties": {
            "s": {"type": "string"}, "i": {"type": "integer"}, "n": {"type": "number"},
            "b": {"type": "boolean"}, "e": {"enum": ["x", "y"]}},
            "required": ["s", "i"]}));
        assert_eq!(t, "ROW<`s` STRING NOT NULL, `i` BIGINT NOT NULL, `n` DOUBLE, `b` BOOLEAN, `e` STRING>");
    }

    #[test]
    fn draft_2020_shapes() {
        // allOf merges into one ROW; a tuple and an any-value field are JSON text.
        let t = type_of(json!({"allOf": [
            {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
            {"properties": {"pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]}, "any": {}},
             "required": ["pair"]}]}));
        assert_eq!(t, "ROW<`a` BIGINT NOT NULL, `pair` STRING NOT NULL, `any` STRING>");
    }

    #[test]
    fn nested_arrays_and_rows() {
        let t = type_of(json!({"type": "object", "properties": {
            "entities": {"type": "array", "items": {"type": "object",
                "properties": {"entity": {"type": "string"}, "type": {"enum": ["PER", "ORG"]}},
                "required": ["entity", "type"]}}},
            "required": ["entities"]}));
        assert_eq!(t, "ROW<`entities` ARRAY<ROW<`entity` STRING NOT NULL, `type` STRING NOT NULL>> NOT NULL>");
    }

    #[test]
    fn nullable_any_of_and_mixed_any_of() {
        let t = type_of(json!({"type": "object", "properties": {
            "a": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "m": {"anyOf": [{"type": "integer"}, {"type": "string"}]}},
            "required": ["a", "m"]}));
        assert_eq!(t, "ROW<`a` BIGINT, `m` STRING NOT NULL>");
    }

    #[test]
    fn backticks_in_names_are_escaped() {
        assert_eq!(type_of(json!({"type": "object", "properties": {"a`b": {"type": "string"}}})), "ROW<`a``b` STRING>");
    }

    #[test]
    fn root_must_be_a_row() {
        let schema = parse_schema(&json!({"type": "array", "items": {"type": "string"}})).unwrap();
        assert!(row_shape(&schema).unwrap_err().contains("ARRAY<STRING>"));
    }
}

#[cfg(test)]
mod confidence_tests {
    use super::*;
    use flinkllm_engine::schema::parse_schema;
    use serde_json::json;

    #[test]
    fn a_task_reporting_confidence_gets_a_confidence_row_of_its_labels() {
        let ir = parse_schema(&json!({"type": "object", "properties": {"c": {"enum": ["a", "b"]}, "n": {"type": "string", "maxLength": 3}},
                                      "required": ["c", "n"]}))
        .unwrap();
        let row = task_row(&ir, Some(vec!["c".into()])).unwrap();
        assert_eq!(sql_type(&row), "ROW<`c` STRING NOT NULL, `n` STRING NOT NULL, `confidence` ROW<`c` DOUBLE>>");
        assert_eq!(task_row(&ir, None).unwrap(), row_shape(&ir).unwrap());
        let clash = parse_schema(&json!({"type": "object", "properties": {"confidence": {"enum": ["low", "high"]}}})).unwrap();
        assert!(task_row(&clash, Some(vec!["confidence".into()])).unwrap_err().contains("rename that property"));
    }
}
