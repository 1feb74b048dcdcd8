//! builds plugin crates for wasm32-wasip2 from build scripts
