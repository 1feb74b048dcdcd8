//! Runs a built plugin through the real engine host (feature `host`).
