//! The YAML writer (`capstan-yaml`, every rendered file and `yamlencode()`):
//! any JSON value, written in either key order, reads back as the same value
//! (serde_norway, a libyaml reader). The input is JSON text, or, when that
//! does not parse, raw bytes shaped into a value (strings of any characters,
//! numbers at the edges), so the fuzzer reaches odd scalars quickly.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use capstan_yaml::KeyOrder;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Number, Value};

fn value(u: &mut Unstructured<'_>, depth: u32) -> arbitrary::Result<Value> {
    let pick = if depth >= 4 { u.int_in_range(0..=5)? } else { u.int_in_range(0..=7)? };
    Ok(match pick {
        0 => Value::Null,
        1 => Value::Bool(bool::arbitrary(u)?),
        2 => Value::Number(i64::arbitrary(u)?.into()),
        3 => Value::Number(u64::arbitrary(u)?.into()),
        4 => Number::from_f64(f64::arbitrary(u)?).map_or(Value::Null, Value::Number),
        5 => Value::String(String::arbitrary(u)?),
        6 => {
            let n = u.int_in_range(0..=4)?;
            Value::Array((0..n).map(|_| value(u, depth + 1)).collect::<arbitrary::Result<_>>()?)
        }
        _ => {
            let n = u.int_in_range(0..=4)?;
            let mut map = Map::new();
            for _ in 0..n {
                map.insert(String::arbitrary(u)?, value(u, depth + 1)?);
            }
            Value::Object(map)
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let v = match serde_json::from_slice::<Value>(data) {
        Ok(v) => v,
        Err(_) => match value(&mut Unstructured::new(data), 0) {
            Ok(v) => v,
            Err(_) => return,
        },
    };
    for order in [KeyOrder::AsGiven, KeyOrder::Manifest] {
        let text = capstan_yaml::to_string(&v, order);
        match serde_norway::from_str::<Value>(&text) {
            Ok(back) => assert!(back == v, "{v} was written as\n{text}\nand read back as {back}"),
            Err(e) => panic!("{v} was written as\n{text}\nwhich does not read: {e}"),
        }
    }
});
