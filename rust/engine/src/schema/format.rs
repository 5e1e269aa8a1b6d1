//! Regexes for the supported string formats, written to satisfy the checks Python's
//! `jsonschema` FormatChecker applies (RFC 3339 date/date-time with a real calendar
//! day, RFC 4122 uuid text form, an address with `@`). They are deliberately narrower
//! than the formats: every string they allow is valid, not every valid string is allowed.
//! Offsets stay within ±18:00 (RFC 3339 allows ±23:59): the range java.time and most
//! parsers accept, so a date-time lands in a SQL TIMESTAMP wherever it goes.

use super::ir::Format;

/// Month/day pairs that exist in every year (February stops at 28).
const MONTH_DAY: &str = "(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))";

pub fn body_regex(f: Format) -> String {
    match f {
        Format::Date => format!("[12][0-9]{{3}}-{MONTH_DAY}"),
        Format::DateTime => format!(
            "[12][0-9]{{3}}-{MONTH_DAY}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{{1,6}})?(?:Z|[+-](?:(?:0[0-9]|1[0-7]):[0-5][0-9]|18:00))"
        ),
        Format::Uuid => "[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}".to_string(),
        Format::Email => "[a-zA-Z0-9._%+-]{1,64}@[a-zA-Z0-9-]{1,63}(?:\\.[a-zA-Z0-9-]{1,63}){1,4}".to_string(),
    }
}
