//! Reading JSONL input rows. A line that is not usable becomes a per-row error,
//! never a reason to stop: every input line yields exactly one output line.

use std::io::BufRead;
use std::path::Path;

use serde_json::{Map, Value};

use crate::CliError;

pub struct Row {
    /// `event_id` of the input line, copied to the output line.
    pub event_id: Option<Value>,
    /// The text to run, `Ok(None)` for a JSON null, or why the line is unusable.
    pub text: Result<Option<String>, String>,
}

pub fn read_rows(path: &Path, field: &str) -> Result<Vec<Row>, CliError> {
    let file = std::fs::File::open(path).map_err(|e| CliError(format!("{}: {e}", path.display())))?;
    let mut rows = Vec::new();
    for line in std::io::BufReader::new(file).split(b'\n') {
        let line = line?;
        // Undecodable bytes are replaced rather than dropping the row.
        let line = String::from_utf8_lossy(&line);
        rows.push(parse_row(line.trim_end_matches('\r'), field));
    }
    Ok(rows)
}

fn parse_row(line: &str, field: &str) -> Row {
    let obj: Map<String, Value> = match serde_json::from_str(line) {
        Ok(Value::Object(o)) => o,
        Ok(_) => return Row { event_id: None, text: Err("InvalidInput: line is not a JSON object".into()) },
        Err(e) => return Row { event_id: None, text: Err(format!("InvalidInput: line is not JSON: {e}")) },
    };
    let event_id = obj.get("event_id").cloned();
    let text = match obj.get(field) {
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Null) => Ok(None),
        Some(other) => Err(format!("InvalidInput: field {field:?} is not a string: {other}")),
        None => Err(format!("InvalidInput: no field {field:?}")),
    };
    Row { event_id, text }
}

/// Peak resident memory of this process (VmHWM), in MiB.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
