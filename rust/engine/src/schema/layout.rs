//! The one layout of JSON the constraint makes the model write: `{"a": 1, "b": [1, 2]}`,
//! one space after `:` and `,`, none elsewhere. Fixed so that punctuation and keys are
//! forced text for jump-forward; the regex builder, the size bound, examples and the bounds
//! tracker all render through here.

use serde_json::Value;

pub const ITEM_SEP: &str = ", ";
pub const KEY_SEP: &str = ": ";

/// `{"a": 1, "b": [1, 2]}`: the layout the constraint forces.
pub fn to_json(v: &Value) -> String {
    let mut out = String::new();
    write(v, &mut out);
    out
}

fn write(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(ITEM_SEP);
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push_str(KEY_SEP);
                write(x, out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(ITEM_SEP);
                }
                write(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

