//! Any bytes given as a rollback file must give its entries or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("fuzz.rollback.yaml");
    let _ = hikkonuki::journal::parse(data, path, false);
    let _ = hikkonuki::journal::parse(data, path, true);
});
