//! config.json: deserialization and the runtime's bundle validation rules, including the
//! checks that keep a config from reaching the host (sysctl keys, cgroupsPath, ids).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(spec) = serde_json::from_slice::<oci_spec::runtime::Spec>(data) {
        let p = std::path::Path::new("config.json");
        let _ = singlet::runtime::container::validate_version(spec.version(), p);
        if let Ok(ns) = singlet::runtime::process::Namespaces::from_spec(&spec, p) {
            let _ = singlet::runtime::container::validate_host_reach(&spec, &ns, p);
        }
        let _ = singlet::runtime::rootfs::Rootfs::validate(&spec, p);
        if let Some(sc) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
            let _ = singlet::runtime::security::build_seccomp(sc);
        }
    }
});
