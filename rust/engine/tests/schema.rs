//! Schema handling without a model: unsupported keywords are named at load time,
//! the regex accepts the layout the engine writes, and the bounds tracker refuses
//! exactly the bytes that would break a bound the regex leaves out.

use flinkllm_engine::constraint::bounds::Tracker;
use flinkllm_engine::schema::{layout, parse_schema, regex::schema_regex, render, validate::Validator, DEFAULT_MAX_STRING_LENGTH};
use flinkllm_engine::ErrorKind;
use serde_json::{json, Value};

fn full_match(schema: &Value, text: &str) -> bool {
    let ir = parse_schema(schema).unwrap();
    let re = regex::Regex::new(&format!("^(?:{})$", schema_regex(&ir))).unwrap();
    re.is_match(text)
}

/// Both the regex and the bounds tracker take `text`: what the constraint lets through.
fn accepted(schema: &Value, text: &str) -> bool {
    full_match(schema, text) && tracked(schema, text)
}

/// Feeds `text` through the tracker; `Ok` if every byte and the end are accepted.
fn tracked(schema: &Value, text: &str) -> bool {
    let ir = parse_schema(schema).unwrap();
    let mut t = Tracker::new(&ir);
    t.push_bytes(text.as_bytes()).is_ok() && t.finish().is_ok()
}

#[test]
fn unsupported_keywords_are_named() {
    for (schema, word) in [
        (json!({"type": "array", "items": {"type": "number", "multipleOf": 0.5}}), "multipleOf"),
        (json!({"type": "string", "format": "hostname"}), "hostname"),
        (json!({"type": "string", "not": {"pattern": "^a"}}), "not"),
        (json!({"$ref": "#/$defs/n", "$defs": {"n": {"type": "object", "properties": {"c": {"$ref": "#/$defs/n"}}}}}), "recursive"),
        (json!({"oneOf": [{"type": "string"}, {"type": "string", "maxLength": 3}]}), "oneOf"),
        (json!({"allOf": [{"$ref": "https://example.com/s.json"}, {"type": "object"}]}), "remote"),
        (json!({"type": "array", "items": {"type": "integer"}, "contains": {"type": "integer"}, "maxContains": 1}), "maxContains"),
        (json!({"allOf": [{"type": "string"}, {"type": "integer"}]}), "allOf"),
    ] {
        let err = parse_schema(&schema).expect_err(word);
        assert_eq!(err.kind(), ErrorKind::UnsupportedSchema);
        assert!(err.reason().contains(word), "{word}: {}", err.reason());
    }
}

/// Draft 2020-12 keywords reduce to enforced ones: the reduced schema's regex and bounds
/// accept exactly the values shown, which the original schema allows too.
#[test]
fn draft_2020_keywords_reduce_to_enforced_ones() {
    // pydantic: a described $ref wrapped in allOf, merged with the object's own keywords
    let s = json!({"type": "object", "properties": {"level": {"allOf": [{"$ref": "#/$defs/L"}], "description": "how bad"}},
                   "required": ["level"], "$defs": {"L": {"enum": ["low", "high"]}}});
    assert!(accepted(&s, r#"{"level": "low"}"#));
    assert!(!accepted(&s, r#"{"level": "mid"}"#));
    // additionalProperties: false in one allOf branch forbids what the other declares
    let s = json!({"allOf": [{"type": "object", "properties": {"a": {"type": "null"}, "b": {"type": "null"}}, "required": ["a"]},
                             {"properties": {"a": {}}, "additionalProperties": false}]});
    assert!(accepted(&s, r#"{"a": null}"#));
    assert!(!accepted(&s, r#"{"a": null, "b": null}"#));
    // prefixItems: a tuple, with no more items after it
    let s = json!({"type": "array", "prefixItems": [{"type": "integer"}, {"type": "boolean"}], "items": false});
    assert!(accepted(&s, "[1, true]"));
    assert!(accepted(&s, "[1]"));
    assert!(!accepted(&s, "[true, 1]"));
    assert!(!accepted(&s, "[1, true, 2]"));
    // type next to anyOf, distributed into the branches
    let s = json!({"type": "string", "anyOf": [{"maxLength": 2}, {"minLength": 4}]});
    assert!(accepted(&s, r#""ab""#) && accepted(&s, r#""abcd""#));
    assert!(!accepted(&s, r#""abc""#));
    // an untyped, any-value field and a free string with the engine's bound
    let s = json!({"type": "object", "properties": {"x": {}, "s": {"type": "string"}}, "required": ["x", "s"]});
    assert!(accepted(&s, r#"{"x": [1, "a"], "s": "t"}"#) && accepted(&s, r#"{"x": null, "s": "t"}"#));
    let long = format!(r#"{{"x": 1, "s": "{}"}}"#, "a".repeat(DEFAULT_MAX_STRING_LENGTH as usize + 1));
    assert!(!accepted(&s, &long));
    // dependentRequired and minProperties decide which optional properties appear
    let s = json!({"type": "object", "properties": {"a": {"type": "null"}, "b": {"type": "null"}}, "required": ["a"],
                   "dependentRequired": {"a": ["b"]}});
    assert!(accepted(&s, r#"{"a": null, "b": null}"#));
    assert!(!accepted(&s, r#"{"a": null}"#));
    // multipleOf on integers, digit by digit: a prefix that cannot end on a multiple in range is refused
    let s = json!({"type": "integer", "multipleOf": 7, "maximum": 20});
    assert!(accepted(&s, "14") && accepted(&s, "-7") && accepted(&s, "0"));
    assert!(!accepted(&s, "15") && !accepted(&s, "21"));
    let ir = parse_schema(&s).unwrap();
    let t = Tracker::new(&ir);
    assert!(!t.accepts(b"2"), "2 is no multiple of 7, and 20..29 above the maximum reach none but 21");
    assert!(t.accepts(b"1"), "14");
    // if/then: values that satisfy both
    let s = json!({"type": "integer", "if": {"minimum": 10}, "then": {"maximum": 20}, "else": {"maximum": 0}});
    assert!(accepted(&s, "15"));
    assert!(!accepted(&s, "25") && !accepted(&s, "5"));
}

#[test]
fn regex_matches_the_written_layout() {
    let s = json!({
        "type": "object",
        "properties": {
            "a": {"type": "string", "maxLength": 5},
            "b": {"type": "integer"},
            "c": {"type": "array", "items": {"enum": ["x", "y"]}},
            "d": {"type": "boolean"}
        },
        "required": ["a", "c"]
    });
    assert!(full_match(&s, r#"{"a": "hi", "c": []}"#));
    assert!(full_match(&s, r#"{"a": "hi", "b": -12, "c": ["x", "y"], "d": true}"#));
    assert!(full_match(&s, r#"{"a": "hi", "c": ["y"], "d": false}"#));
    assert!(!full_match(&s, r#"{"c": [], "a": "hi"}"#), "schema order");
    assert!(!full_match(&s, r#"{"a":"hi","c":[]}"#), "fixed spacing");
    assert!(!full_match(&s, r#"{"a": "hi", "c": ["z"]}"#));
    // Only optional properties: any subset in order, including none.
    let o = json!({"type": "object", "properties": {"p": {"type": "null"}, "q": {"type": "null"}}});
    for text in ["{}", r#"{"p": null}"#, r#"{"q": null}"#, r#"{"p": null, "q": null}"#] {
        assert!(full_match(&o, text), "{text}");
    }
    assert!(!full_match(&o, r#"{, "q": null}"#));
}

#[test]
fn formats_and_patterns() {
    let date = json!({"type": "string", "format": "date"});
    assert!(full_match(&date, r#""2024-02-28""#));
    assert!(!full_match(&date, r#""2024-02-30""#));
    let dt = json!({"type": "string", "format": "date-time"});
    assert!(full_match(&dt, r#""2024-05-01T10:20:30Z""#));
    assert!(!full_match(&dt, r#""2024-05-01T10:20:30""#), "RFC 3339 needs an offset");
    let p = json!({"type": "string", "pattern": "^[A-Z]{2}-[0-9]+$"});
    assert!(full_match(&p, r#""AB-12""#));
    assert!(!full_match(&p, r#""ab-12""#));
    // A pattern that could write a raw quote is restricted, not trusted.
    let q = json!({"type": "string", "pattern": "^.{1,3}$"});
    assert!(full_match(&q, r#""abc""#));
    assert!(!full_match(&q, r#""a"b""#));
}

#[test]
fn tracker_enforces_string_length() {
    let s = json!({"type": "object", "properties": {"t": {"type": "string", "minLength": 2, "maxLength": 4}}, "required": ["t"]});
    assert!(tracked(&s, r#"{"t": "ab"}"#));
    assert!(tracked(&s, r#"{"t": "a\"cd"}"#), "an escape counts once");
    assert!(tracked(&s, r#"{"t": "héé!"}"#), "characters, not bytes");
    assert!(!tracked(&s, r#"{"t": "a"}"#));
    assert!(!tracked(&s, r#"{"t": "abcde"}"#));
}

#[test]
fn tracker_enforces_items_and_numbers() {
    let s = json!({
        "type": "object",
        "properties": {
            "n": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "integer", "minimum": 1, "maximum": 12}},
            "x": {"type": "number", "exclusiveMinimum": 0, "maximum": 1}
        },
        "required": ["n", "x"]
    });
    assert!(tracked(&s, r#"{"n": [1, 12], "x": 0.5}"#));
    assert!(tracked(&s, r#"{"n": [3], "x": 1}"#));
    assert!(!tracked(&s, r#"{"n": [], "x": 0.5}"#));
    assert!(!tracked(&s, r#"{"n": [1, 2, 3], "x": 0.5}"#));
    assert!(!tracked(&s, r#"{"n": [13], "x": 0.5}"#));
    assert!(!tracked(&s, r#"{"n": [0], "x": 0.5}"#));
    assert!(!tracked(&s, r#"{"n": [1], "x": 0}"#));
    assert!(!tracked(&s, r#"{"n": [1], "x": 1.5}"#));
    // A digit that can no longer lead into the range is refused at once.
    let ir = parse_schema(&s).unwrap();
    let mut t = Tracker::new(&ir);
    t.push_bytes(br#"{"n": [1"#).ok().unwrap();
    assert!(!t.accepts(b"3"), "13 and above are out of range");
    assert!(t.accepts(b"2"));
}

#[test]
fn anyof_intersects_bounds_of_open_branches() {
    let s = json!({"anyOf": [
        {"type": "object", "properties": {"k": {"type": "string", "maxLength": 3}}, "required": ["k"]},
        {"type": "object", "properties": {"k": {"type": "string", "maxLength": 6}, "z": {"type": "null"}}, "required": ["k"]}
    ]});
    assert!(tracked(&s, r#"{"k": "abc"}"#));
    assert!(!tracked(&s, r#"{"k": "abcd"}"#), "both branches still possible: the tighter bound holds");
    // Strings that are the alternatives of one anyOf are chosen between, not intersected.
    let s = json!({"type": "object", "properties": {"s": {"anyOf": [{"type": "string", "maxLength": 2}, {"type": "string", "minLength": 4}]}}, "required": ["s"]});
    assert!(tracked(&s, r#"{"s": "ab"}"#) && tracked(&s, r#"{"s": "abcd"}"#));
    assert!(!tracked(&s, r#"{"s": "abc"}"#));
}

#[test]
fn validator_and_layout_round_trip() {
    let s = json!({
        "$defs": {"tag": {"type": "string", "enum": ["a", "b"]}},
        "type": "object",
        "properties": {"tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}, "maxItems": 2}, "v": {"type": ["integer", "null"]}},
        "required": ["tags", "v"],
        "additionalProperties": false
    });
    let ir = parse_schema(&s).unwrap();
    let v = Validator::new(&ir);
    let good = json!({"v": null, "tags": ["a"]});
    assert!(v.validate(&good).is_ok());
    assert!(v.validate(&json!({"tags": ["c"], "v": 1})).is_err());
    assert!(v.validate(&json!({"tags": ["a", "b", "a"], "v": 1})).is_err());
    let text = layout::to_json(&render::canonical(&ir, ir.root, &good));
    assert_eq!(text, r#"{"tags": ["a"], "v": null}"#);
    assert!(full_match(&s, &text));
    assert!(tracked(&s, &text));
}

#[test]
fn top_level_scalars_can_end() {
    assert!(tracked(&json!({"type": "boolean"}), "true"));
    assert!(tracked(&json!({"type": "null"}), "null"));
    assert!(tracked(&json!({"type": "integer", "minimum": 3}), "42"));
    assert!(!tracked(&json!({"type": "integer", "minimum": 3}), "2"));
    assert!(tracked(&json!({"enum": ["a", 1, true]}), "true"));
}

/// uniqueItems: a byte is refused as soon as the item can only repeat an earlier one, and not
/// before, so the model can still write a different item.
#[test]
fn unique_items_are_refused_as_early_as_they_repeat() {
    let prefix_ok = |schema: &Value, text: &str| {
        let ir = parse_schema(schema).unwrap();
        let mut t = Tracker::new(&ir);
        t.push_bytes(text.as_bytes()).is_ok()
    };
    let tags = json!({"type": "array", "items": {"enum": ["a", "b"]}, "uniqueItems": true});
    assert!(accepted(&tags, r#"["a", "b"]"#) && accepted(&tags, r#"["b"]"#));
    assert!(!prefix_ok(&tags, r#"["a", "a"#), "only \"a\" starts so, and it is written");
    assert!(!prefix_ok(&tags, r#"["a", "b","#), "no value is left for a third item");
    let flags = json!({"type": "array", "items": {"type": "boolean"}, "uniqueItems": true});
    assert!(!prefix_ok(&flags, "[true, t") && prefix_ok(&flags, "[true, f"));
    let words = json!({"type": "array", "items": {"type": "string", "maxLength": 5}, "uniqueItems": true});
    assert!(prefix_ok(&words, r#"["x", "x"#) && !prefix_ok(&words, r#"["x", "x""#));
    assert!(accepted(&words, r#"["x", "xy"]"#));
    let numbers = json!({"type": "array", "items": {"type": "integer"}, "uniqueItems": true});
    assert!(!accepted(&numbers, "[1, 1]") && accepted(&numbers, "[1, 12]"));
    let err = parse_schema(&json!({"type": "array", "items": {"type": "boolean"}, "minItems": 3, "uniqueItems": true})).unwrap_err();
    assert!(err.reason().contains("uniqueItems"), "{}", err.reason());
}

