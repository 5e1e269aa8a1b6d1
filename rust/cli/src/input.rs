//! Reading JSONL input rows. A line that is not usable becomes a per-row error,
//! never a reason to stop: every input line yields exactly one output line.

use std::borrow::Cow;
use std::io::BufRead;
use std::path::Path;

use serde_json::{Map, Value};

use crate::CliError;

pub struct Row {
    /// `event_id` of the input line, copied to the output line.
    pub event_id: Option<Value>,
    /// The text to run, `Ok(None)` for a JSON null, or why the line is unusable.
    pub text: Result<Option<String>, String>,
    /// The line held ill-formed text (undecodable bytes, a lone surrogate escape) that
    /// was replaced with U+FFFD.
    pub repaired: bool,
}

pub fn read_rows(path: &Path, field: &str) -> Result<Vec<Row>, CliError> {
    let file = std::fs::File::open(path).map_err(|e| CliError(format!("{}: {e}", path.display())))?;
    let mut rows = Vec::new();
    for line in std::io::BufReader::new(file).split(b'\n') {
        let line = line?;
        // Undecodable bytes are replaced rather than dropping the row.
        let text = String::from_utf8_lossy(&line);
        let mut row = parse_row(text.trim_end_matches('\r'), field);
        row.repaired |= matches!(text, Cow::Owned(_));
        rows.push(row);
    }
    Ok(rows)
}

fn parse_row(line: &str, field: &str) -> Row {
    // serde_json refuses a `\ud83d` escape without its other half; Python's and Jackson's
    // readers (and so Flink's JSON format) accept it. Repair such escapes, as every text
    // pipeline does, rather than lose the row.
    let (parsed, repaired) = match serde_json::from_str(line) {
        Err(e) => match repair_surrogate_escapes(line) {
            Some(fixed) => (serde_json::from_str(&fixed), true),
            None => (Err(e), false),
        },
        ok => (ok, false),
    };
    let unusable = |reason: String| Row { event_id: None, text: Err(reason), repaired };
    let obj: Map<String, Value> = match parsed {
        Ok(Value::Object(o)) => o,
        Ok(_) => return unusable("InvalidInput: line is not a JSON object".into()),
        Err(e) => return unusable(format!("InvalidInput: line is not JSON: {e}")),
    };
    let event_id = obj.get("event_id").cloned();
    let text = match obj.get(field) {
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Null) => Ok(None),
        Some(other) => Err(format!("InvalidInput: field {field:?} is not a string: {other}")),
        None => Err(format!("InvalidInput: no field {field:?}")),
    };
    Row { event_id, text, repaired }
}

/// The JSON text with every `\uXXXX` escape of an unpaired UTF-16 surrogate replaced by
/// `\ufffd`; `None` if there was none.
fn repair_surrogate_escapes(line: &str) -> Option<String> {
    let bytes = line.as_bytes();
    let escape_at = |i: usize| -> Option<u16> {
        let hex = bytes.get(i..i + 6).filter(|e| e.starts_with(b"\\u"))?;
        u16::from_str_radix(std::str::from_utf8(&hex[2..]).ok()?, 16).ok()
    };
    let (mut out, mut copied, mut i, mut changed) = (String::with_capacity(line.len()), 0, 0, false);
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        let unit = match escape_at(i) {
            Some(u) => u,
            None => {
                i += 2; // any other escape, `\\` included: skip both characters
                continue;
            }
        };
        let paired = (0xD800..0xDC00).contains(&unit) && escape_at(i + 6).is_some_and(|low| (0xDC00..0xE000).contains(&low));
        if paired {
            i += 12;
        } else if (0xD800..0xE000).contains(&unit) {
            out.push_str(&line[copied..i]);
            out.push_str("\\ufffd");
            i += 6;
            copied = i;
            changed = true;
        } else {
            i += 6;
        }
    }
    out.push_str(&line[copied..]);
    changed.then_some(out)
}

/// Peak resident memory of this process (VmHWM), in MiB.
/// Where output lines go: the file (created, buffered), or stdout.
pub fn output(path: Option<&Path>) -> Result<Box<dyn std::io::Write>, CliError> {
    Ok(match path {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| CliError(format!("{}: {e}", p.display())))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    })
}

/// An output line's start: the row's `event_id`, if it has one.
pub fn line_for(row: &Row) -> Map<String, Value> {
    let mut line = Map::new();
    if let Some(id) = &row.event_id {
        line.insert("event_id".into(), id.clone());
    }
    line
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn text(line: &str) -> (Option<String>, bool) {
        let row = parse_row(line, "message");
        (row.text.unwrap(), row.repaired)
    }

    #[test]
    fn lone_surrogate_escapes_become_replacement_characters() {
        assert_eq!(text(r#"{"message": "a \ud83d b"}"#), (Some("a \u{FFFD} b".into()), true));
        assert_eq!(text(r#"{"message": "\udc00start"}"#), (Some("\u{FFFD}start".into()), true));
        assert_eq!(text(r#"{"message": "end\uD83D"}"#), (Some("end\u{FFFD}".into()), true));
        assert_eq!(text(r#"{"message": "\ud83d\ud83d\ude00"}"#), (Some("\u{FFFD}😀".into()), true));
    }

    #[test]
    fn well_formed_lines_are_untouched() {
        assert_eq!(text(r#"{"message": "pair \ud83d\ude00 and \\ud83d literal"}"#), (Some("pair 😀 and \\ud83d literal".into()), false));
        assert!(parse_row("not json", "message").text.is_err());
    }
}
