use std::io::Write;
use std::process::{Command, Stdio};

use base64::Engine as _;
use capstan_core::Sensitive;
use capstan_secrets::{keygen, open, set};

use crate::support::{run, tool};

#[test]
fn capstan_keys_decrypt_files_made_by_the_age_cli() {
    let dir = tempfile::tempdir().unwrap();
    let identity = dir.path().join("keys.txt");
    let recipient = keygen(&identity).unwrap();

    let plain = dir.path().join("note.txt");
    std::fs::write(&plain, "made by age -r\n").unwrap();
    let encrypted = dir.path().join("note.txt.age");
    run(Command::new(tool("age")).arg("-r").arg(&recipient).arg("-o").arg(&encrypted).arg(&plain));
    let out = run(Command::new(tool("age")).arg("-d").arg("-i").arg(&identity).arg(&encrypted));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "made by age -r\n");
}

#[test]
fn age_keygen_keys_work_as_capstan_identities() {
    let dir = tempfile::tempdir().unwrap();
    let identity = dir.path().join("age-keys.txt");
    run(Command::new(tool("age-keygen")).arg("-o").arg(&identity));
    let public = run(Command::new(tool("age-keygen")).arg("-y").arg(&identity)).stdout;
    let public = String::from_utf8(public).unwrap().trim().to_owned();

    let file = dir.path().join("secrets.enc.hcl");
    set(&identity, &file, "db_password", Sensitive::new("from-age-keygen")).unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(&public), "the new file is encrypted to the age-keygen key");
    assert_eq!(open(&identity, &file).unwrap().values()["db_password"].expose(), "from-age-keygen");

    // The wrapped data key is a plain age file the CLI opens with the same key.
    let data_key =
        text.lines().find_map(|l| l.strip_prefix("data_key = \"")).and_then(|l| l.strip_suffix('"')).unwrap();
    let wrapped = base64::engine::general_purpose::STANDARD.decode(data_key).unwrap();
    let mut child = Command::new(tool("age"))
        .arg("-d")
        .arg("-i")
        .arg(&identity)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&wrapped).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "age -d: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout.len(), 32, "the data key is 32 bytes");
}
