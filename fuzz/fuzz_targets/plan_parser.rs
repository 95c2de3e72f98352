//! Any bytes given as a plan must give a plan or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let registry = hikkonuki::services::registry();
        let _ = hikkonuki::plan::parse(text, std::path::Path::new("fuzz.yaml"), &registry);
    }
});
