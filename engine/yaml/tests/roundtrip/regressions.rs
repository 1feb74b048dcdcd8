//! One test per defect the writer had (issue #23), each read back by
//! serde_norway and by PyYAML, as values and as keys where both can occur.

use serde_json::json;

use crate::assert_round_trips;

#[test]
fn a_value_of_only_a_line_feed_reads_back_as_a_line_feed() {
    // Written as a literal block it had no content line, and a clipped block
    // without content reads back as "": such a field changed on every plan.
    for s in ["\n", "\n\n", "\n\n\n"] {
        let text = assert_round_trips(&json!({ "data": { "k": s }, "list": [s] }));
        assert!(!text.contains('|'), "{s:?} is not a block:\n{text}");
    }
    assert_round_trips(&json!("\n"));
}

#[test]
fn line_and_paragraph_separators_and_non_characters_are_escaped() {
    // Raw, U+2028 and U+2029 are line breaks to a YAML 1.1 reader and U+FFFE,
    // U+FFFF are not allowed in a YAML stream: the whole file was unreadable.
    for c in ['\u{2028}', '\u{2029}', '\u{fffe}', '\u{ffff}'] {
        for s in [c.to_string(), format!("a{c}b"), format!("line\n{c}\nblock\n")] {
            let text = assert_round_trips(&json!({ "v": s, s.clone(): [s] }));
            assert!(!text.contains(c), "{c:?} is escaped:\n{text}");
        }
    }
}

#[test]
fn a_key_starting_with_a_byte_order_mark_keeps_it() {
    for key in ["\u{feff}", "\u{feff}key", "k\u{feff}"] {
        assert_round_trips(&json!({ key: 1, "x": { key: key } }));
    }
    assert_round_trips(&json!(["\u{feff}"]));
}

#[test]
fn keys_longer_than_1024_characters_read_back() {
    // Plain, quoted and escaped keys on both sides of the implicit-key limit,
    // with every kind of value after them, at the top and in a sequence.
    for n in [1000, 1022, 1023, 1024, 1025, 1026, 5000] {
        for key in ["k".repeat(n), format!("0{}", "k".repeat(n - 1)), format!("\t{}", "k".repeat(n - 1))] {
            let value =
                json!({ key.clone(): { key.clone(): [1, {"a": key}], "s": "x\ny" }, "b": [[]], "c": "" });
            assert_round_trips(&value);
            assert_round_trips(&json!([value, { key: "multi\nline\n" }]));
        }
    }
}

#[test]
fn an_equals_sign_is_a_string_to_yaml_1_1_readers() {
    // Plain, `=` is YAML 1.1's "value" key, which PyYAML refuses to load.
    let text = assert_round_trips(&json!({ "=": "=", "l": ["="], "a=b": "x=y" }));
    assert!(text.contains("'=': '='\n") && text.contains("a=b: x=y\n"), "{text}");
}

#[test]
fn floats_in_exponent_form_read_back_as_floats() {
    // serde_json spells them 1e-7 and 1e21, which YAML 1.1 reads as strings.
    let floats = [1e-7, -1e-7, 1.5e-7, 1e21, 2.5e300, 5e-324, f64::MAX, f64::MIN_POSITIVE, 1e16, 0.1];
    let text = assert_round_trips(&json!({ "f": floats }));
    assert!(text.contains("- 1.0e-7\n") && text.contains("- 1.0e+21\n"), "{text}");
    for f in floats {
        assert_round_trips(&json!(f));
    }
}
