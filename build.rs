//! Link-time layout of the release binary.
//!
//! Start-up touches a few hundred of the binary's twelve thousand functions, and left where the
//! compiler puts them they are spread over most of its 13 MB of code: every `singlet-oci run`
//! faulted in 5.5 MB of it. The order files list the functions the start-up paths call, in the
//! order they first call them (made by `bench/startup-order.sh` from uprobes, not by hand);
//! handed to the linker as a symbol ordering file they put them first and together, and a `run`
//! maps 2.3 MB of the binary instead (bench/README.md, "Start-up symbol order").
//!
//! Two files, because symbol names carry a hash of the build's metadata and a static build
//! (`scripts/release.sh`: `--target` and `crt-static`) names its functions differently from a
//! plain `cargo build --release`: `link/startup.order` for the static build, which also orders
//! the glibc functions it contains, `link/startup.dynamic.order` for the dynamic one.
//!
//! Only release builds for x86_64 GNU/Linux get them: there Rust (1.90 and later, our MSRV)
//! links with its own `lld`, which reads the file; GNU ld does not know the option. A build that
//! chooses another linker, or sets `SINGLET_SYMBOL_ORDER=0`, links without it. Names the file
//! lists that the binary no longer has (code renamed since the file was made) are ignored.
//!
//! The static build puts `link/resident.order` ahead of its start-up order: the functions
//! the long-lived waiting processes (an instance's monitor and init, a foreground `run`) run
//! after they give their code pages back, made by `bench/resident-order.sh`. Kept together
//! they fault back in as one block of code shared by those processes
//! (bench/README.md, "Resident code").
//!
//! Relative relocations are packed (`DT_RELR`) in static builds, and in dynamic ones when
//! `SINGLET_RELR=1`: see [`relr`].

use std::env;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=link/startup.order");
    println!("cargo:rerun-if-changed=link/startup.dynamic.order");
    println!("cargo:rerun-if-changed=link/resident.order");
    println!("cargo:rerun-if-env-changed=SINGLET_SYMBOL_ORDER");
    println!("cargo:rerun-if-env-changed=SINGLET_RELR");
    let var = |k: &str| env::var(k).unwrap_or_default();
    if var("PROFILE") != "release" || var("TARGET") != "x86_64-unknown-linux-gnu" {
        return;
    }
    // a linker chosen by the builder may be GNU ld, which refuses both options
    if var("CARGO_ENCODED_RUSTFLAGS").contains("linker")
        || env::var_os("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER").is_some()
    {
        println!(
            "cargo:warning=a linker is chosen in RUSTFLAGS or CARGO_TARGET_*_LINKER: linking without link/startup.order"
        );
        return;
    }
    let static_build = var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "crt-static");
    if var("SINGLET_SYMBOL_ORDER") != "0" {
        let dir = Path::new(&var("CARGO_MANIFEST_DIR")).join("link");
        if static_build {
            let out = Path::new(&var("OUT_DIR")).join("symbol.order");
            match join_orders(
                &dir.join("resident.order"),
                &dir.join("startup.order"),
                &out,
            ) {
                Ok(()) => symbol_order(&out),
                Err(e) => {
                    println!("cargo:warning=link/*.order: {e}: linking without a symbol order")
                }
            }
        } else {
            symbol_order(&dir.join("startup.dynamic.order"));
        }
    }
    if static_build || var("SINGLET_RELR") == "1" {
        relr();
    }
}

/// The start-up functions first, in `order`'s order (one symbol name per line).
fn symbol_order(order: &Path) {
    match order.to_str() {
        Some(p) if order.is_file() && !p.contains(',') => {
            println!("cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={p}");
            println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
        }
        _ => println!(
            "cargo:warning={}: missing, or its path has a comma: linking without a symbol order",
            order.display()
        ),
    }
}

/// `first`'s names (when the file exists), then `then`'s not already listed, into `out`.
fn join_orders(first: &Path, then: &Path, out: &Path) -> std::io::Result<()> {
    let mut seen = std::collections::HashSet::new();
    let mut all = String::new();
    for f in [first, then] {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && f == first => continue,
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("{}: {e}", f.display()),
                ))
            }
        };
        for name in text.split_whitespace() {
            if seen.insert(name.to_owned()) {
                all.push_str(name);
                all.push('\n');
            }
        }
    }
    std::fs::write(out, all)
}

/// Relative relocations packed as `DT_RELR` (`-z pack-relative-relocs`): a 5.6 KB table
/// instead of 450 KB of `RELA` entries read at every start (0.3 MB less peak RSS,
/// bench/README.md). A static build relocates itself with the glibc start-up code it
/// contains, so the table costs it nothing where it runs: always on there. A dynamic build
/// then needs glibc 2.36 or later where it runs, where it otherwise needs 2.34, so it is
/// opt-in there (`SINGLET_RELR=1`): a build copied to older nodes would refuse to start. Only
/// when the building host's glibc is 2.36 or later: with an older one lld would emit the table
/// without the version that makes an old loader refuse it (and an older static glibc has no
/// code to apply it), and the binary would crash instead.
fn relr() {
    let version = std::process::Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_default();
    let mut numbers = version.trim().trim_start_matches("glibc ").split('.');
    let major: u32 = numbers.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let minor: u32 = numbers.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    if (major, minor) >= (2, 36) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    } else {
        println!(
            "cargo:warning=packed relocations (static build or SINGLET_RELR=1) need glibc 2.36 or later (`getconf GNU_LIBC_VERSION`: {:?}): linking without it",
            version.trim()
        );
    }
}
