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
//! are never touched, so nothing of the process's state is lost.

use std::io::BufRead;

/// What [`release_code`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Released {
    /// Mappings given back.
    pub mappings: usize,
    /// Their resident size before, in KiB.
    pub kib: u64,
}

/// Unmaps the resident pages of every read-only, file-backed private mapping of the calling
/// process that has no anonymous pages (`MADV_DONTNEED`; `/proc/self/smaps` says which), and
/// returns the allocator's free memory (`malloc_trim`).
/// Best effort: a mapping that cannot be read or advised is left as it is.
pub fn release_code() -> Released {
    let Ok(f) = std::fs::File::open("/proc/self/smaps") else {
        return Released::default();
    };
    let mut out = Released::default();
    // (start, end, candidate, rss, anonymous)
    let mut cur: Option<(usize, usize, bool, u64, u64)> = None;
    let mut todo: Vec<(usize, usize, u64)> = Vec::new();
    let mut flush = |c: Option<(usize, usize, bool, u64, u64)>| {
        if let Some((s, e, cand, rss, anon)) = c {
            if cand && anon == 0 && rss > 0 {
                todo.push((s, e, rss));
            }
        }
    };
    for line in std::io::BufReader::new(f).lines().map_while(Result::ok) {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-').filter(|_| !first.ends_with(':')) {
            let (Ok(s), Ok(e)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            else {
                continue;
            };
            flush(cur.take());
            let perms = words.next().unwrap_or("");
            let inode = words.nth(2).unwrap_or("0");
            let path = words.next().unwrap_or("");
            // Private, not writable, backed by a file (not [vdso], [vvar], [stack]…).
            let cand = perms.len() == 4
                && perms.as_bytes()[1] == b'-'
                && perms.as_bytes()[3] == b'p'
                && inode != "0"
                && !path.starts_with('[');
            cur = Some((s, e, cand, 0, 0));
        } else if let Some(c) = cur.as_mut() {
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
}
