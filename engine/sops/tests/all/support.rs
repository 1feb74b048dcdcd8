//! Keys, manifests and external commands shared by the tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use age::secrecy::ExposeSecret as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

/// A value that must never appear in clear in a document or a message.
pub const CANARY: &str = "canary-7Qm2-hunter2";

/// A fixed `lastmodified`, so documents are comparable.
pub fn when() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_796_564_511)
}

pub struct Key {
    pub identity: age::x25519::Identity,
    pub recipient: age::x25519::Recipient,
}

impl Key {
    pub fn generate() -> Self {
        let identity = age::x25519::Identity::generate();
        let recipient = identity.to_public();
        Self { identity, recipient }
    }

    /// The `AGE-SECRET-KEY-1…` line, for the CLIs.
    pub fn secret(&self) -> String {
        self.identity.to_string().expose_secret().to_owned()
    }

    /// Writes the identity as an age key file under `dir`.
    pub fn file(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, format!("{}\n", self.secret())).expect("write key file");
        path
    }
}

/// Bytes 0..=255 twice over: binary `data` that is not valid UTF-8.
pub fn binary() -> Vec<u8> {
    (0..512u32).map(|i| (i % 256) as u8).rev().collect()
}

/// A Secret as a plugin plans it, with every kind of value the format must
/// carry: base64 `data` (text and binary), multi-line, empty and unicode
/// `stringData`, YAML-significant characters, and clear metadata that YAML
/// would misread unquoted.
pub fn full_secret() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "postgres-app",
            "namespace": "payments",
            "labels": {"app.kubernetes.io/name": "postgres", "n": "1", "tier": "true"},
            "annotations": {"capstan.dev/component": "db: primary # main", "capstan.dev/note": " it's [here]"}
        },
        "type": "Opaque",
        "immutable": true,
        "data": {
            "password": B64.encode(CANARY),
            "tls.key": B64.encode(binary()),
            ".dockerconfigjson": B64.encode(br#"{"auths":{}}"#)
        },
        "stringData": {
            "multi": "line one\nline two\n\ttabbed\n",
            "empty": "",
            "unicode": "héllo ✓ 日本語 🚀",
            "yamlish": "key: \"value\" # not a comment",
            "spaced": "  padded  ",
            "number-like": "0123",
            "canary": CANARY
        }
    })
}

/// Lists in clear and non-string values in both parts: SOPS hashes and
/// types each (`True`/`False`, decimal ints, shortest floats, nulls skipped).
pub fn typed_secret() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "typed",
            "generation": 3,
            "finalizers": ["capstan.dev/keep", "kubernetes"],
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "controller": true}],
            "deletionGracePeriodSeconds": null
        },
        "stringData": {
            "port": 5432,
            "negative": -7,
            "ratio": 0.25,
            "enabled": true,
            "disabled": false,
            "unset": null,
            "hosts": ["db-0", "db-1"],
            "nested": {"user": "app", "tls": {"mode": "verify-full"}}
        }
    })
}

/// Strings YAML writers must take care with: indicators, words and numbers
/// YAML would retype, edge spaces, and multi-line text of every chomping.
pub fn tricky_strings() -> Value {
    let strings = [
        "-a",
        "- a",
        "?a",
        ":a",
        "a:b",
        "it's",
        "say \"hi\"",
        "#x",
        "&a",
        "*a",
        "!a",
        "%a",
        "@a",
        "`a",
        "[a",
        "~",
        "yes",
        "Off",
        ".inf",
        ".NaN",
        "1e3",
        "-1",
        "+1",
        "1:20",
        "0",
        "0o17",
        "0x1F",
        "1.",
        "1_000",
        "10.0.0.1",
        "1.2.3",
        "v1.2",
        "2026-01-01",
        "2026-01-01T00:00:00Z",
        " a",
        "a ",
        "a #b",
        "a\tb",
        "a\nb\n",
        "p\nq",
        "x\n\n",
        " sp\nx\n",
        "\nx\n",
        "a\n\n  b\nc\n",
        "tab\tin\nlines\n",
        "a \nb\n",
        "a\r\nb\n",
        "é\nü\n",
        "",
    ];
    Value::Object(strings.iter().enumerate().map(|(i, s)| (format!("s{i:02}"), json!(s))).collect())
}

/// Every tricky string in clear (annotations, nested in lists and list
/// items) and encrypted (`stringData`). Not here: a multi-line string
/// starting with a space directly in a list item, where the crate
/// double-quotes rather than copy SOPS's indentation indicator.
pub fn shapes_secret() -> Value {
    let strings = tricky_strings();
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "shapes",
            "annotations": strings,
            "shapes": [
                {"a": {"b": "c", "m": "x\ny\n", "lead": " x\n"}, "l2": ["d", {"e": "f\ng\n"}], "g": []},
                [["h", "i\nj\n"], "k"],
                {},
                [],
                "multi\nline"
            ]
        },
        "stringData": strings
    })
}

/// A Secret with nothing to encrypt.
pub fn empty_secret() -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "nothing", "namespace": "default"}, "type": "Opaque"})
}

/// Encrypts `manifest` to `keys`, failing the test on error.
pub fn encrypt(manifest: &Value, keys: &[&Key]) -> String {
    let recipients: Vec<_> = keys.iter().map(|k| k.recipient.clone()).collect();
    capstan_sops::encrypt(manifest, &recipients, when()).expect("encrypt")
}

/// The repository's `tests/` directory.
pub fn repo_tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests")
}

/// Runs `cmd`, returning its output; a command that cannot start fails the
/// test with how to install it.
pub fn run(cmd: &mut Command, install_hint: &str) -> Output {
    match cmd.output() {
        Ok(out) => out,
        Err(e) => panic!("cannot run {cmd:?} ({e}); {install_hint}"),
    }
}

/// Fails the test, showing the command, its status and output, unless it succeeded.
pub fn expect_success(cmd: &Command, out: &Output) {
    assert!(
        out.status.success(),
        "{cmd:?} (cwd {:?}) failed with {}\nstdout:\n{}\nstderr:\n{}",
        cmd.get_current_dir(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A `sops` command that sees only the environment the test gives it.
pub fn sops(dir: &Path) -> Command {
    let mut cmd = Command::new("sops");
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("SOPS_DISABLE_VERSION_CHECK", "1");
    cmd
}

pub const SETUP_HINT: &str = "run `bash tests/setup.sh` to install the test tools";

/// Replaces what differs between any two encryptions (ciphertexts, IVs,
/// tags, the armored data keys, the MAC) so layouts can be compared.
pub fn normalise(document: &str) -> String {
    let enc =
        regex::Regex::new(r"ENC\[AES256_GCM,data:[^,]*,iv:[^,]*,tag:[^,]*,type:(\w+)\]").expect("regex");
    let mut out = String::new();
    let mut in_armor = false;
    for line in document.lines() {
        let trimmed = line.trim_start();
        if trimmed == "-----END AGE ENCRYPTED FILE-----" {
            in_armor = false;
        } else if in_armor {
            continue;
        } else if trimmed == "-----BEGIN AGE ENCRYPTED FILE-----" {
            in_armor = true;
        }
        out.push_str(&enc.replace_all(line, "ENC[…,type:$1]"));
        out.push('\n');
    }
    out
}
