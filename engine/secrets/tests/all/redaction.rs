//! Every public type that holds secrets, and every error produced while
//! handling them, formats without the secret (checked by searching the
//! formatted text for the values).

use std::path::Path;

use capstan_core::{SecretProvider, Sensitive};
use capstan_secrets::{
    Editor, Env, Identities, RemoteSources, SecretFile, Secrets, SecretsError, edit, open, set, show,
};

use crate::support::operator;

const VALUE: &str = "Xy9-topsecret-value";
const ENV_SECRET: &str = "Aws-Secret-Key-Value-42";

fn assert_clean(what: &str, text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!text.contains(s), "{what} leaks a secret: {text}");
    }
}

#[test]
fn no_public_type_or_error_formats_a_secret() {
    let op = operator();
    let key_text = std::fs::read_to_string(&op.identity).unwrap();
    let secret_key = key_text.lines().find(|l| l.starts_with("AGE-SECRET-KEY-1")).unwrap().to_owned();
    let secrets = [VALUE, ENV_SECRET, secret_key.as_str()];

    let file = op.dir.path().join("secrets.enc.hcl");
    set(&op.identity, &file, "db_password", Sensitive::new(VALUE)).unwrap();

    let opened: SecretFile = open(&op.identity, &file).unwrap();
    let ids = Identities::load(&op.identity).unwrap();
    let env = Env::from_pairs([("AWS_SECRET_ACCESS_KEY", ENV_SECRET), ("TOKEN", VALUE)]);
    let remote = RemoteSources::new(env.clone());
    let provider = Secrets::new(op.identity.clone(), RemoteSources::new(env.clone()));
    let values = provider.open_file(Path::new("secrets.enc.hcl"), &std::fs::read(&file).unwrap()).unwrap();
    let from_env = provider.resolve_ref("env:TOKEN").unwrap();

    let formatted = [
        ("SecretFile", format!("{opened:?}")),
        ("Identities", format!("{ids:?}")),
        ("Env", format!("{env:?}")),
        ("RemoteSources", format!("{remote:?}")),
        ("Secrets (after use)", format!("{provider:?}")),
        ("open_file values", format!("{values:?}")),
        ("resolved ref", format!("{from_env} {from_env:?}")),
    ];
    for (what, text) in &formatted {
        assert_clean(what, text, &secrets);
    }
    assert!(formatted[0].1.contains("db_password"), "names stay visible");

    let mut out = Vec::new();
    show(&op.identity, &file, false, &mut out).unwrap();
    assert_clean("show without --reveal", &String::from_utf8(out).unwrap(), &secrets);

    // Errors met while handling the secret.
    let mut errors: Vec<SecretsError> = Vec::new();
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("mac = \"hmac-sha256:", "mac = \"hmac-sha256:00")).unwrap();
    errors.push(open(&op.identity, &file).unwrap_err());
    std::fs::write(&file, &text[..text.len() - 20]).unwrap();
    errors.push(open(&op.identity, &file).unwrap_err());
    std::fs::write(&file, &text).unwrap();
    errors.push(open(&operator().identity, &file).unwrap_err());

    struct Breaks;
    impl Editor for Breaks {
        fn edit(&mut self, path: &Path) -> capstan_secrets::Result<()> {
            let t = std::fs::read_to_string(path).unwrap();
            std::fs::write(path, t.replace(VALUE, &format!("{VALUE}\" ${{{VALUE}}}"))).unwrap();
            Ok(())
        }
        fn reopen_after(&mut self, problem: &SecretsError) -> bool {
            assert_clean("edit problem", &format!("{problem} {problem:?}"), &[VALUE]);
            false
        }
    }
    let temp = tempfile::tempdir().unwrap();
    errors.push(edit(&op.identity, &file, temp.path(), &mut Breaks).unwrap_err());
    errors.push(remote.resolve("env:MISSING").unwrap_err());
    errors.push(remote.resolve("ssm:/x").unwrap_err());
    let boxed = provider.resolve_ref("vault:secret/x#y").unwrap_err();

    for e in &errors {
        assert_clean("error", &format!("{e} {e:?}"), &secrets);
    }
    assert_clean("boxed provider error", &format!("{boxed} {boxed:?}"), &secrets);
}
