//! what a Capstan plugin author depends on
