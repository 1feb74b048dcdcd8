//! Logging from inside a plugin, through the contract's only import.
//!
//! In a guest, messages go to the engine, which tags them with the plugin and
//! component and caps their size. On the host (unit tests, the test kit) they
//! go to stderr, which `cargo test` captures and shows for failing tests.
//!
//! ```
//! capstan_sdk::log::info!("planning {} objects", 3);
//! ```
//! Never log a sensitive value: the engine cannot tell it apart from text.

pub use capstan_core::LogLevel as Level;

/// Sends one message at `level`. The macros below are shorthands.
pub fn write(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    {
        use crate::bindings::capstan::plugin::log as wlog;
        let level = match level {
            Level::Trace => wlog::Level::Trace,
            Level::Debug => wlog::Level::Debug,
            Level::Info => wlog::Level::Info,
            Level::Warn => wlog::Level::Warn,
            Level::Error => wlog::Level::Error,
        };
        wlog::log(level, message);
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        eprintln!("[plugin {level:?}] {message}");
    }
}

#[doc(hidden)]
#[macro_export]
macro_rules! __capstan_log {
    ($level:ident, $($arg:tt)*) => {
        $crate::log::write($crate::log::Level::$level, &::std::format!($($arg)*))
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __capstan_log_trace { ($($arg:tt)*) => { $crate::__capstan_log!(Trace, $($arg)*) }; }
#[doc(hidden)]
#[macro_export]
macro_rules! __capstan_log_debug { ($($arg:tt)*) => { $crate::__capstan_log!(Debug, $($arg)*) }; }
#[doc(hidden)]
#[macro_export]
macro_rules! __capstan_log_info { ($($arg:tt)*) => { $crate::__capstan_log!(Info, $($arg)*) }; }
#[doc(hidden)]
#[macro_export]
macro_rules! __capstan_log_warn { ($($arg:tt)*) => { $crate::__capstan_log!(Warn, $($arg)*) }; }
#[doc(hidden)]
#[macro_export]
macro_rules! __capstan_log_error { ($($arg:tt)*) => { $crate::__capstan_log!(Error, $($arg)*) }; }

pub use crate::__capstan_log_debug as debug;
pub use crate::__capstan_log_error as error;
pub use crate::__capstan_log_info as info;
pub use crate::__capstan_log_trace as trace;
pub use crate::__capstan_log_warn as warn;
