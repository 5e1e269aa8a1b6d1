//! `pattern` keyword → a regex fragment for the raw JSON string body.
//!
//! The fragment is matched against the JSON text between the quotes, so it must not
//! be able to produce `"`, `\` or control characters (which JSON would need escaped).
//! We parse the pattern and intersect every character class with the characters that
//! may appear raw in a JSON string, instead of hoping the pattern never yields them.

use regex_syntax::hir::{Class, ClassBytes, ClassBytesRange, ClassUnicode, ClassUnicodeRange, Hir, HirKind};

use crate::error::{Error, Result};

/// A `pattern` ready for the constraint: its regex fragment, and the fewest characters a
/// string matching it has (to refuse, at load, a pattern no string within its length bound matches).
pub struct Body {
    pub regex: String,
    pub min_chars: u64,
}

pub fn body_regex(pattern: &str, path: &str) -> Result<Body> {
    let err = |what: String| Error::UnsupportedSchema(format!("{path}: pattern {pattern:?}: {what}"));
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .map_err(|e| err(format!("cannot be parsed as a regex: {e}")))?;
    // JSON Schema patterns search anywhere in the string. A string that fully matches
    // the (de-anchored) pattern also contains a match, so generating full matches is sound.
    let hir = strip_edge_anchors(hir);
    let safe = restrict(&hir).map_err(err)?;
    Ok(Body { regex: safe.to_string(), min_chars: min_chars(&safe) })
}

/// The fewest characters `hir` matches (saturating: a huge counted repetition is "many").
fn min_chars(hir: &Hir) -> u64 {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => 0,
        HirKind::Literal(lit) => String::from_utf8_lossy(&lit.0).chars().count() as u64,
        HirKind::Class(_) => 1,
        HirKind::Repetition(rep) => u64::from(rep.min).saturating_mul(min_chars(&rep.sub)),
        HirKind::Capture(cap) => min_chars(&cap.sub),
        HirKind::Concat(parts) => parts.iter().map(min_chars).fold(0, u64::saturating_add),
        HirKind::Alternation(parts) => parts.iter().map(min_chars).min().unwrap_or(0),
    }
}

fn strip_edge_anchors(hir: Hir) -> Hir {
    match hir.kind() {
        HirKind::Concat(parts) => {
            let mut parts = parts.to_vec();
            if parts.first().is_some_and(|h| matches!(h.kind(), HirKind::Look(_))) {
                parts.remove(0);
            }
            if parts.last().is_some_and(|h| matches!(h.kind(), HirKind::Look(_))) {
                parts.pop();
            }
            Hir::concat(parts)
        }
        HirKind::Look(_) => Hir::empty(),
        _ => hir,
    }
}

fn allowed_unicode() -> ClassUnicode {
    ClassUnicode::new([
        ClassUnicodeRange::new('\u{20}', '\u{21}'),
        ClassUnicodeRange::new('\u{23}', '\u{5B}'),
        ClassUnicodeRange::new('\u{5D}', '\u{7E}'),
        // 0x7F-0x9F are left out like outlines-core's string regex does.
        ClassUnicodeRange::new('\u{A0}', '\u{10FFFF}'),
    ])
}

fn restrict(hir: &Hir) -> std::result::Result<Hir, String> {
    Ok(match hir.kind() {
        HirKind::Empty => Hir::empty(),
        HirKind::Literal(lit) => {
            let text = std::str::from_utf8(&lit.0).map_err(|_| "matches non-UTF-8 bytes".to_string())?;
            if let Some(c) = text.chars().find(|c| !allowed_unicode().ranges().iter().any(|r| r.start() <= *c && *c <= r.end())) {
                return Err(format!(
                    "requires the character {c:?}, which a JSON string cannot hold unescaped; not supported"
                ));
            }
            hir.clone()
        }
        HirKind::Class(Class::Unicode(cls)) => {
            let mut c = cls.clone();
            c.intersect(&allowed_unicode());
            Hir::class(Class::Unicode(c))
        }
        HirKind::Class(Class::Bytes(cls)) => {
            let mut c = cls.clone();
            c.intersect(&ClassBytes::new([
                ClassBytesRange::new(0x20, 0x21),
                ClassBytesRange::new(0x23, 0x5B),
                ClassBytesRange::new(0x5D, 0x7E),
            ]));
            Hir::class(Class::Bytes(c))
        }
        HirKind::Look(_) => return Err("anchors or word boundaries inside the pattern are not supported".into()),
        HirKind::Repetition(rep) => {
            let mut r = rep.clone();
            r.sub = Box::new(restrict(&rep.sub)?);
            Hir::repetition(r)
        }
        HirKind::Capture(cap) => restrict(&cap.sub)?,
        HirKind::Concat(parts) => Hir::concat(parts.iter().map(restrict).collect::<Result<_, _>>()?),
        HirKind::Alternation(parts) => Hir::alternation(parts.iter().map(restrict).collect::<Result<_, _>>()?),
    })
}
