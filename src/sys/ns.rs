//! Facts about the calling process's namespaces and the host programs it may use.

use std::fs;
use std::path::PathBuf;

/// `true` when this process is in the initial user namespace (`uid_map` is the identity map
/// of the whole 32-bit range).
pub fn in_initial_userns() -> bool {
    match fs::read_to_string("/proc/self/uid_map") {
        Ok(s) => {
            let f: Vec<&str> = s.split_whitespace().collect();
            f == ["0", "0", "4294967295"]
        }
        Err(_) => true,
    }
}

/// Finds a helper binary (`newuidmap`, `newgidmap`) in the usual places; `PATH` may be unset
/// when Podman calls us (docs/reference/clients.md "How the runtime is started").
pub fn find_helper(name: &str) -> Option<PathBuf> {
    // Tests point this at a directory to simulate hosts without the helpers.
    if let Some(d) = std::env::var_os("SINGLET_HELPER_DIR") {
        let p = PathBuf::from(d).join(name);
        return p.is_file().then_some(p);
    }
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .filter(|d| !d.is_empty())
        .chain(["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"])
        .map(|d| PathBuf::from(d).join(name))
        .find(|p| p.is_file());
    found
}
