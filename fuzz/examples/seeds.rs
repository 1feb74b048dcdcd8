//! Writes the seeds that only Capstan's own writers can make (signed
//! bundles, the OCI manifest of one, a lock file, SOPS documents and a
//! `.sops.yaml`) into `seeds/<target>/`. The other seeds are copies of
//! repository files or hand-written (fuzz/README.md). Run from fuzz/:
//!
//!     cargo run --example seeds
//!
//! Bundles and SOPS documents hold fresh keys and nonces, so a rerun
//! rewrites those seeds with other bytes of the same shape.

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, UNIX_EPOCH};

use capstan_registry::oci::ImageManifest;
use capstan_registry::{Bundle, LockEntry, LockFile, PackComponent, SecretKey, sign};
use serde_json::json;

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds").join(target);
    std::fs::create_dir_all(&dir).expect("create the seed directory");
    std::fs::write(dir.join(name), bytes).expect("write a seed");
}

fn component(plugin: &str, backend: &str) -> PackComponent {
    PackComponent {
        plugin: plugin.to_string(),
        version: semver::Version::new(1, 2, 0),
        component_type: "messaging".to_string(),
        backend: backend.to_string(),
        // Bundle::open checks digests and sizes, not that the bytes are wasm.
        wasm: b"\0asm\x0d\0\x01\0".to_vec(),
        conformance: None,
    }
}

fn main() {
    let key = SecretKey::generate().expect("a signing key");
    let contract = semver::Version::new(0, 3, 0);

    let unsigned = Bundle::pack("acme", None, contract.clone(), vec![component("acme/sqs", "sqs")])
        .expect("pack one component");
    write("bundle", "unsigned-one-component.bundle", &unsigned.to_bytes().expect("bundle bytes"));
    let mut signed = Bundle::pack(
        "acme",
        Some("acme/messaging"),
        contract,
        vec![component("acme/sqs", "sqs"), component("acme/rabbitmq", "rabbitmq")],
    )
    .expect("pack two components");
    sign(&mut signed, &key);
    let archive = signed.to_bytes().expect("bundle bytes");
    write("bundle", "signed-two-components.bundle", &archive);

    write("oci_manifest", "bundle-artifact.json", &ImageManifest::for_bundle(&signed, &archive).to_bytes());

    let mut lock =
        LockFile::parse("capstan.lock".into(), br#"{"format":1,"plugins":{}}"#).expect("empty lock");
    let entry = |version: &str| LockEntry {
        version: semver::Version::parse(version).expect("a version"),
        digest: signed.digest(),
        signer: "acme (ed25519:AAAA)".to_string(),
        bundle: "acme/messaging".to_string(),
    };
    lock.plugins.insert("acme/sqs".to_string(), entry("1.2.0"));
    lock.plugins
        .insert("acme/rabbitmq".to_string(), LockEntry { signer: "unsigned".into(), ..entry("1.2.0") });
    lock.pins.insert("acme/sqs".to_string(), vec![entry("1.1.0"), entry("1.2.0-rc.1+build.5")]);
    write("lock_file", "plugins-and-pins.lock", &lock.to_bytes());

    let text = include_str!("../../examples/open-finance/TEST-ONLY-age-key.txt");
    let line = text.lines().find(|l| l.starts_with("AGE-SECRET-KEY-")).expect("an age identity line");
    let identity = age::x25519::Identity::from_str(line).expect("the TEST-ONLY age key");
    let recipients = [identity.to_public()];
    let secret = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": { "name": "db", "namespace": "open-finance", "labels": { "app": "api" } },
        "type": "Opaque",
        "stringData": { "password": "s3cr3t: yes", "url": "postgres://api@db:5432/consent", "multi": "a\nb\n" },
        "data": { "token": "dG9rZW4=" },
    });
    let when = UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    let document = capstan_sops::encrypt(&secret, &recipients, when).expect("encrypt a Secret");
    write("sops_document", "capstan-secret.yaml", document.as_bytes());
    let rules = vec![capstan_sops::CreationRule {
        path_regex: "^staging/.*\\.yaml$".to_string(),
        recipients: vec![identity.to_public().to_string()],
    }];
    write("sops_document", "sops-config.yaml", capstan_sops::sops_config(&rules).as_bytes());
}
