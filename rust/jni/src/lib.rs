//! JNI binding of the flinkllm engine for `io.flinkllm.engine.Engine`. Thin by design: every
//! entry point converts arguments, calls the engine, converts the result, and turns every
//! error — and every panic — into a typed Java exception. No logic of its own beyond the
//! JSON-schema → Flink type mapping (`shape`), which is a type conversion.

mod convert;
mod engine_api;
mod error;
mod handles;
mod shape;

use convert::{row_to_java, rust_string, rust_text_lossy};
use error::{JniError, Result};
use handles::Handles;
use flinkllm_engine::Error;
use jni::objects::{JClass, JLongArray, JObject, JString};
use jni::sys::{jlong, jobjectArray, jstring};
use jni::JNIEnv;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

/// Index of the input-repaired flag in `Engine.generate`'s stats array (after the three
/// token counts; `Engine.STAT_REPAIRED_INPUT` in Java).
const STAT_REPAIRED_INPUT: i32 = 3;

/// Open tasks, by the handle Java holds.
static TASKS: Handles<engine_api::OpenTask> = Handles::new();

/// Runs `body`, turning an error or a panic into a pending Java exception and `default`
/// (which Java never sees: the exception is raised on return).
fn entry<'l, T>(env: &mut JNIEnv<'l>, default: T, body: impl FnOnce(&mut JNIEnv<'l>) -> Result<T>) -> T {
    let outcome = catch_unwind(AssertUnwindSafe(|| body(env)));
    let error = match outcome {
        Ok(Ok(value)) => return value,
        Ok(Err(e)) => e,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".into());
            JniError::Engine(Error::Panic(format!("panic in libflinkllm: {message}")))
        }
    };
    error.throw(env);
    default
}

#[no_mangle]
pub extern "system" fn Java_io_flinkllm_engine_Engine_init<'l>(mut env: JNIEnv<'l>, _c: JClass<'l>, ort_path: JString<'l>) {
    entry(&mut env, (), |env| {
        let path = rust_string(env, &ort_path, "onnxRuntimePath")?;
        Ok(engine_api::init(&path)?)
    })
}

#[no_mangle]
pub extern "system" fn Java_io_flinkllm_engine_Engine_setSchemaBudget<'l>(mut env: JNIEnv<'l>, _c: JClass<'l>, setting: JString<'l>) {
    entry(&mut env, (), |env| {
        let setting = rust_string(env, &setting, "schemaBudget")?;
        Ok(engine_api::set_schema_budget(&setting)?)
    })
}

/// Planning: the task's ROW type (Flink SQL) after checking the task, the caller's options and
/// the model directory, in one read of the task.
#[no_mangle]
pub extern "system" fn Java_io_flinkllm_engine_Engine_plan<'l>(
    mut env: JNIEnv<'l>,
    _c: JClass<'l>,
    task: JString<'l>,
    inline_task: JString<'l>,
    base: JString<'l>,
    options: JString<'l>,
    allowed_paths: JString<'l>,
) -> jstring {
    entry(&mut env, std::ptr::null_mut(), |env| {
        let (source, options, allowed) = task_arguments(env, [&task, &inline_task, &base, &options, &allowed_paths])?;
        let row = engine_api::plan(&source, &options, allowed)?;
        Ok(env.new_string(shape::sql_type(&row))?.into_raw())
    })
}

/// The task keys the engine reads (JSON: name, alias, applies, doc), for the provider's
/// option list and the option reference.
#[no_mangle]
pub extern "system" fn Java_io_flinkllm_engine_Engine_taskKeys<'l>(mut env: JNIEnv<'l>, _c: JClass<'l>) -> jstring {
    entry(&mut env, std::ptr::null_mut(), |env| Ok(env.new_string(engine_api::task_keys())?.into_raw()))
}

/// The arguments `plan` and `open` share: `task` (a task file's path, or with `inline_task`
/// non-null the label of that task document), the document's `base` directory, the caller's
/// options document and the allowed paths.
fn task_arguments(
    env: &mut JNIEnv,
    [task, inline_task, base, options, allowed_paths]: [&JString; 5],
) -> Result<(flinkllm_engine::TaskSource, String, flinkllm_engine::AllowedPaths)> {
    let label = rust_string(env, task, "task")?;
    let base = optional_string(env, base, "base")?;
    let source = engine_api::task_source(label, optional_string(env, inline_task, "inlineTask")?, base);
    Ok((source, rust_string(env, options, "options")?, allowed(env, allowed_paths)?))
}

fn optional_string(env: &mut JNIEnv, s: &JString, what: &str) -> Result<Option<String>> {
    if s.is_null() {
        Ok(None)
    } else {
        rust_string(env, s, what).map(Some)
    }
}

/// The operator's allowed directories; a null string: not set.
fn allowed(env: &mut JNIEnv, setting: &JString) -> Result<flinkllm_engine::AllowedPaths> {
    Ok(engine_api::allowed_paths(optional_string(env, setting, "allowedPaths")?.as_deref()))
}

#[no_mangle]
pub extern "system" fn Java_io_flinkllm_engine_Engine_open<'l>(
    mut env: JNIEnv<'l>,
    _c: JClass<'l>,
    task: JString<'l>,
    inline_task: JString<'l>,
    base: JString<'l>,
    options: JString<'l>,
    allowed_paths: JString<'l>,
) -> jlong {
    entry(&mut env, 0, |env| {
        let (source, options, allowed) = task_arguments(env, [&task, &inline_task, &base, &options, &allowed_paths])?;
        Ok(TASKS.insert(engine_api::open(source, &options, allowed)?))
    })
}

#[no_mangle]
pub extern "system" fn Java_io_flinkllm_engine_Engine_warmUp<'l>(mut env: JNIEnv<'l>, _c: JClass<'l>, handle: jlong) {
    entry(&mut env, (), |_| Ok(engine_api::warm_up(&*TASKS.get(handle)?)?))
}

#[no_mangle]
pub extern "system" fn Java_io_flinkllm_engine_Engine_generate<'l>(
    mut env: JNIEnv<'l>,
    _c: JClass<'l>,
    handle: jlong,
    input: JString<'l>,
    timeout_millis: jlong,
    stats: JLongArray<'l>,
) -> jobjectArray {
    entry(&mut env, std::ptr::null_mut(), |env| {
        let task = TASKS.get(handle)?;
        let (text, repaired) = rust_text_lossy(env, &input, "input")?;
        if !stats.is_null() {
            // Before the row runs, so the caller counts a repaired input whatever the outcome.
            env.set_long_array_region(&stats, STAT_REPAIRED_INPUT, &[repaired as jlong])?;
        }
        let timeout = (timeout_millis > 0).then(|| Duration::from_millis(timeout_millis as u64));
        let (value, row) = engine_api::generate(&task, &text, timeout)?;
        let fields = match &task.shape {
            shape::Shape::Row(fields) => fields,
            other => return Err(Error::Runtime(format!("task output is not a ROW: {other:?}")).into()),
        };
        let out = row_to_java(env, fields, &value)?;
        if !stats.is_null() {
            let counts = [row.prompt_tokens as jlong, row.generated_tokens as jlong, row.forced_tokens as jlong];
            env.set_long_array_region(&stats, 0, &counts)?;
        }
        Ok(out.into_raw())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_flinkllm_engine_Engine_nativeMemoryBytes<'l>(mut env: JNIEnv<'l>, _c: JClass<'l>, handle: jlong) -> jlong {
    entry(&mut env, 0, |_| Ok(engine_api::native_memory_bytes(&*TASKS.get(handle)?) as jlong))
}

#[no_mangle]
pub extern "system" fn Java_io_flinkllm_engine_Engine_close<'l>(mut env: JNIEnv<'l>, _c: JClass<'l>, handle: jlong) {
    entry(&mut env, (), |_| {
        drop(TASKS.remove(handle)?);
        // The task (and its model, if this was the model's last task) is gone: give its
        // memory back to the system instead of leaving it in the allocator's free lists.
        engine_api::release_free_memory();
        Ok(())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_flinkllm_engine_Engine_rowErrorKinds<'l>(mut env: JNIEnv<'l>, _c: JClass<'l>) -> jobjectArray {
    entry(&mut env, std::ptr::null_mut(), |env| {
        let kinds = engine_api::row_error_kinds();
        let array = env.new_object_array(kinds.len() as i32, "java/lang/String", JObject::null())?;
        for (i, kind) in kinds.iter().enumerate() {
            let name = env.new_string(kind)?;
            env.set_object_array_element(&array, i as i32, &name)?;
        }
        Ok(array.into_raw())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_flinkllm_engine_Engine_modelLoads<'l>(mut env: JNIEnv<'l>, _c: JClass<'l>) -> jlong {
    entry(&mut env, 0, |_| Ok(engine_api::model_loads() as jlong))
}

#[no_mangle]
pub extern "system" fn Java_io_flinkllm_engine_Engine_liveModels<'l>(mut env: JNIEnv<'l>, _c: JClass<'l>) -> jlong {
    entry(&mut env, 0, |_| Ok(engine_api::live_models() as jlong))
}
