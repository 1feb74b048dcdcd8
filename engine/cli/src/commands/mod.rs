//! One module per command family.

pub mod init;
pub mod plugin;
pub mod policy;
pub mod run;
pub mod scaffold;
pub mod secrets;
pub mod state;
pub mod tree;
