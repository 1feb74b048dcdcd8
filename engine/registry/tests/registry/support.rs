//! Bundles, keys and trust policies for the tests.

use std::path::Path;

use capstan_registry::{Bundle, PackComponent, SecretKey, TrustPolicy};

/// Stand-in component bytes: distinct per plugin and version.
pub fn component(plugin: &str, version: &str) -> PackComponent {
    PackComponent {
        plugin: plugin.to_string(),
        version: version.parse().unwrap(),
        component_type: "app".into(),
        backend: "kubernetes".into(),
        wasm: format!("\0asm stand-in for {plugin} {version}").into_bytes(),
        conformance: None,
    }
}

pub fn bundle(plugin: &str, version: &str) -> Bundle {
    let publisher = plugin.split('/').next().unwrap();
    Bundle::pack(publisher, None, capstan_core::CONTRACT_VERSION, vec![component(plugin, version)]).unwrap()
}

pub fn signed(plugin: &str, version: &str, key: &SecretKey) -> Bundle {
    let mut b = bundle(plugin, version);
    capstan_registry::sign(&mut b, key);
    b
}

pub fn write(dir: &Path, file: &str, bundle: &Bundle) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(file), bundle.to_bytes().unwrap()).unwrap();
}

/// A trust block for `publisher` with `key`, allowing `plugins`.
pub fn trust(publisher: &str, key: &SecretKey, plugins: &[&str]) -> capstan_config::Trust {
    let mut settings = serde_json::Map::new();
    settings.insert("keys".into(), serde_json::json!([key.public().to_string()]));
    if !plugins.is_empty() {
        settings.insert("plugins".into(), serde_json::json!(plugins));
    }
    capstan_config::Trust { name: Some(publisher.to_string()), settings }
}

pub fn policy(blocks: &[capstan_config::Trust]) -> TrustPolicy {
    TrustPolicy::from_config(blocks, Path::new("/nonexistent")).unwrap()
}

/// A tar.gz with exactly these entries (names written raw, so a test can
/// build archives the packer would never write).
pub fn raw_archive(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for (name, data) in entries {
        let mut header = tar::Header::new_gnu();
        let gnu = header.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append(&header, *data).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

/// The entries of a bundle archive, in order.
pub fn entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    use std::io::Read as _;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (name, data)
        })
        .collect()
}

pub fn rebuild(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let refs: Vec<(&str, &[u8])> = entries.iter().map(|(n, d)| (n.as_str(), d.as_slice())).collect();
    raw_archive(&refs)
}

/// `python3 -m http.server` serving `dir` on a loopback port; stopped on drop.
pub struct HttpServer {
    child: std::process::Child,
    pub url: String,
}

impl HttpServer {
    pub fn start(dir: &Path) -> Self {
        use std::io::BufRead as _;
        let mut child = std::process::Command::new("python3")
            .args(["-u", "-m", "http.server", "--bind", "127.0.0.1", "0"])
            .current_dir(dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 runs (tests/setup.sh installs it)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let port = line
            .split(" port ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected http.server banner: {line:?}"));
        Self { child, url: format!("http://127.0.0.1:{port}") }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
