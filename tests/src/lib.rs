//! end-to-end tests that drive the capstan binary
