//! Arbitrary JSON values through the writer and both readers. The generators
//! lean on what YAML readers treat specially: words that are booleans, nulls
//! or numbers to some reader, indicators, code points that need escapes,
//! line feeds, spaces at either end, keys around the 1,024-character limit of
//! an implicit key, and numbers of every shape serde_json has.

use capstan_yaml::KeyOrder;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Number, Value};

use crate::round_trip;

/// Strings some YAML reader reads as something else, or that need care.
const TRICKY: &[&str] = &[
    "",
    " ",
    "  ",
    "\n",
    "\n\n",
    "\t",
    "\r",
    "\r\n",
    "yes",
    "Yes",
    "NO",
    "y",
    "N",
    "on",
    "Off",
    "true",
    "False",
    "TRUE",
    "null",
    "Null",
    "NULL",
    "~",
    "nan",
    "NaN",
    ".nan",
    "inf",
    ".inf",
    "-.inf",
    "+.inf",
    ".Inf",
    "0",
    "-0",
    "00",
    "0777",
    "0o17",
    "0x1F",
    "0b101",
    "1_000",
    "1:20",
    "190:20:30.15",
    "1e-7",
    "1e3",
    "1E3",
    "-1e3",
    "+1",
    "1.",
    ".5",
    "1.0",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "=",
    "<<",
    "-",
    "--",
    "---",
    "...",
    "--- x",
    "--port",
    "-x",
    "? x",
    "?",
    ":",
    ": x",
    "x:",
    "a: b",
    "a:b",
    "- x",
    "#",
    "#x",
    "x #y",
    "x#y",
    "&a",
    "*a",
    "!t",
    "!!str",
    "%YAML",
    "@a",
    "`b",
    "|",
    "|-",
    ">",
    ">+",
    "'",
    "''",
    "\"",
    "\\",
    "{}",
    "[]",
    "{a: 1}",
    "[1]",
    ",",
    "a, b",
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "namespace",
    "labels",
    "annotations",
    "app.kubernetes.io/name",
    "http://x/y?q=1&r=2",
    "\u{2028}",
    "\u{2029}",
    "\u{feff}",
    "\u{fffe}",
    "\u{ffff}",
    "\u{85}",
    "\u{a0}",
    "\u{7f}",
    "\u{0}",
    "\u{1b}",
    "\u{e000}",
    "\u{fffd}",
    "\u{10ffff}",
    "é",
    "ß",
    "😀",
];

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(TRICKY).prop_map(String::from),
        2 => "[a-zA-Z0-9]{1,6}",
        1 => "[ \t\n:#'\"\\\\,.=<>?|&*!%@`{}\\[\\]-]{1,3}",
        1 => any::<char>().prop_map(String::from),
    ]
}

/// Short strings glued from fragments, and long ones around 1,024 bytes.
fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => vec(fragment(), 0..4).prop_map(|parts| parts.concat()),
        1 => (fragment(), 1016usize..1032, fragment()).prop_map(|(head, len, tail)| {
            let mut s = head;
            while s.len() + tail.len() < len {
                s.push('k');
            }
            s + &tail
        }),
    ]
}

fn number() -> impl Strategy<Value = Number> {
    const FLOATS: &[f64] = &[
        0.0,
        -0.0,
        0.1,
        1.0,
        -1.5,
        1e-7,
        1e7,
        1e15,
        1e16,
        1e21,
        1e-5,
        5e-324,
        f64::MAX,
        f64::MIN,
        f64::MIN_POSITIVE,
        f64::EPSILON,
        123456789.123,
    ];
    prop_oneof![
        any::<u64>().prop_map(Number::from),
        any::<i64>().prop_map(Number::from),
        any::<u8>().prop_map(Number::from),
        proptest::sample::select(FLOATS).prop_filter_map("finite", Number::from_f64),
        any::<f64>().prop_filter_map("finite", Number::from_f64),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        2 => number().prop_map(Value::Number),
        6 => string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Array),
            vec((string(), inner), 0..5).prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

proptest! {
    // 1,500 cases of up to 40 nodes through both readers take about 4 s in
    // a debug build. No persistence file: a failure prints the shrunk value,
    // which then becomes a test in `regressions`.
    #![proptest_config(Config { cases: 1500, failure_persistence: None, ..Config::default() })]

    #[test]
    fn every_value_reads_back_the_same_in_yaml_1_1_and_1_2(value in value(), manifest in any::<bool>()) {
        let order = if manifest { KeyOrder::Manifest } else { KeyOrder::AsGiven };
        if let Err(why) = round_trip(&value, order) {
            prop_assert!(false, "{order:?} order: {why}");
        }
    }
}
