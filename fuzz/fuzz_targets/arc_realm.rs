//! The Arc agent's `WWW-Authenticate: Basic realm=<key file>` challenge.
#![no_main]
use libfuzzer_sys::fuzz_target;

use armi::sources::arc::realm;

fuzz_target!(|data: &[u8]| {
    let _ = realm(&String::from_utf8_lossy(data));
});
