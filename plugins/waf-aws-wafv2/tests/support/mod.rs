//! Test support: a real WAFv2 API (moto) to send the declared effects to.
//! This plugin renders no Kubernetes objects, so there is no manifest check.

use std::process::Command;

/// A `moto_server` (PyPI `moto[server]`, see tests/setup.sh) on a free
/// loopback port, playing the AWS WAFv2 API; stopped on drop.
pub struct Moto {
    child: std::process::Child,
    pub port: u16,
}

impl Moto {
    pub fn start() -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start moto_server (run tests/setup.sh)");
        let moto = Moto { child, port };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "moto_server did not listen on {port} within 60 s");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        moto
    }

    /// Sends one request as the engine's HTTP executor would for `aws:wafv2`
    /// (moto does not check signatures, but it reads the service and region
    /// from the credential scope). Returns the status and the JSON body.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &str,
    ) -> (u16, serde_json::Value) {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Length: {}\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/sa-east-1/wafv2/aws4_request, \
             SignedHeaders=host;x-amz-target, Signature=0\r\n",
            self.port,
            body.len()
        );
        for (k, v) in headers {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
        let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("a status code");
        let json =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("moto answered non-JSON ({e}): {body}"));
        (status, json)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
