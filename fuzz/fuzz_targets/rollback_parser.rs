//! Any bytes given as a rollback file must give its entries or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("fuzz.rollback.yaml");
    // A fixed key, so files naming its ID reach the authentication of every entry.
    let keys = hikkonuki::journal::keys::KeyStore::with_key(&[7u8; 32]);
    let _ = hikkonuki::journal::parse(data, path, &keys, false);
    let _ = hikkonuki::journal::parse(data, path, &keys, true);
});
