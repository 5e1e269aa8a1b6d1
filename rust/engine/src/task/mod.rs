//! Task files: what a task says (model, prompt, examples, schema, decoding settings),
//! read and checked without loading any model, so a planner can ask for the schema.
//!
//! Relative paths in a task file resolve against the task file's folder. `model` is
//! either a path (contains `/`, or starts with `.` or `~`) or a bare model name looked
//! up in the models directory: the `models_dir` option, else `$FLINKLLM_MODELS`, else
//! `~/.cache/flinkllm/models`.

pub(crate) mod file;
pub(crate) mod keys;
pub(crate) mod kind;

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};


use crate::batch::BatchConfig;
use crate::confine::AllowedPaths;
use crate::encoder::classify::Nearest;
use crate::overflow::ContextOverflow;
use file::TaskFile;
pub use file::Example;
pub use kind::{EncoderSettings, TaskKind};
use crate::error::{Error, Result};
use crate::schema::{self, layout, render, validate::Validator, SchemaIr};

/// Caller overrides (JNI options, CLI flags); `None` keeps the task file's value. Tasks
/// opened with equal options share one open task (`Task::load`); so do their rows' batches.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskOptions {
    /// A model name or directory instead of the task file's `model` (compare models or
    /// precisions without editing the task).
    pub model: Option<String>,
    pub max_new_tokens: Option<usize>,
    pub threads: Option<usize>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub seed: Option<u64>,
    pub context_overflow: Option<ContextOverflow>,
    /// Where bare model names are looked up.
    pub models_dir: Option<PathBuf>,
    /// The `libonnxruntime.so` to load (else `ORT_DYLIB_PATH`).
    pub ort_library: Option<PathBuf>,
    /// How rows of the task share forward passes (default: each row alone).
    pub batch: BatchConfig,
    /// Directories the task file, the files it names and the model may be read from.
    pub allowed_paths: AllowedPaths,
    /// Report label confidence uncalibrated, whatever the task file says: what a calibration
    /// is fitted on (`flinkllm calibrate`).
    pub raw_confidence: bool,
}

impl TaskOptions {
    /// These options with a caller's overrides from a JSON object, as a binding forwards them
    /// (kebab- or snake-case): `model`, `max-tokens`, `context-overflow-action` (`error`,
    /// `truncated-tail`, `truncated-head`) and `batch-size` (rows per shared pass; 1: alone).
    pub fn with_overrides(mut self, json: &str) -> Result<TaskOptions> {
        let doc: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(json).map_err(|e| Error::InvalidTask(format!("options {json}: {e}")))?;
        let bad = |key: &str, what: &str| Error::InvalidTask(format!("option '{key}' must be {what}"));
        for (written, value) in doc {
            let count = || value.as_u64().filter(|n| *n >= 1).map(|n| n as usize).ok_or_else(|| bad(&written, "a whole number >= 1"));
            match keys::find(&written).map_or(written.replace('-', "_"), |k| k.name.to_string()).as_str() {
                "model" => self.model = Some(value.as_str().ok_or_else(|| bad(&written, "a string"))?.to_string()),
                "max_new_tokens" => self.max_new_tokens = Some(count()?),
                "batch_size" => self.batch = BatchConfig::batched(count()?),
                "context_overflow_action" => {
                    let action = value.as_str().ok_or_else(|| bad(&written, "a string"))?;
                    self.context_overflow = Some(ContextOverflow::parse(action)?);
                }
                _ => return Err(Error::InvalidTask(format!(
                    "unknown option '{written}' (a caller overrides model, max-tokens, context-overflow-action, batch-size)"
                ))),
            }
        }
        Ok(self)
    }
}

// Floats compare by their bits: options are a sharing key, and two spellings of one value
// (there are none here but NaN, which validation rejects) would only open a second task.
impl Eq for TaskOptions {}

impl Hash for TaskOptions {
    fn hash<H: Hasher>(&self, h: &mut H) {
        (&self.model, self.max_new_tokens, self.threads, self.temperature.map(f32::to_bits), self.top_p.map(f32::to_bits)).hash(h);
        (self.seed, self.context_overflow, &self.models_dir, &self.ort_library, self.batch, &self.allowed_paths, self.raw_confidence).hash(h);
    }
}

/// Effective decoding settings after defaults and overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub max_new_tokens: usize,
    pub temperature: f32,
    pub top_p: f32,
    pub seed: u64,
    pub threads: usize,
    pub context_overflow: ContextOverflow,
    /// The most tokens of a row's input (the text the template wraps) the model reads; a
    /// longer input is handled by `context_overflow` (named after Flink's `max-context-size`).
    /// `None`: whatever the model's context window leaves room for. A cap keeps one huge
    /// event from costing a prefill of thousands of tokens on a model with a long window.
    pub max_context_size: Option<usize>,
    /// `max_new_tokens` was derived (from the schema, or the default), not given: the
    /// task may lower it to fit the model's context window.
    pub cap_derived: bool,
    /// The label fields' calibration when the task asks for confidence (`confidence: true`).
    pub confidence: Option<crate::confidence::Calibration>,
}

/// The token cap of a task that gives none and whose schema leaves some string or array
/// unbounded.
pub const DEFAULT_MAX_NEW_TOKENS: usize = 256;

/// Where a task comes from: a task file, or a task document a caller built (the model
/// provider writes one from `CREATE MODEL` options), read as if it were a file in `base`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TaskSource {
    File(PathBuf),
    Inline {
        /// Names the task in errors (e.g. the model's SQL identifier).
        label: String,
        /// Relative file names and model paths resolve against it.
        base: PathBuf,
        json: String,
    },
}

impl TaskSource {
    /// How errors name the task: the file's path, or the document's label.
    pub fn label(&self) -> String {
        match self {
            TaskSource::File(path) => path.display().to_string(),
            TaskSource::Inline { label, .. } => label.clone(),
        }
    }

    fn base(&self) -> PathBuf {
        match self {
            TaskSource::File(path) => path.parent().map(Path::to_path_buf).unwrap_or_default(),
            TaskSource::Inline { base, .. } => base.clone(),
        }
    }

    fn text(&self, allowed: &AllowedPaths) -> Result<String> {
        match self {
            TaskSource::File(path) => {
                allowed.check(path, "task file")?;
                std::fs::read_to_string(path).map_err(|e| invalid(&self.label(), format_args!("cannot read: {e}")))
            }
            TaskSource::Inline { json, .. } => Ok(json.clone()),
        }
    }

    /// The task's name when it gives none: the file name without `.task.json`, or the label.
    fn default_name(&self) -> String {
        match self {
            TaskSource::File(path) => path
                .file_name()
                .and_then(|n| n.to_str())
                .map(|n| n.trim_end_matches(".json").trim_end_matches(".task").to_string())
                .unwrap_or_default(),
            TaskSource::Inline { label, .. } => label.clone(),
        }
    }
}

/// A task file, read and checked, without its model.
#[derive(Debug)]
pub struct TaskSpec {
    /// How errors name the task (`TaskSource::label`).
    pub origin: String,
    pub name: String,
    pub description: Option<String>,
    pub model_dir: PathBuf,
    /// Generation, embedding or classification (what runs the task and what it returns).
    pub kind: TaskKind,
    pub encoder: EncoderSettings,
    pub system_prompt: String,
    pub examples: Vec<Example>,
    /// The parsed schema (`ir.source` is the schema as written).
    pub ir: SchemaIr,
    pub input_template: String,
    pub describe_schema: bool,
    pub settings: Settings,
}

fn invalid(origin: &str, what: impl std::fmt::Display) -> Error {
    Error::InvalidTask(format!("{origin}: {what}"))
}

/// A file the task names (`key`), read only where the allowed paths permit.
fn read_text(base: &Path, rel: &str, task: &str, key: &str, allowed: &AllowedPaths) -> Result<String> {
    let p = base.join(rel);
    allowed.check(&p, &format!("{task}: {key}"))?;
    std::fs::read_to_string(&p).map_err(|e| invalid(task, format_args!("cannot read {}: {e}", p.display())))
}

fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(p),
    }
}

/// The models directory used for bare model names.
pub fn models_dir(opts: &TaskOptions) -> PathBuf {
    if let Some(d) = &opts.models_dir {
        return d.clone();
    }
    match std::env::var("FLINKLLM_MODELS") {
        Ok(d) if !d.is_empty() => expand_home(&d),
        _ => expand_home("~/.cache/flinkllm/models"),
    }
}

impl TaskSpec {
    pub fn load(path: &Path, opts: &TaskOptions) -> Result<TaskSpec> {
        Self::from_source(&TaskSource::File(path.to_path_buf()), opts)
    }

    pub fn from_source(source: &TaskSource, opts: &TaskOptions) -> Result<TaskSpec> {
        let allowed = &opts.allowed_paths;
        let origin = source.label();
        let path = origin.as_str();
        let doc: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&source.text(allowed)?).map_err(|e| invalid(path, e))?;
        let keys = keys::check(doc).map_err(|e| invalid(path, e))?;
        let f: TaskFile = serde_json::from_value(keys.doc.clone().into()).map_err(|e| invalid(path, e))?;
        let base = source.base();

        let model = opts.model.as_deref().unwrap_or(&f.model);
        let model_dir = if model.contains('/') || model.starts_with('.') || model.starts_with('~') {
            let p = expand_home(model);
            if p.is_absolute() { p } else { base.join(p) }
        } else {
            models_dir(opts).join(model)
        };
        allowed.check(&model_dir, &format!("{path}: model"))?;

        let system_prompt = match (f.system_prompt, f.system_prompt_file) {
            (Some(s), None) => s,
            (None, Some(file)) => read_text(&base, &file, path, "system_prompt_file", allowed)?,
            (None, None) => String::new(),
            (Some(_), Some(_)) => return Err(invalid(path, format_args!("give '{}' or '{}', not both", keys.name("system_prompt"), keys.name("system_prompt_file")))),
        };
        let schema = match (f.schema, f.schema_file) {
            (Some(s), None) => s,
            (None, None) if f.task.as_deref() == Some("embedding") => kind::default_embedding_schema(),
            (None, Some(file)) => serde_json::from_str(&read_text(&base, &file, path, "schema_file", allowed)?)
                .map_err(|e| invalid(path, format_args!("{file}: {e}")))?,
            _ => return Err(invalid(path, format_args!("give exactly one of '{}' or '{}'", keys.name("schema"), keys.name("schema_file")))),
        };
        if f.max_string_length == Some(0) {
            return Err(invalid(path, format_args!("'{}' must be at least 1", keys.name("max_string_length"))));
        }
        let ir = schema::parse_schema_with(&schema, f.max_string_length.unwrap_or(schema::DEFAULT_MAX_STRING_LENGTH))?;
        let examples = match (f.examples, f.examples_file) {
            (Some(e), None) => e,
            (None, Some(file)) => read_text(&base, &file, path, "examples_file", allowed)?
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(i, l)| serde_json::from_str(l).map_err(|e| invalid(path, format_args!("{file}:{}: {e}", i + 1))))
                .collect::<Result<_>>()?,
            (None, None) => Vec::new(),
            (Some(_), Some(_)) => return Err(invalid(path, format_args!("give '{}' or '{}', not both", keys.name("examples"), keys.name("examples_file")))),
        };
        let kind = kind::task_kind(f.task.as_deref(), &ir).map_err(|e| invalid(path, e))?;
        if !kind.is_encoder() {
            // Planning reads the spec too: a schema over the compile budget fails at submit.
            crate::constraint::check_automaton(&ir)?;
        }
        if kind.is_encoder() {
            // A classification example is a text and its label; the score is the engine's.
            kind::example_labels(&kind, &examples).map_err(|e| invalid(path, e))?;
        } else {
            // An example that breaks the schema would teach the model the wrong output.
            let validator = Validator::new(&ir);
            for (i, ex) in examples.iter().enumerate() {
                validator
                    .validate(&ex.output)
                    .map_err(|e| invalid(path, format_args!("example {} does not match the schema: {e}", i + 1)))?;
            }
        }
        let encoder = EncoderSettings {
            max_length: f.max_length,
            normalize: f.normalize.unwrap_or(true),
            nearest: Nearest::parse(f.classifier.as_deref().unwrap_or("centroid"), f.k).map_err(|e| invalid(path, e))?,
        };
        if encoder.max_length == Some(0) {
            return Err(invalid(path, format_args!("'{}' must be at least 1", keys.name("max_length"))));
        }
        let input_template = f.input_template.unwrap_or_else(|| "{input}".into());
        if input_template.matches("{input}").count() != 1 {
            return Err(invalid(path, format_args!("'{}' must contain {{input}} exactly once", keys.name("input_template"))));
        }

        let overflow = match (opts.context_overflow, f.context_overflow_action) {
            (Some(o), _) => o,
            (None, Some(s)) => ContextOverflow::parse(&s).map_err(|e| invalid(path, e))?,
            (None, None) => ContextOverflow::TruncateTail,
        };
        let cap_derived = opts.max_new_tokens.or(f.max_new_tokens).is_none();
        let settings = Settings {
            // No cap given: the longest answer the schema allows (+1 for the stop token), so
            // a valid answer never hits it; a schema with an unbounded string or array gets
            // DEFAULT_MAX_NEW_TOKENS.
            max_new_tokens: opts
                .max_new_tokens
                .or(f.max_new_tokens)
                .or_else(|| schema::size::max_output_bytes(&ir).map(|b| b + 1))
                .unwrap_or(DEFAULT_MAX_NEW_TOKENS),
            cap_derived,
            temperature: opts.temperature.or(f.temperature).unwrap_or(0.0),
            top_p: opts.top_p.or(f.top_p).unwrap_or(1.0),
            seed: opts.seed.or(f.seed).unwrap_or(0),
            threads: opts
                .threads
                .or(f.threads)
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get().min(8))),
            context_overflow: overflow,
            max_context_size: f.max_context_size,
            confidence: match confidence_settings(f.confidence, f.calibration, &ir, kind.is_encoder()).map_err(|e| invalid(path, e))? {
                _ if opts.raw_confidence => Some(crate::confidence::Calibration::new()),
                asked => asked,
            },
        };
        if settings.max_context_size == Some(0) {
            return Err(invalid(path, format_args!("'{}' must be at least 1", keys.name("max_context_size"))));
        }
        if settings.max_new_tokens == 0 || settings.threads == 0 || opts.batch.max_batch == 0 {
            return Err(invalid(path, "max_new_tokens, threads and the batch size must be at least 1"));
        }
        if !(settings.temperature >= 0.0 && settings.top_p > 0.0 && settings.top_p <= 1.0) {
            return Err(invalid(path, format_args!("'{}' must be >= 0 and '{}' in (0, 1]", keys.name("temperature"), keys.name("top_p"))));
        }
        let name = f.name.unwrap_or_else(|| source.default_name());
        Ok(TaskSpec {
            origin: origin.clone(),
            name,
            description: f.description,
            model_dir,
            kind,
            encoder,
            system_prompt,
            examples,
            ir,
            input_template,
            describe_schema: f.describe_schema.unwrap_or(true),
            settings,
        })
    }

    /// Checks the task's model directory without loading the model (see
    /// `Model::check_dir`); errors name the task file and the model directory.
    pub fn check_model(&self) -> Result<()> {
        let checked = if self.kind.is_encoder() {
            crate::encoder::check_dir(&self.model_dir)
        } else {
            crate::model::Model::check_dir(&self.model_dir)
        };
        checked.map_err(|e| {
            Error::ModelLoad(format!("{}: model {}: {}", self.origin, self.model_dir.display(), e.reason()))
        })
    }

    /// The label fields whose confidence each answer reports (`confidence: true`), or `None`.
    pub fn confidence_fields(&self) -> Option<Vec<String>> {
        self.settings.confidence.as_ref().map(|_| crate::confidence::label_fields(&self.ir))
    }

    /// The system message: the task's prompt plus, unless turned off, the field list.
    pub fn system_message(&self) -> String {
        if !self.describe_schema {
            return self.system_prompt.trim_end().to_string();
        }
        let fields = render::describe(&self.ir);
        let intro = if self.system_prompt.trim().is_empty() { "" } else { "\n\n" };
        format!("{}{intro}Answer with JSON only, with these fields:\n{fields}", self.system_prompt.trim_end())
    }

    /// A text inside the task's `input_template` (an example's input; an encoder's row, which
    /// has no prompt to keep the template in, so a long input is cut with the template's end).
    pub fn templated<'a>(&self, input: &'a str) -> std::borrow::Cow<'a, str> {
        match self.input_template.as_str() {
            "{input}" => input.into(),
            template => template.replacen("{input}", input, 1).into(),
        }
    }

    /// Example output in the exact layout the constraint produces.
    pub fn example_answer(&self, ex: &Example) -> String {
        layout::to_json(&render::canonical(&self.ir, self.ir.root, &ex.output))
    }
}

/// `confidence` and `calibration` of a task file: calibrations only for label fields, and
/// only on generation tasks (an encoder's score is its own).
fn confidence_settings(
    asked: Option<bool>,
    calibration: Option<crate::confidence::Calibration>,
    ir: &SchemaIr,
    encoder: bool,
) -> std::result::Result<Option<crate::confidence::Calibration>, String> {
    if encoder && (asked.is_some() || calibration.is_some()) {
        return Err("confidence and calibration apply to generation tasks".into());
    }
    let calibration = calibration.unwrap_or_default();
    let labels = crate::confidence::label_fields(ir);
    if asked == Some(true) && labels.is_empty() {
        return Err("confidence: the schema has no label field (an enum or a boolean) to report it for".into());
    }
    if let Some(field) = calibration.keys().find(|f| !labels.contains(f)) {
        return Err(format!("calibration names {field:?}, which is not a label field of the schema (label fields: {labels:?})"));
    }
    if let Some((field, _)) = calibration.iter().find(|(_, p)| !(p.a.is_finite() && p.b.is_finite() && p.a > 0.0)) {
        return Err(format!("calibration of {field:?}: a must be a positive number and b a number"));
    }
    Ok(asked.unwrap_or(false).then_some(calibration))
}
