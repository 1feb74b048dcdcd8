//! HCL stack trees into a resolved, typed model
