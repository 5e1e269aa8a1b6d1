//! Local `$ref`s (`"#/..."`), resolved one way for normalization (a `$ref` merged with the
//! keywords beside it) and parsing (a `$ref` alone); remote ones are never fetched.

use serde_json::Value;

use crate::error::{Error, Result};

/// The `$ref` at `path` (its value `r`): its target as written and the subschema it points to.
pub(crate) fn resolve<'v, 'r>(root: &'v Value, r: &'r Value, path: &str) -> Result<(&'r str, &'v Value)> {
    let refused = |what: String| Error::UnsupportedSchema(format!("{path}: {what}"));
    let target = r.as_str().ok_or_else(|| refused("invalid schema: `$ref` must be a string".into()))?;
    let pointer = target.strip_prefix('#').ok_or_else(|| {
        refused(format!("keyword `$ref` to {target}: only local references (\"#/...\") are supported; remote ones are never fetched"))
    })?;
    let resolved = root.pointer(pointer).ok_or_else(|| refused(format!("keyword `$ref` {target} points nowhere")))?;
    Ok((target, resolved))
}
