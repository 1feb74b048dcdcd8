use std::collections::BTreeMap;
use std::path::Path;

use capstan_core::{SecretProvider, Sensitive};
use capstan_secrets::{
    CommandEditor, Editor, RemoteSources, Secrets, SecretsError, edit, export_keys, import_keys, keygen,
    open, recipients_add, recipients_remove, set, show,
};

use crate::support::{Operator, operator};

fn s(v: &str) -> Sensitive {
    Sensitive::new(v)
}

fn values(op: &Operator, file: &Path) -> BTreeMap<String, String> {
    open(&op.identity, file)
        .unwrap()
        .values()
        .iter()
        .map(|(k, v)| (k.clone(), v.expose().to_owned()))
        .collect()
}

fn show_text(op: &Operator, file: &Path, reveal: bool) -> String {
    let mut out = Vec::new();
    show(&op.identity, file, reveal, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn set_show_and_provider_round_trip() {
    let op = operator();
    let file = op.dir.path().join("secrets.enc.hcl");
    set(&op.identity, &file, "db_password", s("pa$$ \"w0rd\"\nline2")).unwrap();
    set(&op.identity, &file, "api-token", s("tok-123")).unwrap();

    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("db_password = \"chacha20poly1305:"), "{text}");
    assert!(text.contains(&op.recipient), "recipient listed in clear");
    assert!(!text.contains("tok-123") && !text.contains("w0rd"));

    let hidden = show_text(&op, &file, false);
    assert!(hidden.contains("db_password = (sensitive)"), "{hidden}");
    assert!(hidden.contains("api-token = (sensitive)"), "{hidden}");
    assert!(!hidden.contains("tok-123"));
    let revealed = show_text(&op, &file, true);
    assert!(revealed.contains("api-token = \"tok-123\""), "{revealed}");
    assert!(revealed.contains(r#"db_password = "pa$$ \"w0rd\"\nline2""#), "{revealed}");

    let provider = Secrets::new(op.identity.clone(), RemoteSources::new(Default::default()));
    let opened = provider.open_file(Path::new("envs/dev/secrets.enc.hcl"), text.as_bytes()).unwrap();
    assert_eq!(opened["db_password"].expose(), "pa$$ \"w0rd\"\nline2");
    assert_eq!(opened["api-token"].expose(), "tok-123");
}

#[test]
fn rewriting_keeps_unchanged_values_byte_identical() {
    let op = operator();
    let file = op.dir.path().join("secrets.enc.hcl");
    set(&op.identity, &file, "a", s("one")).unwrap();
    set(&op.identity, &file, "b", s("two")).unwrap();
    let before = std::fs::read_to_string(&file).unwrap();
    set(&op.identity, &file, "b", s("three")).unwrap();
    let after = std::fs::read_to_string(&file).unwrap();
    let changed: Vec<_> = before
        .lines()
        .zip(after.lines())
        .filter(|(x, y)| x != y)
        .map(|(x, _)| x.split('=').next().unwrap().trim().to_owned())
        .collect();
    // Only the changed secret and the MAC differ: a diff shows which secret changed.
    assert_eq!(changed, ["b", "mac"]);
    assert_eq!(values(&op, &file)["b"], "three");
}

#[test]
fn identity_files_are_private_and_never_overwritten() {
    use std::os::unix::fs::PermissionsExt;
    let op = operator();
    let mode = std::fs::metadata(&op.identity).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let dir_mode = std::fs::metadata(op.identity.parent().unwrap()).unwrap().permissions().mode();
    assert_eq!(dir_mode & 0o777, 0o700);
    let before = std::fs::read(&op.identity).unwrap();
    let err = keygen(&op.identity).unwrap_err();
    assert!(matches!(err, SecretsError::IdentityExists { .. }), "{err}");
    assert!(err.to_string().contains(&op.identity.display().to_string()));
    assert!(std::fs::read(&op.identity).unwrap() == before, "{} changed", op.identity.display());
    assert!(op.recipient.starts_with("age1"));
}

#[test]
fn wrong_or_missing_identity_is_named_and_nothing_is_written() {
    let op = operator();
    let other = operator();
    let file = op.dir.path().join("secrets.enc.hcl");
    set(&op.identity, &file, "a", s("one")).unwrap();
    let before = std::fs::read(&file).unwrap();

    let err = set(&other.identity, &file, "a", s("evil")).unwrap_err();
    assert!(matches!(err, SecretsError::WrongIdentity { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(&file.display().to_string()) && msg.contains(&other.identity.display().to_string()),
        "{msg}"
    );
    assert!(std::fs::read(&file).unwrap() == before, "{} changed", file.display());

    // Through the provider the config layer uses, the error names both.
    let provider = Secrets::new(op.dir.path().join("nope/keys.txt"), RemoteSources::new(Default::default()));
    let err = provider.open_file(Path::new("envs/dev/secrets.enc.hcl"), &before).unwrap_err();
    assert!(
        err.to_string().contains("envs/dev/secrets.enc.hcl") && err.to_string().contains("nope/keys.txt"),
        "{err}"
    );
    let provider = Secrets::new(other.identity.clone(), RemoteSources::new(Default::default()));
    let err = provider.open_file(Path::new("envs/dev/secrets.enc.hcl"), &before).unwrap_err();
    assert!(err.to_string().contains("envs/dev/secrets.enc.hcl"), "{err}");

    let missing = op.dir.path().join("nope/keys.txt");
    let err = open(&missing, &file).unwrap_err();
    assert!(matches!(err, SecretsError::IdentityMissing { .. }), "{err}");
    assert!(err.to_string().contains("nope/keys.txt"));

    // A key file of the wrong kind is refused by line, without echoing it.
    let bad = op.dir.path().join("bad.txt");
    std::fs::write(&bad, "# comment\nAGE-PLUGIN-YUBIKEY-1SECRETSTUFF\n").unwrap();
    let err = open(&bad, &file).unwrap_err();
    assert!(matches!(err, SecretsError::IdentityInvalid { line: 2, .. }), "{err}");
    assert!(!err.to_string().contains("SECRETSTUFF"));
}

#[test]
fn hand_edits_fail_the_mac_check() {
    let op = operator();
    let file = op.dir.path().join("secrets.enc.hcl");
    set(&op.identity, &file, "a", s("one")).unwrap();
    set(&op.identity, &file, "b", s("two")).unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let line = |name: &str| {
        text.lines().find(|l| l.trim_start().starts_with(&format!("{name} ="))).unwrap().to_owned()
    };
    let value = |name: &str| line(name).split('"').nth(1).unwrap().to_owned();
    let teammate = operator();

    let tampered = [
        (
            "swap values",
            text.replace(&value("a"), "@@SWAP@@")
                .replace(&value("b"), &value("a"))
                .replace("@@SWAP@@", &value("b")),
        ),
        ("delete a secret", text.replace(&format!("{}\n", line("b")), "")),
        ("rename a secret", text.replace(&line("b"), &line("b").replacen("b =", "c =", 1))),
        (
            "add a recipient",
            text.replace(
                &format!("  \"{}\",", op.recipient),
                &format!("  \"{}\",\n  \"{}\",", op.recipient, teammate.recipient),
            ),
        ),
        ("change a ciphertext", {
            let v = value("a");
            let flipped: String = v.chars().rev().take(1).map(|c| if c == 'A' { 'B' } else { 'A' }).collect();
            text.replace(&v, &format!("{}{flipped}", &v[..v.len() - 1]))
        }),
    ];
    for (what, bytes) in tampered {
        assert_ne!(bytes, text, "{what}: tampering changed nothing");
        std::fs::write(&file, &bytes).unwrap();
        let err = open(&op.identity, &file).unwrap_err();
        assert!(matches!(err, SecretsError::MacMismatch { .. }), "{what}: {err}");
        assert!(err.to_string().contains(&file.display().to_string()), "{what}: {err}");
        // `set` refuses too, and leaves the tampered file as it is.
        assert!(set(&op.identity, &file, "a", s("x")).is_err());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), bytes);
    }
}

#[test]
fn truncated_corrupt_and_future_files_are_typed_errors() {
    let op = operator();
    let file = op.dir.path().join("secrets.enc.hcl");
    set(&op.identity, &file, "a", s("one")).unwrap();
    let text = std::fs::read_to_string(&file).unwrap();

    let before_mac = &text[..text.find("mac =").unwrap()];
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("cut in half", text.as_bytes()[..text.len() / 2].to_vec()),
        ("cut before the mac", before_mac.as_bytes().to_vec()),
        ("empty", Vec::new()),
        ("binary garbage", vec![0xff, 0x00, 0x13, 0x37]),
        ("data key damaged", text.replace("data_key = \"", "data_key = \"AAAA").into_bytes()),
    ];
    for (what, bytes) in cases {
        std::fs::write(&file, &bytes).unwrap();
        let err = open(&op.identity, &file).unwrap_err();
        assert!(matches!(err, SecretsError::Corrupt { .. }), "{what}: {err}");
        assert!(err.to_string().contains("secrets.enc.hcl"), "{what}: {err}");
    }

    std::fs::write(&file, text.replace("version = 1", "version = 2")).unwrap();
    let err = open(&op.identity, &file).unwrap_err();
    assert!(matches!(err, SecretsError::UnsupportedVersion { found: 2, .. }), "{err}");
}

#[test]
fn bad_names_and_recipients_are_refused() {
    let op = operator();
    let file = op.dir.path().join("secrets.enc.hcl");
    set(&op.identity, &file, "ok", s("v")).unwrap();
    let before = std::fs::read(&file).unwrap();
    for bad in ["", "1abc", "has space", "dot.ted", "${x}"] {
        let err = set(&op.identity, &file, bad, s("v")).unwrap_err();
        assert!(matches!(err, SecretsError::InvalidKeyName { .. }), "{bad:?}: {err}");
    }
    for bad in ["ssh-ed25519 AAAAC3Nza", "age1notakey", "AGE-SECRET-KEY-1XYZ", ""] {
        let err = recipients_add(&op.identity, op.dir.path(), bad).unwrap_err();
        assert!(matches!(err, SecretsError::InvalidRecipient { .. }), "{bad:?}: {err}");
    }
    assert!(std::fs::read(&file).unwrap() == before, "{} changed", file.display());
}

#[test]
fn recipients_add_and_remove_rewrap_every_file() {
    let alice = operator();
    let bob = operator();
    let stack = alice.dir.path().join("stack");
    let files: Vec<_> = ["envs/dev", "envs/prod", "envs/prod/api"]
        .iter()
        .map(|d| stack.join(d).join("secrets.enc.hcl"))
        .collect();
    for (i, f) in files.iter().enumerate() {
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        set(&alice.identity, f, "pw", s(&format!("secret-{i}"))).unwrap();
    }
    let err = open(&bob.identity, &files[0]).unwrap_err();
    assert!(matches!(err, SecretsError::WrongIdentity { .. }));

    let changed = recipients_add(&alice.identity, &stack, &bob.recipient).unwrap();
    let mut sorted = files.clone();
    sorted.sort();
    assert_eq!(changed, sorted);
    for (i, f) in files.iter().enumerate() {
        assert_eq!(values(&bob, f)["pw"], format!("secret-{i}"));
        assert_eq!(values(&alice, f)["pw"], format!("secret-{i}"));
    }
    // Adding again changes nothing.
    assert!(recipients_add(&alice.identity, &stack, &bob.recipient).unwrap().is_empty());

    // Bob removes Alice: she can no longer open the files, and the data key changed.
    let old_key_line = |f: &Path| {
        std::fs::read_to_string(f).unwrap().lines().find(|l| l.starts_with("data_key")).unwrap().to_owned()
    };
    let before = old_key_line(&files[0]);
    recipients_remove(&bob.identity, &stack, &alice.recipient).unwrap();
    assert_ne!(old_key_line(&files[0]), before);
    for (i, f) in files.iter().enumerate() {
        assert_eq!(values(&bob, f)["pw"], format!("secret-{i}"));
        assert!(matches!(open(&alice.identity, f).unwrap_err(), SecretsError::WrongIdentity { .. }));
    }
    // The last recipient cannot be removed; nothing changes.
    let snapshot: Vec<_> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let err = recipients_remove(&bob.identity, &stack, &bob.recipient).unwrap_err();
    assert!(matches!(err, SecretsError::LastRecipient { .. }), "{err}");
    let now: Vec<_> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert!(now == snapshot, "a refused removal changed files");
}

/// An editor that applies scripted edits and records what it saw.
type Edit = Box<dyn FnMut(&Path)>;

struct Scripted {
    edits: Vec<Edit>,
    reopen: bool,
    refused: Vec<String>,
}

impl Editor for Scripted {
    fn edit(&mut self, path: &Path) -> capstan_secrets::Result<()> {
        let mut next = self.edits.remove(0);
        next(path);
        Ok(())
    }
    fn reopen_after(&mut self, problem: &SecretsError) -> bool {
        self.refused.push(problem.to_string());
        self.reopen
    }
}

fn check_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let file_mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let dir_mode = std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777;
    assert_eq!((file_mode, dir_mode), (0o600, 0o700), "{}", path.display());
}

#[test]
fn edit_reencrypts_and_reopens_on_invalid_text() {
    let op = operator();
    let file = op.dir.path().join("secrets.enc.hcl");
    set(&op.identity, &file, "keep", s("k")).unwrap();
    set(&op.identity, &file, "change", s("old")).unwrap();
    set(&op.identity, &file, "drop", s("d")).unwrap();
    let temp_root = tempfile::tempdir().unwrap();

    let mut editor = Scripted {
        edits: vec![
            Box::new(|p: &Path| {
                check_private(p);
                let text = std::fs::read_to_string(p).unwrap();
                assert!(text.contains("change = \"old\""), "{text}");
                std::fs::write(p, text.replace("change = \"old\"", "change = \"new\" oops")).unwrap();
            }),
            Box::new(|p: &Path| {
                // Reopened on the same (broken) text, which the user fixes.
                let text = std::fs::read_to_string(p).unwrap();
                assert!(text.contains("oops"));
                let text = text.replace(" oops", "").replace("drop = \"d\"\n", "");
                std::fs::write(p, format!("{text}cert = <<EOT\n-----BEGIN-----\nabc\nEOT\n")).unwrap();
            }),
        ],
        reopen: true,
        refused: vec![],
    };
    let summary = edit(&op.identity, &file, temp_root.path(), &mut editor).unwrap();
    assert_eq!(summary.added, ["cert"]);
    assert_eq!(summary.changed, ["change"]);
    assert_eq!(summary.removed, ["drop"]);
    assert_eq!(editor.refused.len(), 1);
    assert!(editor.refused[0].contains("line"), "{}", editor.refused[0]);
    assert!(!editor.refused[0].contains("new"), "error quotes the text: {}", editor.refused[0]);
    let v = values(&op, &file);
    assert_eq!(v["change"], "new");
    assert_eq!(v["cert"], "-----BEGIN-----\nabc\n");
    assert!(!v.contains_key("drop"));
    assert_eq!(std::fs::read_dir(temp_root.path()).unwrap().count(), 0, "temp dir removed");
}

#[test]
fn abandoned_or_unchanged_edits_leave_the_file_alone() {
    let op = operator();
    let file = op.dir.path().join("secrets.enc.hcl");
    set(&op.identity, &file, "a", s("one")).unwrap();
    let before = std::fs::read(&file).unwrap();
    let temp_root = tempfile::tempdir().unwrap();

    let mut editor = Scripted {
        edits: vec![Box::new(|p: &Path| std::fs::write(p, "a = {").unwrap())],
        reopen: false,
        refused: vec![],
    };
    let err = edit(&op.identity, &file, temp_root.path(), &mut editor).unwrap_err();
    assert!(matches!(err, SecretsError::EditAbandoned { .. }), "{err}");
    assert!(std::fs::read(&file).unwrap() == before, "{} changed", file.display());
    assert_eq!(std::fs::read_dir(temp_root.path()).unwrap().count(), 0);

    let mut editor = Scripted { edits: vec![Box::new(|_: &Path| {})], reopen: false, refused: vec![] };
    let summary = edit(&op.identity, &file, temp_root.path(), &mut editor).unwrap();
    assert!(summary.is_empty());
    assert!(std::fs::read(&file).unwrap() == before, "{} changed", file.display());
}

#[test]
fn edit_runs_a_real_editor_command() {
    let op = operator();
    let file = op.dir.path().join("secrets.enc.hcl");
    set(&op.identity, &file, "pw", s("old-value")).unwrap();
    let temp_root = tempfile::tempdir().unwrap();
    let mut input: &[u8] = b"";
    let mut prompts = Vec::new();
    let mut editor = CommandEditor {
        command: "sed -i s/old-value/new-value/".to_owned(),
        prompt_in: &mut input,
        prompt_out: &mut prompts,
    };
    edit(&op.identity, &file, temp_root.path(), &mut editor).unwrap();
    assert_eq!(values(&op, &file)["pw"], "new-value");

    // A failing editor is an error naming the command; the file is unchanged.
    let before = std::fs::read(&file).unwrap();
    let mut editor =
        CommandEditor { command: "false".to_owned(), prompt_in: &mut input, prompt_out: &mut prompts };
    let err = edit(&op.identity, &file, temp_root.path(), &mut editor).unwrap_err();
    assert!(matches!(err, SecretsError::Editor { .. }), "{err}");
    assert!(std::fs::read(&file).unwrap() == before, "{} changed", file.display());
    assert_eq!(std::fs::read_dir(temp_root.path()).unwrap().count(), 0);
}

#[test]
fn keys_export_and_import() {
    let op = operator();
    let file = op.dir.path().join("secrets.enc.hcl");
    set(&op.identity, &file, "a", s("one")).unwrap();
    let mut json = Vec::new();
    export_keys(&op.identity, &mut json).unwrap();
    let json = String::from_utf8(json).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["identities"][0]["public_key"], op.recipient.as_str());

    let restored = op.dir.path().join("restored/keys.txt");
    assert_eq!(import_keys(&restored, &json).unwrap(), [op.recipient.as_str()]);
    assert_eq!(open(&restored, &file).unwrap().values()["a"].expose(), "one");
    // Importing again adds nothing and keeps what is there.
    assert!(import_keys(&restored, &json).unwrap().is_empty());
    // Importing into a file with another key merges.
    let other = operator();
    assert_eq!(import_keys(&other.identity, &json).unwrap().len(), 1);
    assert_eq!(open(&other.identity, &file).unwrap().values()["a"].expose(), "one");

    for bad in [
        "{",
        "{\"format\":\"other\",\"identities\":[]}",
        &json.replace("AGE-SECRET-KEY-1", "AGE-SECRET-KEY-2"),
    ] {
        let err = import_keys(&restored, bad).unwrap_err();
        assert!(matches!(err, SecretsError::KeysJson { .. }), "{err}");
        let key = doc["identities"][0]["secret_key"].as_str().unwrap();
        assert!(!err.to_string().contains(&key["AGE-SECRET-KEY-1".len()..]), "{err}");
    }
}

#[test]
fn edit_creates_a_missing_file_only_when_something_is_written() {
    let op = operator();
    let file = op.dir.path().join("new/secrets.enc.hcl");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let temp_root = tempfile::tempdir().unwrap();

    let mut editor = Scripted { edits: vec![Box::new(|_: &Path| {})], reopen: false, refused: vec![] };
    assert!(edit(&op.identity, &file, temp_root.path(), &mut editor).unwrap().is_empty());
    assert!(!file.exists(), "an empty edit creates nothing");

    let mut editor = Scripted {
        edits: vec![Box::new(|p: &Path| {
            let text = std::fs::read_to_string(p).unwrap();
            std::fs::write(p, format!("{text}first = \"1\"\n")).unwrap();
        })],
        reopen: false,
        refused: vec![],
    };
    edit(&op.identity, &file, temp_root.path(), &mut editor).unwrap();
    assert_eq!(values(&op, &file)["first"], "1");
    assert!(std::fs::read_to_string(&file).unwrap().contains(&op.recipient));
}

#[test]
fn set_into_a_missing_directory_names_the_file() {
    let op = operator();
    let file = op.dir.path().join("no/such/dir/secrets.enc.hcl");
    let err = set(&op.identity, &file, "a", s("v")).unwrap_err();
    assert!(matches!(err, SecretsError::Io { .. }), "{err}");
    assert!(err.to_string().contains("no/such/dir/secrets.enc.hcl"), "{err}");
}

/// Found by the `secrets_file` fuzz target: 1.7 KB of operators and
/// conditionals among unclosed brackets kept the general HCL parser busy for
/// over half a minute. A repository hands these files over, so such a file is
/// refused before that parser runs, at once, naming the line and column.
#[test]
fn a_file_crafted_to_make_the_hcl_parser_backtrack_is_refused_at_once() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parser-backtracking.enc.hcl");
    let bytes = std::fs::read(&file).unwrap();
    let started = std::time::Instant::now();
    let err = capstan_secrets::recipients_of(&file, &bytes).unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "took {:?}", started.elapsed());
    assert!(matches!(err, SecretsError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("line 2, column 54: `/` has no place in a secrets file"), "{err}");
}
