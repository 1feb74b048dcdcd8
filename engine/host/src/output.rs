//! Guest output capture: stdout and stderr pipes and the `log` import share
//! one byte budget per call, so a plugin that prints without end costs the
//! engine at most `log_cap` bytes of memory and of log.
//!
//! Output past the budget is dropped (the guest's writes still succeed: a
//! plugin must not fail because it was chatty) and one truncation marker is
//! logged after the call.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use capstan_core::leaks::{Leak, LogStream, Place, Secrets};
use capstan_core::{ComponentId, LogLevel};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use crate::LogSink;

/// Logged once after a call whose output went past the cap.
pub const TRUNCATION_MARKER: &str = "[... output truncated ...]";

/// How much of stderr is kept past the budget, to recover a panic message
/// printed after a flood of output.
const STDERR_TAIL: usize = 4096;

/// How much a guest may hand over in one write; the pipe accepts it all.
const WRITE_PERMIT: usize = 64 * 1024;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stream {
    Stdout,
    Stderr,
}

#[derive(Default)]
struct Captured {
    budget: usize,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    /// The last bytes of stderr that did not fit the budget.
    stderr_tail: Vec<u8>,
    truncated: bool,
}

/// The output of one call, shared by its pipes and its `log` import.
#[derive(Clone)]
pub(crate) struct Capture {
    inner: Arc<Mutex<Captured>>,
}

impl Capture {
    pub(crate) fn new(cap: usize) -> Self {
        Self { inner: Arc::new(Mutex::new(Captured { budget: cap, ..Captured::default() })) }
    }

    fn lock(&self) -> MutexGuard<'_, Captured> {
        // A poisoned lock only means a panic elsewhere mid-append; the bytes are still usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn stdout(&self) -> CapturePipe {
        CapturePipe { capture: self.clone(), stream: Stream::Stdout }
    }

    pub(crate) fn stderr(&self) -> CapturePipe {
        CapturePipe { capture: self.clone(), stream: Stream::Stderr }
    }

    fn append(&self, stream: Stream, bytes: &[u8]) {
        let mut c = self.lock();
        let take = bytes.len().min(c.budget);
        c.budget -= take;
        let (kept, dropped) = bytes.split_at(take);
        match stream {
            Stream::Stdout => c.stdout.extend_from_slice(kept),
            Stream::Stderr => c.stderr.extend_from_slice(kept),
        }
        if !dropped.is_empty() {
            c.truncated = true;
            if stream == Stream::Stderr {
                let start = dropped.len().saturating_sub(STDERR_TAIL);
                c.stderr_tail.extend_from_slice(&dropped[start..]);
                let excess = c.stderr_tail.len().saturating_sub(STDERR_TAIL);
                c.stderr_tail.drain(..excess);
            }
        }
    }

    /// Takes what fits of a `log` message from the budget; `None` when nothing does.
    pub(crate) fn admit_log<'m>(&self, message: &'m str) -> Option<&'m str> {
        let mut c = self.lock();
        let mut take = message.len().min(c.budget);
        while !message.is_char_boundary(take) {
            take -= 1;
        }
        c.budget -= take;
        if take < message.len() {
            c.truncated = true;
        }
        (take > 0).then(|| &message[..take])
    }

    /// The panic message a Rust guest printed to stderr before aborting.
    pub(crate) fn panic_message(&self) -> Option<String> {
        let c = self.lock();
        let mut stderr = c.stderr.clone();
        stderr.extend_from_slice(&c.stderr_tail);
        parse_panic(&String::from_utf8_lossy(&stderr))
    }

    /// Sends what was captured to the sink, line by line, then the marker.
    /// Every sensitive value of the call is redacted first, over each
    /// stream whole (a value with a line break in it is still found); the
    /// first one found is returned, so the call fails.
    pub(crate) fn flush_to(
        &self,
        sink: &dyn LogSink,
        plugin: &str,
        component: Option<&ComponentId>,
        secrets: &Secrets,
    ) -> Option<Leak> {
        let c = self.lock();
        let mut leak = None;
        for (bytes, level, stream) in
            [(&c.stdout, LogLevel::Info, LogStream::Stdout), (&c.stderr, LogLevel::Warn, LogStream::Stderr)]
        {
            let text = String::from_utf8_lossy(bytes);
            if leak.is_none() {
                leak = secrets.in_text(&text, Place::Log(stream));
            }
            for line in secrets.scrub(&text).lines() {
                if !line.is_empty() {
                    sink.log(plugin, component, level, line);
                }
            }
        }
        if c.truncated {
            sink.log(plugin, component, LogLevel::Warn, TRUNCATION_MARKER);
        }
        leak
    }
}

/// Finds `panicked at <location>:\n<message>` in Rust's default panic output.
fn parse_panic(stderr: &str) -> Option<String> {
    let at = stderr.rfind("panicked at ")?;
    let rest = &stderr[at + "panicked at ".len()..];
    let (location, message) = rest.split_once('\n').unwrap_or((rest, ""));
    let message = message.split("\nnote: ").next().unwrap_or_default().trim();
    let location = location.trim().trim_end_matches(':');
    Some(if message.is_empty() { format!("at {location}") } else { format!("{message} (at {location})") })
}

/// A guest's stdout or stderr.
pub(crate) struct CapturePipe {
    capture: Capture,
    stream: Stream,
}

impl IsTerminal for CapturePipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturePipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(CapturePipe { capture: self.capture.clone(), stream: self.stream })
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(CapturePipe { capture: self.capture.clone(), stream: self.stream })
    }
}

impl OutputStream for CapturePipe {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.capture.append(self.stream, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_PERMIT)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CapturePipe {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for CapturePipe {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.capture.append(self.stream, buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_past_the_cap_is_dropped_and_flagged() {
        let capture = Capture::new(10);
        capture.append(Stream::Stdout, b"0123456789abcdef");
        capture.append(Stream::Stdout, b"more");
        let c = capture.lock();
        assert_eq!(c.stdout, b"0123456789");
        assert!(c.truncated);
    }

    #[test]
    fn log_messages_are_cut_on_a_char_boundary() {
        let capture = Capture::new(5);
        assert_eq!(capture.admit_log("abcé€"), Some("abcé"));
        assert_eq!(capture.admit_log("x"), None);
    }

    #[test]
    fn panic_message_is_recovered_even_past_the_cap() {
        let capture = Capture::new(8);
        capture.append(Stream::Stderr, &[b'x'; 100_000]);
        capture.append(
            Stream::Stderr,
            b"\nthread '<unnamed>' panicked at src/lib.rs:4:5:\nout of frobs\nnote: run with `RUST_BACKTRACE=1`\n",
        );
        assert_eq!(capture.panic_message().as_deref(), Some("out of frobs (at src/lib.rs:4:5)"));
    }
}
