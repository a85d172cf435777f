//! Keeps the runtime's binary out of reach of the containers it starts (CVE-2019-5736 class,
//! docs/reference/security.md, class 2).
//!
//! Every process of singlet that enters a container (the init before its `execve`, a tenant of
//! `exec`, and whatever a container makes execute `/proc/<pid>/exe` of them) has the singlet
//! binary as its `/proc/self/exe`. A container process that opens that link and writes through
//! it once the runtime has exited rewrites the host's binary, which the next `singlet` run by
//! root or by the user executes. [`protect`] re-executes the runtime, before it does anything,
//! from a file nothing can write:
//!
//! 1. already safe: the binary is on a read-only mount, or is a sealed `memfd` (the re-executed
//!    process lands here);
//! 2. root: a detached read-only bind mount of the binary (`open_tree(OPEN_TREE_CLONE)` and
//!    `mount_setattr(MOUNT_ATTR_RDONLY)`, Linux 5.12), no copy; what runc 1.2 does with an
//!    overlay, with less;
//! 3. otherwise, when container root could write the file (it belongs to the caller or is
//!    writable by group or others): a sealed `memfd` copy (`F_SEAL_WRITE`, `F_SEAL_GROW`,
//!    `F_SEAL_SHRINK`, `F_SEAL_SEAL`), as runc 1.1 and crun do;
//! 4. otherwise (an unprivileged caller and a binary owned by another user, such as root's
//!    `/usr/local/bin/singlet`): nothing to do, no process of a rootless container has a uid
//!    that may write the file.
//!
//! In steps 2 and 3, a process the kernel lets change its own executable (`CAP_SYS_ADMIN` or
//! `CAP_CHECKPOINT_RESTORE`, else `CAP_SYS_RESOURCE`: root on the host) does not
//! re-execute: it moves onto the protected file in place ([`adopt`]). Every mapping of the
//! binary is replaced by the same bytes from the protected file (code and read-only data mapped
//! again from it, the same page-cache pages through the other mount; the relocated `RELRO` and
//! the data segment copied into anonymous memory, since they hold what the start-up wrote), then
//! `prctl(PR_SET_MM)` points `/proc/self/exe` at it. The kernel refuses that while any
//! mapping of the old file remains, so success means nothing of this process names the
//! writable file any more. An `execve` costs about 1.1 ms of CPU on the benchmark VM (a page
//! table, the loader's work and the start-up's page faults again); the move costs a fraction
//! of it (bench/README.md, "The binary's protection without a second exec"). Any failure
//! (no capability, a kernel that refuses, a layout not understood) falls back to the
//! re-execution.
//!
//! The re-execution keeps `argv`, the environment and every descriptor the caller passed.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

/// How the running binary is protected, as [`state`] finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// On a read-only mount (the detached bind of step 2, or a read-only `/usr`).
    ReadOnlyMount,
    /// A sealed `memfd` copy.
    SealedCopy,
    /// A writable file that no container process of this caller can write (step 4).
    NotWritableFromContainers,
    /// A file that container root could write: [`protect`] must re-execute.
    Exposed,
}

/// What [`protect`] did, for the debug log (the log is not open yet when it runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The binary was already safe as it runs (includes a process [`protect`] re-executed).
    AlreadySafe(Protection),
    /// Moved onto the protected file in place, without `execve` ([`adopt`]).
    MovedInPlace(Protection),
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = |p: &Protection| match p {
            Protection::ReadOnlyMount => "a read-only mount",
            Protection::SealedCopy => "a sealed copy",
            Protection::NotWritableFromContainers => "a file no container process can write",
            Protection::Exposed => "a writable file",
        };
        match self {
            Outcome::AlreadySafe(p) => write!(f, "runtime binary: runs from {}", what(p)),
            Outcome::MovedInPlace(p) => write!(
                f,
                "runtime binary: moved in place onto {} (no re-execution)",
                what(p)
            ),
        }
    }
}

/// Errors of [`protect`]; each names the step.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading `/proc/self/exe`.
    #[error("open the runtime binary (/proc/self/exe): {0}")]
    Open(#[source] io::Error),
    /// Making the sealed copy.
    #[error("make a sealed copy of the runtime binary: {0}")]
    Copy(#[source] io::Error),
    /// The re-execution itself.
    #[error("re-execute the runtime from its protected copy: {0}")]
    Exec(#[source] nix::Error),
}

const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// How `/proc/self/exe` stands now.
///
/// # Errors
/// [`Error::Open`] when `/proc/self/exe` cannot be opened (no `/proc`).
pub fn state() -> Result<Protection, Error> {
    let exe = File::open("/proc/self/exe").map_err(Error::Open)?;
    Ok(classify(&exe))
}

fn classify(exe: &File) -> Protection {
    // SAFETY: F_GET_SEALS only reads; regular files answer EINVAL.
    let seals = unsafe { libc::fcntl(exe.as_raw_fd(), libc::F_GET_SEALS) };
    if seals >= 0 && seals & SEALS == SEALS {
        return Protection::SealedCopy;
    }
    if nix::sys::statvfs::fstatvfs(exe.as_fd())
        .is_ok_and(|v| v.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
    {
        return Protection::ReadOnlyMount;
    }
    let Ok(meta) = exe.metadata() else {
        return Protection::Exposed;
    };
    let euid = nix::unistd::geteuid().as_raw();
    if euid != 0 && meta.uid() != euid && meta.mode() & 0o022 == 0 {
        Protection::NotWritableFromContainers
    } else {
        Protection::Exposed
    }
}

/// Re-executes the process from a protected view of its binary unless it already runs from
/// one (see the module documentation). Call it first thing, before any descriptor is opened or
/// any thread started, in every command that makes a process enter a container. Returns only
/// when no re-execution was needed.
///
/// # Errors
/// [`Error`] when neither a read-only view nor a sealed copy could be made: the caller must
/// not go on to start a container.
pub fn protect() -> Result<Outcome, Error> {
    let exe = File::open("/proc/self/exe").map_err(Error::Open)?;
    let p = classify(&exe);
    if p != Protection::Exposed {
        return Ok(Outcome::AlreadySafe(p));
    }
    let (view, kind) = match read_only_view() {
        Ok(fd) => (fd, Protection::ReadOnlyMount),
        Err(e) => {
            tracing::debug!("read-only bind of the runtime binary: {e}; using a sealed copy");
            let copy = sealed_copy(exe.try_clone().map_err(Error::Open)?).map_err(Error::Copy)?;
            (copy, Protection::SealedCopy)
        }
    };
    match adopt(&exe, &view) {
        Ok(()) => return Ok(Outcome::MovedInPlace(kind)),
        Err(e) => tracing::debug!("moving onto the protected binary in place: {e}; re-executing"),
    }
    drop(exe);
    let args: Vec<CString> = std::env::args_os()
        .filter_map(|a| CString::new(a.as_bytes()).ok())
        .collect();
    let env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).ok()
        })
        .collect();
    let e = nix::unistd::fexecve(view.as_raw_fd(), &args, &env).unwrap_err();
    Err(Error::Exec(e))
}

/// Moves this process onto `view` (the protected file holding the same bytes as `exe`)
/// without executing it: each private mapping of `exe` in `/proc/self/maps` is replaced, at the
/// same address and with the same protection, by a mapping of `view` at the same offset, or,
/// for the data segment and the `RELRO` range of the program's `PT_GNU_RELRO` header (pages the
/// start-up wrote: relocations, initialised data), by an anonymous copy of its current bytes.
/// Then [`set_exe_file`] makes `view` the process's executable, which `/proc/<pid>/exe`, its
/// children and a `#!/proc/self/exe` interpreter then resolve to. The kernel refuses the change (`EBUSY`) while any mapping of
/// the old file remains.
///
/// Call it while the process has one thread. The bytes at every address stay the same
/// throughout, so a failure part-way leaves a process that runs as before (some mappings then
/// name the view): the caller re-executes instead.
///
/// # Errors
/// Reading `/proc/self/maps`, a shared or unreadable written mapping of the binary, no mapping
/// of it found, `mmap`/`mremap`/`mprotect` failing, or `prctl` refused (`EPERM` without the
/// capability, `EBUSY`, `EACCES`).
fn adopt(exe: &File, view: &OwnedFd) -> io::Result<()> {
    use super::proc::Mapping;
    let meta = exe.metadata()?;
    let maps = std::fs::read_to_string("/proc/self/maps")?;
    let relro = relro_range();
    let mut found = 0;
    for line in maps.lines() {
        let Some(m) = Mapping::parse(line) else {
            continue;
        };
        if m.inode != meta.ino() || m.dev != (libc::major(meta.dev()), libc::minor(meta.dev())) {
            continue;
        }
        if !m.private {
            return Err(io::Error::other(format!(
                "shared mapping of the binary: {line}"
            )));
        }
        let written =
            m.prot & libc::PROT_WRITE != 0 || relro.is_some_and(|(s, e)| m.start < e && s < m.end);
        if written {
            copy_to_anonymous(&m)?;
        } else {
            // SAFETY: MAP_FIXED over a mapping of the same file contents at the same offset:
            // every byte at these addresses, the code running now included, stays the same.
            let p = unsafe {
                libc::mmap(
                    m.start as *mut libc::c_void,
                    m.end - m.start,
                    m.prot,
                    libc::MAP_PRIVATE | libc::MAP_FIXED,
                    view.as_raw_fd(),
                    m.offset as libc::off_t,
                )
            };
            if p == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
        }
        found += 1;
    }
    if found == 0 {
        return Err(io::Error::other(
            "no mapping of the binary in /proc/self/maps",
        ));
    }
    set_exe_file(view)
}

/// `struct prctl_mm_map` of `<linux/prctl.h>` (Linux 3.18).
#[repr(C)]
#[derive(Default)]
struct MmMap {
    start_code: u64,
    end_code: u64,
    start_data: u64,
    end_data: u64,
    start_brk: u64,
    brk: u64,
    start_stack: u64,
    arg_start: u64,
    arg_end: u64,
    env_start: u64,
    env_end: u64,
    auxv: u64,
    auxv_size: u32,
    exe_fd: u32,
}

/// Makes `file` this process's executable. `PR_SET_MM_MAP` with `exe_fd` needs
/// `CAP_SYS_ADMIN` or `CAP_CHECKPOINT_RESTORE` (a root runtime has the first) and restates the
/// layout the kernel keeps for `/proc/<pid>/stat` and `cmdline`, read back from
/// `/proc/self/stat` and `brk(0)` unchanged; `PR_SET_MM_EXE_FILE` needs `CAP_SYS_RESOURCE`, which
/// some hosts take from root (this VM's does).
fn set_exe_file(file: &OwnedFd) -> io::Result<()> {
    let map_error = match current_mm_map() {
        Some(mut map) => {
            map.exe_fd = file.as_raw_fd() as u32;
            // SAFETY: PR_SET_MM_MAP reads `size_of::<MmMap>()` bytes of `map`; every address
            // in it is the kernel's own current value.
            let r = unsafe {
                libc::prctl(
                    libc::PR_SET_MM,
                    libc::PR_SET_MM_MAP,
                    (&raw const map) as libc::c_ulong,
                    std::mem::size_of::<MmMap>() as libc::c_ulong,
                    0 as libc::c_ulong,
                )
            };
            if r == 0 {
                return Ok(());
            }
            io::Error::last_os_error()
        }
        None => io::Error::other("/proc/self/stat lacks the memory layout"),
    };
    // SAFETY: PR_SET_MM_EXE_FILE takes a descriptor and changes only the exe link.
    let r = unsafe {
        libc::prctl(
            libc::PR_SET_MM,
            libc::PR_SET_MM_EXE_FILE,
            file.as_raw_fd() as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    if r != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::other(format!(
            "PR_SET_MM_MAP: {map_error}; PR_SET_MM_EXE_FILE: {e}"
        )));
    }
    Ok(())
}

/// The memory layout of this process as `/proc/self/stat` shows it (fields 26–28 and 45–51,
/// proc(5)), and the current program break.
fn current_mm_map() -> Option<MmMap> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_mm_map(&stat, brk_now())
}

fn brk_now() -> u64 {
    // SAFETY: brk(0) only reports the current break.
    unsafe { libc::syscall(libc::SYS_brk, 0) as u64 }
}

/// The layout fields of one `/proc/<pid>/stat` line; `brk` is the current break (not in it).
fn parse_mm_map(stat: &str, brk: u64) -> Option<MmMap> {
    // The command name, field 2, is in parentheses and may hold spaces and ')': the fields
    // after the last ')' start at field 3.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_ascii_whitespace().collect();
    let field = |n: usize| f.get(n - 3)?.parse::<u64>().ok();
    Some(MmMap {
        start_code: field(26)?,
        end_code: field(27)?,
        start_stack: field(28)?,
        start_data: field(45)?,
        end_data: field(46)?,
        start_brk: field(47)?,
        brk,
        arg_start: field(48)?,
        arg_end: field(49)?,
        env_start: field(50)?,
        env_end: field(51)?,
        ..MmMap::default()
    })
}

/// Replaces the mapping `m` by anonymous memory holding its current bytes, with the same
/// protection, 64 KiB at a time: each piece is copied beside the mapping, then moved over its
/// place (`mremap` replaces the old range in one step and frees its pages), so the copy adds
/// at most one piece to the process's peak memory, not the whole `RELRO` (348 KiB).
fn copy_to_anonymous(m: &super::proc::Mapping) -> io::Result<()> {
    const PIECE: usize = 64 * 1024;
    if m.prot & libc::PROT_READ == 0 {
        return Err(io::Error::other(
            "an unreadable written mapping of the binary",
        ));
    }
    let mut at = m.start;
    while at < m.end {
        let len = PIECE.min(m.end - at);
        replace_with_copy(at, len, m.prot)?;
        at += len;
    }
    Ok(())
}

/// [`copy_to_anonymous`] for one page-aligned piece `[at, at + len)`.
fn replace_with_copy(at: usize, len: usize, prot: libc::c_int) -> io::Result<()> {
    // SAFETY: a fresh anonymous mapping; checked below.
    let tmp = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if tmp == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both ranges are `len` bytes, readable (source) and writable (copy), disjoint.
    unsafe { std::ptr::copy_nonoverlapping(at as *const u8, tmp.cast::<u8>(), len) };
    // SAFETY: `tmp` is ours; mprotect then mremap over the original range, whose bytes the
    // copy holds.
    unsafe {
        if libc::mprotect(tmp, len, prot) != 0 {
            let e = io::Error::last_os_error();
            libc::munmap(tmp, len);
            return Err(e);
        }
        let p = libc::mremap(
            tmp,
            len,
            len,
            libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
            at as *mut libc::c_void,
        );
        if p == libc::MAP_FAILED {
            let e = io::Error::last_os_error();
            libc::munmap(tmp, len);
            return Err(e);
        }
    }
    Ok(())
}

/// The running program's `PT_GNU_RELRO` range (start, end), relocated: the first object
/// `dl_iterate_phdr` reports is the program itself.
fn relro_range() -> Option<(usize, usize)> {
    unsafe extern "C" fn first(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: the loader passes a valid record; `data` is the Option below.
        let (info, out) = unsafe { (&*info, &mut *data.cast::<Option<(usize, usize)>>()) };
        for i in 0..usize::from(info.dlpi_phnum) {
            // SAFETY: `dlpi_phdr` has `dlpi_phnum` entries.
            let ph = unsafe { &*info.dlpi_phdr.add(i) };
            if ph.p_type == libc::PT_GNU_RELRO {
                let s = info.dlpi_addr as usize + ph.p_vaddr as usize;
                *out = Some((s, s + ph.p_memsz as usize));
            }
        }
        1
    }
    let mut out: Option<(usize, usize)> = None;
    // SAFETY: the callback only reads the records and writes `out`.
    unsafe { libc::dl_iterate_phdr(Some(first), (&raw mut out).cast()) };
    out
}

/// A detached, read-only bind mount of `/proc/self/exe`, opened as the file to execute.
fn read_only_view() -> io::Result<OwnedFd> {
    use super::mount::{ATTR_NODEV, ATTR_NOSUID, ATTR_RDONLY};
    let tree = super::mount::clone_tree(c"/proc/self/exe")?;
    super::mount::set_attrs(tree.as_fd(), ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV, false)?;
    // The tree's root is the binary itself: reopen it as a plain file to execute.
    let file = File::open(format!("/proc/self/fd/{}", tree.as_raw_fd()))?;
    if !nix::sys::statvfs::fstatvfs(file.as_fd())
        .is_ok_and(|v| v.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
    {
        return Err(io::Error::other("the bind mount did not turn read-only"));
    }
    Ok(file.into())
}

/// A sealed `memfd` holding a copy of the binary.
fn sealed_copy(mut exe: File) -> io::Result<OwnedFd> {
    // SAFETY: memfd_create with a NUL-terminated name; returns a new descriptor or -1.
    let fd = unsafe {
        libc::memfd_create(
            c"singlet".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: memfd_create returned a fresh descriptor.
    let mut copy = unsafe { File::from_raw_fd(fd) };
    io::copy(&mut exe, &mut copy)?;
    // SAFETY: F_ADD_SEALS on our memfd.
    if unsafe { libc::fcntl(copy.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(copy.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_layout_parses_past_a_command_with_spaces_and_parens() {
        // A real line of /proc/self/stat, the command name changed to "a) (b".
        let line = "1434 (a) (b) R 1430 1430 27621 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 \
                    2574449 3133440 408 18446744073709551615 94699211530240 94699211550121 \
                    140724724564976 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 94699211566128 \
                    94699211567744 94700101693440 140724724570847 140724724570867 \
                    140724724570867 140724724572139 0";
        let m = parse_mm_map(line, 94_700_101_800_000).unwrap();
        assert_eq!(m.start_code, 94_699_211_530_240);
        assert_eq!(m.end_code, 94_699_211_550_121);
        assert_eq!(m.start_stack, 140_724_724_564_976);
        assert_eq!(m.start_data, 94_699_211_566_128);
        assert_eq!(m.end_data, 94_699_211_567_744);
        assert_eq!(m.start_brk, 94_700_101_693_440);
        assert_eq!(m.brk, 94_700_101_800_000);
        assert_eq!(
            (m.arg_start, m.arg_end),
            (140_724_724_570_847, 140_724_724_570_867)
        );
        assert_eq!(
            (m.env_start, m.env_end),
            (140_724_724_570_867, 140_724_724_572_139)
        );
        assert_eq!(m.exe_fd, 0);
        assert!(parse_mm_map("1 (x) R 1 2 3", 0).is_none());
    }

    #[test]
    fn the_layout_matches_what_the_kernel_holds() {
        let m = current_mm_map().unwrap();
        assert!(m.start_code < m.end_code);
        assert!(m.start_brk <= m.brk);
        assert!(m.arg_start < m.arg_end && m.env_start <= m.env_end);
        assert_eq!(std::mem::size_of::<MmMap>(), 104, "struct prctl_mm_map");
        let (s, e) = relro_range().expect("the test binary has a PT_GNU_RELRO header");
        assert!(s < e);
    }

    #[test]
    fn sealed_copy_refuses_writes() {
        let exe = File::open("/proc/self/exe").unwrap();
        let fd = sealed_copy(exe).unwrap();
        let f = File::from(fd);
        assert_eq!(classify(&f), Protection::SealedCopy);
        let w = std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/self/fd/{}", f.as_raw_fd()));
        // Opening for writing may already fail (EPERM); if it opens, the write must fail.
        if let Ok(mut w) = w {
            use std::io::Write;
            assert!(w.write_all(b"x").is_err(), "a sealed copy took a write");
        }
    }
}
