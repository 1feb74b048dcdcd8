//! the render target: deterministic YAML for GitOps
