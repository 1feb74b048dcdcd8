//! Round trips of the YAML writer through two independent readers:
//! serde_norway (libyaml, YAML 1.2 scalars) in process and PyYAML (YAML 1.1)
//! through a Python coprocess.
//!
//! - `regressions`: one test per defect the writer once had.
//! - `property`: arbitrary JSON values, heavy on the strings, keys and numbers
//!   YAML readers treat specially, through both readers.
//! - `pyyaml`: the PyYAML coprocess (`pyyaml_load.py`).

mod property;
mod pyyaml;
mod regressions;

use capstan_yaml::KeyOrder;
use serde_json::Value;

/// `value` written in `order` and read back by serde_norway and by PyYAML;
/// the text written, or which reader read what, with the text.
pub fn round_trip(value: &Value, order: KeyOrder) -> Result<String, String> {
    let text = capstan_yaml::to_string(value, order);
    match serde_norway::from_str::<Value>(&text) {
        Ok(back) if back == *value => {}
        Ok(back) => return Err(format!("serde_norway read back {back}\nfrom:\n{text}")),
        Err(e) => return Err(format!("serde_norway cannot read it: {e}\n{text}")),
    }
    match pyyaml::check(&text, value) {
        Ok(()) => Ok(text),
        Err(e) => Err(format!("PyYAML: {e}\nfrom:\n{text}")),
    }
}

/// [`round_trip`] in both key orders, panicking with the reader's story.
#[track_caller]
pub fn assert_round_trips(value: &Value) -> String {
    let given = round_trip(value, KeyOrder::AsGiven).unwrap_or_else(|e| panic!("{value}: {e}"));
    round_trip(value, KeyOrder::Manifest).unwrap_or_else(|e| panic!("{value}: {e}"));
    given
}
