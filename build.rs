//! Link-time layout of the release binary.
//!
//! Start-up touches a few hundred of the binary's twelve thousand functions, and left where the
//! compiler puts them they are spread over most of its 13 MB of code: every `singlet-oci run`
//! faulted in 5.5 MB of it. `link/startup.order` lists the functions the start-up paths call, in
//! the order they first call them (made by `bench/startup-order.sh` from uprobes, not by hand);
//! handed to the linker as a symbol ordering file it puts them first and together, and a `run`
//! maps 2.3 MB of the binary instead (bench/README.md, "Start-up symbol order").
//!
//! Only release builds for x86_64 GNU/Linux get it: there Rust (1.90 and later, our MSRV) links
//! with its own `lld`, which reads the file; GNU ld does not know the option. A build that
//! chooses another linker, or sets `SINGLET_SYMBOL_ORDER=0`, links without it. Names the file
//! lists that the binary no longer has (code renamed since the file was made) are ignored.

use std::env;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=link/startup.order");
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
    if var("SINGLET_SYMBOL_ORDER") != "0" {
        symbol_order(&Path::new(&var("CARGO_MANIFEST_DIR")).join("link/startup.order"));
    }
    if var("SINGLET_RELR") == "1" {
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

/// `SINGLET_RELR=1`: relative relocations packed as `DT_RELR` (`-z pack-relative-relocs`), a
/// 5.6 KB table instead of 450 KB of `RELA` entries the dynamic loader reads at every start
/// (0.3 MB less peak RSS, bench/README.md). Opt-in because the binary then needs glibc 2.36 or
/// later to run, where it otherwise needs 2.34: a build copied to older nodes would refuse to
/// start there. Only when the building host's glibc is 2.36 or later: with an older one lld
/// would emit the table without the version that makes an old loader refuse it, and it would
/// crash instead.
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
            "cargo:warning=SINGLET_RELR=1 needs glibc 2.36 or later (`getconf GNU_LIBC_VERSION`: {:?}): linking without it",
            version.trim()
        );
    }
}
