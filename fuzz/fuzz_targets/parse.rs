//! Any bytes through parse, validate and plan: no panic, no hang, whatever the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(loaded) = vnet::topology::parse("fuzz.yaml", "fuzz", data) {
        for mode in [vnet::plan::VlanMode::Native, vnet::plan::VlanMode::Emulated] {
            let plan = vnet::plan::plan(&loaded.lab, mode);
            let _ = plan.to_string();
        }
    }
});
