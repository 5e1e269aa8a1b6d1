//! Java ↔ Rust values: strings in (exactly, or a clear error), typed ROW values out.

use crate::error::{JniError, Result};
use flinkllm_engine::Error;
use crate::shape::{Field, Shape};
use jni::objects::{JObject, JString, JValue};
use jni::JNIEnv;
use serde_json::Value;

/// A Java string as Rust UTF-8. NUL characters arrive intact; a lone surrogate has no
/// UTF-8 form and is reported instead of being replaced behind the caller's back.
pub fn rust_string(env: &mut JNIEnv, s: &JString, what: &str) -> Result<String> {
    if s.is_null() {
        return Err(Error::InvalidInput(format!("{what} is null")).into());
    }
    let java = env.get_string(s)?;
    match cesu8::from_java_cesu8(java.to_bytes()) {
        Ok(text) => Ok(text.into_owned()),
        Err(_) => Err(Error::InvalidInput(format!("{what} is not valid Unicode (it contains a lone UTF-16 surrogate)")).into()),
    }
}

/// A row's text as Rust UTF-8, and whether it had to be repaired. Java strings may hold
/// ill-formed UTF-16 (a lone surrogate from a browser or a cut emoji); like
/// `String::from_utf16_lossy`, each unpaired surrogate becomes U+FFFD, so the row still gets
/// an answer instead of failing on its content. NUL characters arrive intact.
pub fn rust_text_lossy(env: &mut JNIEnv, s: &JString, what: &str) -> Result<(String, bool)> {
    if s.is_null() {
        return Err(Error::InvalidInput(format!("{what} is null")).into());
    }
    let java = env.get_string(s)?;
    let bytes = java.to_bytes();
    Ok(match cesu8::from_java_cesu8(bytes) {
        Ok(text) => (text.into_owned(), false),
        Err(_) => (String::from_utf16_lossy(&modified_utf8_units(bytes)), true),
    })
}

/// JNI's modified UTF-8 back into the UTF-16 code units it encodes: one to three bytes a
/// unit, surrogates encoded one by one (which is what makes a lone one representable).
fn modified_utf8_units(bytes: &[u8]) -> Vec<u16> {
    let mut units = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let tail = |k: usize| bytes.get(i + k).map_or(0, |t| (t & 0x3F) as u16);
        let (unit, len) = match b {
            0x00..=0x7F => (b as u16, 1),
            0xC0..=0xDF => (((b & 0x1F) as u16) << 6 | tail(1), 2),
            0xE0..=0xEF => (((b & 0x0F) as u16) << 12 | tail(1) << 6 | tail(2), 3),
            // Not produced by the JVM; kept as a replacement rather than trusted.
            _ => (0xFFFD, 1),
        };
        units.push(unit);
        i += len;
    }
    units
}

/// The output value as the Java objects the ROW type declares: fields in schema order.
pub fn row_to_java<'l>(env: &mut JNIEnv<'l>, fields: &[Field], value: &Value) -> Result<JObject<'l>> {
    let object = value
        .as_object()
        .ok_or_else(|| JniError::from(Error::Runtime(format!("engine output is not a JSON object: {value}"))))?;
    let array = env.new_object_array(fields.len() as i32, "java/lang/Object", JObject::null())?;
    for (i, field) in fields.iter().enumerate() {
        let item = match object.get(&field.name) {
            None | Some(Value::Null) => continue,
            Some(v) => to_java(env, &field.shape, v)?,
        };
        env.set_object_array_element(&array, i as i32, &item)?;
        env.delete_local_ref(item)?;
    }
    Ok(array.into())
}

fn to_java<'l>(env: &mut JNIEnv<'l>, shape: &Shape, value: &Value) -> Result<JObject<'l>> {
    let mismatch = || JniError::from(Error::Runtime(format!("engine output {value} does not match the declared {shape:?}")));
    Ok(match shape {
        _ if value.is_null() => JObject::null(),
        Shape::Json => env.new_string(value.to_string())?.into(),
        Shape::String => env.new_string(value.as_str().ok_or_else(mismatch)?)?.into(),
        Shape::Long => box_primitive(env, "java/lang/Long", "(J)Ljava/lang/Long;", JValue::Long(value.as_i64().ok_or_else(mismatch)?))?,
        Shape::Double => box_primitive(env, "java/lang/Double", "(D)Ljava/lang/Double;", JValue::Double(value.as_f64().ok_or_else(mismatch)?))?,
        Shape::Boolean => box_primitive(env, "java/lang/Boolean", "(Z)Ljava/lang/Boolean;", JValue::Bool(value.as_bool().ok_or_else(mismatch)? as u8))?,
        Shape::Row(fields) => row_to_java(env, fields, value)?,
        Shape::Array(item) => {
            let items = value.as_array().ok_or_else(mismatch)?;
            let array = env.new_object_array(items.len() as i32, "java/lang/Object", JObject::null())?;
            for (i, v) in items.iter().enumerate() {
                let element = to_java(env, item, v)?;
                env.set_object_array_element(&array, i as i32, &element)?;
                env.delete_local_ref(element)?;
            }
            array.into()
        }
    })
}

fn box_primitive<'l>(env: &mut JNIEnv<'l>, class: &str, signature: &str, value: JValue) -> Result<JObject<'l>> {
    Ok(env.call_static_method(class, "valueOf", signature, &[value])?.l()?)
}

#[cfg(test)]
mod tests {
    use super::modified_utf8_units;

    /// Modified UTF-8 as the JVM writes it: each UTF-16 unit on its own, NUL as C0 80.
    fn encode(units: &[u16]) -> Vec<u8> {
        let mut out = Vec::new();
        for &u in units {
            match u {
                0x01..=0x7F => out.push(u as u8),
                0x00 | 0x80..=0x7FF => out.extend([0xC0 | (u >> 6) as u8, 0x80 | (u & 0x3F) as u8]),
                _ => out.extend([0xE0 | (u >> 12) as u8, 0x80 | ((u >> 6) & 0x3F) as u8, 0x80 | (u & 0x3F) as u8]),
            }
        }
        out
    }

    #[test]
    fn every_unit_comes_back() {
        let text: Vec<u16> = "a\u{0}é日😀".encode_utf16().chain([0xD800, 0x41, 0xDC00]).collect();
        assert_eq!(modified_utf8_units(&encode(&text)), text);
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        for (units, expected) in [
            (vec![0xD83D, 0x20, 0x61], "\u{FFFD} a"),
            (vec![0x61, 0xDE00], "a\u{FFFD}"),
            (vec![0xD83D, 0xDE00, 0xD83D], "😀\u{FFFD}"),
        ] {
            assert_eq!(String::from_utf16_lossy(&modified_utf8_units(&encode(&units))), expected);
        }
    }
}
