//! Java ↔ Rust values: strings in (exactly, or a clear error), typed ROW values out.

use crate::error::{JniError, Result};
use crate::shape::{Field, Shape};
use jni::objects::{JObject, JString, JValue};
use jni::JNIEnv;
use serde_json::Value;

/// A Java string as Rust UTF-8. NUL characters arrive intact; a lone surrogate has no
/// UTF-8 form and is reported instead of being replaced behind the caller's back.
pub fn rust_string(env: &mut JNIEnv, s: &JString, what: &str) -> Result<String> {
    if s.is_null() {
        return Err(JniError::InvalidInput(format!("{what} is null")));
    }
    let java = env.get_string(s)?;
    match cesu8::from_java_cesu8(java.to_bytes()) {
        Ok(text) => Ok(text.into_owned()),
        Err(_) => Err(JniError::InvalidInput(format!(
            "{what} is not valid Unicode (it contains a lone UTF-16 surrogate)"
        ))),
    }
}

/// The output value as the Java objects the ROW type declares: fields in schema order.
pub fn row_to_java<'l>(env: &mut JNIEnv<'l>, fields: &[Field], value: &Value) -> Result<JObject<'l>> {
    let object = value
        .as_object()
        .ok_or_else(|| JniError::Shape(format!("engine output is not a JSON object: {value}")))?;
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
    let mismatch = || JniError::Shape(format!("engine output {value} does not match the declared {shape:?}"));
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
