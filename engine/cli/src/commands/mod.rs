//! One module per command family.

pub mod history;
pub mod init;
pub mod plugin;
pub mod policy;
pub mod run;
pub mod scaffold;
pub mod secrets;
pub mod state;
pub mod surgery;
pub mod tree;
