//! the wasmtime plugin host: sandbox, limits, compiled-plugin cache
