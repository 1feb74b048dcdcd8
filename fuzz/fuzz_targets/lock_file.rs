//! `capstan.lock`, as committed to a repository: any bytes are a lock file
//! or an error naming the file, and a lock file read and written again reads
//! back the same.
#![no_main]

use std::path::PathBuf;

use capstan_registry::LockFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = PathBuf::from("capstan.lock");
    if let Ok(lock) = LockFile::parse(path.clone(), data) {
        let again = LockFile::parse(path, &lock.to_bytes()).expect("a lock file Capstan wrote reads back");
        assert_eq!(again.plugins, lock.plugins);
        assert_eq!(again.pins, lock.pins);
    }
});
