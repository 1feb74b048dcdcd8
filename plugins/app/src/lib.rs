//! the app plugin
