//! Giving back the pages a long-lived process of the runtime no longer needs.
//!
//! The runtime's processes that stay for a container's lifetime (the foreground launcher or
//! `run` waiting for it, an instance's monitor, the init of a container with a PID namespace)
//! touch megabytes of the binary's code while they set the container up, and then only wait.
//! Those code pages stay mapped, counted in each process's RSS and PSS (bench/README.md,
//! "Lean resident processes"). [`release_code`] unmaps every read-only file mapping that holds only
//! page-cache pages (the binary's and the C library's code and read-only data); the few
//! pages the waiting loop uses are faulted back in from the page cache on the next access.
//! Mappings with anonymous pages (copy-on-write: relocated `RELRO` data) and writable ones
//! are never touched, so nothing of the process's state is lost. The one exception is the
//! main thread's stack below the caller's frame: the set-up's deep call chains left dirty
//! pages there that no live frame uses, and they are given back too (a later deeper call gets
//! zeroed pages, as a fresh stack would).

use std::io::BufRead;

/// What [`release_code`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Released {
    /// Mappings given back.
    pub mappings: usize,
    /// Their resident size before, in KiB.
    pub kib: u64,
    /// Resident stack below the caller's frame given back, in KiB.
    pub stack_kib: u64,
}

/// What [`release_code`] keeps of the stack below its own frame, in bytes: room for the
/// frames of the calls it makes after measuring the stack pointer (the `madvise` wrapper, the
/// x86-64 red zone) with a wide margin.
const STACK_KEEP: usize = 8 * 1024;

/// Unmaps the resident pages of every read-only, file-backed private mapping of the calling
/// process that has no anonymous pages (`MADV_DONTNEED`; `/proc/self/smaps` says which), and
/// returns the allocator's free memory (`malloc_trim`) and the main thread's stack pages more
/// than [`STACK_KEEP`] bytes below this function's frame.
/// Best effort: a mapping that cannot be read or advised is left as it is.
///
/// Never inlined: its frame is the bound for the stack pages it gives back, which must lie
/// below every frame of its callers.
#[inline(never)]
pub fn release_code() -> Released {
    // An address in this function's frame: everything more than STACK_KEEP below it is dead
    // (no frame of a caller lies there; the calls made from here are shallow).
    let marker = 0u8;
    let here = std::hint::black_box(&marker) as *const u8 as usize;
    let Ok(f) = std::fs::File::open("/proc/self/smaps") else {
        return Released::default();
    };
    let mut out = Released::default();
    // (start, end, candidate, rss, anonymous)
    let mut cur: Option<(usize, usize, bool, u64, u64)> = None;
    let mut todo: Vec<(usize, usize, u64)> = Vec::new();
    let mut stack: Option<(usize, usize, u64)> = None;
    let mut flush = |c: Option<(usize, usize, bool, u64, u64)>| {
        if let Some((s, e, cand, rss, anon)) = c {
            if cand && anon == 0 && rss > 0 {
                todo.push((s, e, rss));
            }
            if (s..e).contains(&here) {
                stack = Some((s, e, rss));
            }
        }
    };
    for line in std::io::BufReader::new(f).lines().map_while(Result::ok) {
        if let Some(m) = super::proc::Mapping::parse(&line) {
            flush(cur.take());
            // Private, not writable, backed by a file ([vdso], [vvar], [stack]… have inode 0).
            let cand = m.private && m.prot & libc::PROT_WRITE == 0 && m.inode != 0;
            cur = Some((m.start, m.end, cand, 0, 0));
        } else if let Some(c) = cur.as_mut() {
            let mut words = line.split_whitespace();
            let first = words.next().unwrap_or("");
            let kib = || {
                words
                    .clone()
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            match first {
                "Rss:" => c.3 = kib(),
                "Anonymous:" => c.4 = kib(),
                _ => {}
            }
        }
    }
    flush(cur.take());
    // Free heap memory back to the kernel too (the set-up's parsed configurations, buffers).
    // SAFETY: malloc_trim only returns unused memory of the allocator's arenas.
    unsafe { libc::malloc_trim(0) };
    // The dead part of the stack: from the mapping's start (it grows down) to STACK_KEEP
    // below this frame, in whole pages. Before the code, so that what runs after the code is
    // given back is only the loop below (bench/resident-order.sh lists what that is).
    if let Some((s, _, _)) = stack {
        let page = 4096;
        let end = here.saturating_sub(STACK_KEEP) & !(page - 1);
        if end > s {
            let before = resident_kib(s, end);
            // SAFETY: [s, end) lies in the mapping that holds this function's frame, more
            // than STACK_KEEP bytes below it; the stack grows down, so no live frame (this
            // one's callers lie above it, its callees are shallower than STACK_KEEP) and no
            // live data is there. Dropped pages read back as zeros if a deeper call comes.
            let r = unsafe { libc::madvise(s as *mut libc::c_void, end - s, libc::MADV_DONTNEED) };
            if r == 0 {
                out.stack_kib = before;
            }
        }
    }
    for (s, e, rss) in todo {
        // SAFETY: the range is a whole read-only private file mapping of this process with no
        // anonymous (copied) page: dropping its page table entries loses nothing, the pages
        // are read back from the file on the next access.
        let r = unsafe { libc::madvise(s as *mut libc::c_void, e - s, libc::MADV_DONTNEED) };
        if r == 0 {
            out.mappings += 1;
            out.kib += rss;
        }
    }
    out
}

/// Resident KiB of `[start, end)` of this process (`mincore`); 0 when it cannot tell.
fn resident_kib(start: usize, end: usize) -> u64 {
    let pages = (end - start) / 4096;
    let mut vec = vec![0u8; pages];
    // SAFETY: `start` is page aligned, the range is mapped, `vec` has a byte per page.
    let r = unsafe { libc::mincore(start as *mut libc::c_void, end - start, vec.as_mut_ptr()) };
    if r != 0 {
        return 0;
    }
    vec.iter().filter(|b| *b & 1 == 1).count() as u64 * 4
}

/// While alive, large allocations come from glibc's heap and stay there when freed, so a
/// stream of short-lived buffers reuses the same pages: a registry download allocates one
/// buffer of up to 400 KiB per received chunk, and above glibc's `mmap` threshold each of
/// those was a fresh `mmap` (zeroed pages, a fault per page) and a `munmap`. Sets
/// `M_MMAP_THRESHOLD` to 32 MiB and `M_TRIM_THRESHOLD` to 128 MiB (`mallopt(3)`); dropping it
/// puts both back to glibc's initial 128 KiB (no longer adjusted as glibc does on its own) and
/// trims the heap (`malloc_trim`), so a process that goes on (a launcher pulling through the
/// cache) keeps nothing of it. Measured
/// on a 60 MB SIF pull: about half the page faults (3,149–5,545 → 1,490–1,580), the time
/// within the noise (bench/README.md, "SIF transfer"). A no-op off glibc.
pub struct ReusedHeap(());

impl ReusedHeap {
    /// Starts reusing the heap for large buffers; see [`ReusedHeap`].
    pub fn begin() -> ReusedHeap {
        #[cfg(target_env = "gnu")]
        // SAFETY: mallopt only changes the allocator's thresholds.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 20);
        }
        ReusedHeap(())
    }
}

impl Drop for ReusedHeap {
    fn drop(&mut self) {
        #[cfg(target_env = "gnu")]
        // SAFETY: as in `begin`; malloc_trim only gives free memory back.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 10);
            libc::malloc_trim(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rss_kib() -> u64 {
        let s = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap();
        s.lines()
            .find(|l| l.starts_with("Rss:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .parse()
            .unwrap()
    }

    #[test]
    fn code_pages_come_back_and_the_process_keeps_working() {
        let before = rss_kib();
        let r = release_code();
        assert!(r.mappings > 0 && r.kib > 0, "{r:?}");
        let after = rss_kib();
        assert!(after < before, "{before} -> {after}");
        // Still runs: formatting, allocation, and a relocated static (RELRO) are intact.
        static NAMES: [&str; 2] = ["a", "b"];
        assert_eq!(format!("{}{}", NAMES[0], NAMES[1]), "ab");
        assert!(std::env::args().count() > 0);
    }

    /// Dirties about `kib` KiB of stack below the caller and returns a checksum of it.
    #[inline(never)]
    fn deep(kib: usize) -> u64 {
        let mut buf = [0u8; 1024];
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (i + kib) as u8;
        }
        let buf = std::hint::black_box(buf);
        let below = if kib > 1 { deep(kib - 1) } else { 0 };
        below + buf.iter().map(|b| u64::from(*b)).sum::<u64>()
    }

    #[test]
    fn dead_stack_pages_are_given_back() {
        // A thread of its own with room to spare (debug builds use several KiB a level): the
        // recursion dirties at least 512 KiB of it.
        std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn(|| {
                let sum = deep(512);
                let r = release_code();
                // Most of the 512 KiB lay more than STACK_KEEP below release_code's frame.
                assert!(r.stack_kib >= 400, "{r:?}");
                // Live frames are intact and the stack is usable again at the same depth.
                assert_eq!(deep(512), sum);
                let again = release_code();
                assert!(again.stack_kib >= 400, "{again:?}");
            })
            .unwrap()
            .join()
            .unwrap();
    }
}
