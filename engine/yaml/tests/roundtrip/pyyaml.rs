//! PyYAML (YAML 1.1, the reading of go-yaml v2 and much Kubernetes tooling)
//! as a coprocess: one `python3 pyyaml_load.py` for the whole test binary,
//! fed one document and the value it should read at a time, so a property
//! test can ask it about hundreds of documents (and shrink a failure) without
//! starting Python each time.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

struct Coprocess {
    // Kept so the child is owned for the life of the test binary.
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

fn start() -> Coprocess {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/roundtrip/pyyaml_load.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed for the PyYAML round trip (tests/setup.sh installs PyYAML)");
    let stdin = child.stdin.take().expect("piped stdin");
    let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    Coprocess { _child: child, stdin, stdout }
}

/// Whether PyYAML's `yaml.safe_load` reads `text` as exactly `expected`
/// (types included); if not, what it read or why it could not read it.
pub fn check(text: &str, expected: &Value) -> Result<(), String> {
    static PYTHON: OnceLock<Mutex<Coprocess>> = OnceLock::new();
    let python = PYTHON.get_or_init(|| Mutex::new(start()));
    // A test that panicked while holding the lock left the protocol in step
    // (its panic comes after the answer is read): keep using it.
    let mut python = python.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let Coprocess { stdin, stdout, .. } = &mut *python;
    let request = serde_json::json!({ "yaml": text, "expected": expected });
    writeln!(stdin, "{request}").expect("write to the PyYAML coprocess");
    stdin.flush().expect("flush to the PyYAML coprocess");
    let mut line = String::new();
    stdout.read_line(&mut line).expect("read from the PyYAML coprocess");
    assert!(
        !line.is_empty(),
        "the PyYAML coprocess exited (is PyYAML installed? `python3 -c 'import yaml'`)"
    );
    let answer: Value = serde_json::from_str(&line).expect("the coprocess answers JSON");
    match answer["ok"] {
        Value::Bool(true) => Ok(()),
        _ => Err(answer["error"].as_str().unwrap_or("no answer").to_string()),
    }
}
