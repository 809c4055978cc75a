//! IMDS's instance metadata body → serde_json → `Vm::from_instance`.
#![no_main]
use libfuzzer_sys::fuzz_target;

use armi::imds::{Vm, clean};

fuzz_target!(|body: &[u8]| {
    if let Ok(instance) = serde_json::from_slice::<serde_json::Value>(body) {
        let vm = Vm::from_instance(&instance);
        let _ = clean(&vm.resource_id);
    }
    let _ = clean(&String::from_utf8_lossy(body));
});
