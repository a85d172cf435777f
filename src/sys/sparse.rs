//! Writing untrusted file contents: holes kept, and a byte budget for the whole extraction
//! (docs/reference/security.md, class 6).
//!
//! An image is small on disk and can describe files far larger: a squashfs stores a block of
//! zeros as a hole, a tar layer has GNU sparse entries, and any compressor squeezes repeated
//! bytes a thousandfold. Extracting such an image byte by byte fills the disk. [`copy`] keeps
//! runs of zeros as holes (seek, then `set_len`), so sparse files stay sparse, and charges
//! every byte it really writes to a [`Budget`] shared by the extraction, which refuses to go
//! past it.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Floor of the budget, whatever the image's size.
pub const MIN_BUDGET: u64 = 1 << 30;
/// The budget is this many times the image's (compressed) size, above [`MIN_BUDGET`].
pub const RATIO: u64 = 32;
/// Left free on the target's filesystem.
pub const RESERVE: u64 = 64 << 20;
/// Environment variable overriding the budget, in bytes (`k`, `m`, `g` suffixes allowed).
pub const BUDGET_ENV: &str = "SINGLET_EXTRACT_BUDGET";

/// Bytes an extraction may still write; shared by its threads.
#[derive(Debug)]
pub struct Budget {
    total: u64,
    left: AtomicU64,
    /// Set when the free space of this directory (bytes free) is what limits the budget.
    space: Option<(std::path::PathBuf, u64)>,
}

impl Budget {
    /// A budget of exactly `bytes`.
    pub fn new(bytes: u64) -> Budget {
        Budget {
            total: bytes,
            left: AtomicU64::new(bytes),
            space: None,
        }
    }

    /// The budget for extracting an image of `image_bytes` into `target`: the larger of
    /// [`MIN_BUDGET`] and [`RATIO`] × `image_bytes`, but no more than the free space of
    /// `target`'s filesystem less [`RESERVE`]; `$SINGLET_EXTRACT_BUDGET` replaces the first
    /// part when set.
    pub fn for_image(image_bytes: u64, target: &Path) -> Budget {
        let wanted = std::env::var(BUDGET_ENV)
            .ok()
            .and_then(|v| parse_size(&v))
            .unwrap_or_else(|| image_bytes.saturating_mul(RATIO).max(MIN_BUDGET));
        let free = nix::sys::statvfs::statvfs(target)
            .map(|v| v.blocks_available().saturating_mul(v.fragment_size()))
            .unwrap_or(u64::MAX);
        let room = free.saturating_sub(RESERVE);
        let mut b = Budget::new(wanted.min(room));
        if room < wanted {
            b.space = Some((target.to_path_buf(), free));
        }
        b
    }

    /// The whole budget in bytes.
    pub fn total(&self) -> u64 {
        self.total
    }

    fn take(&self, n: u64) -> io::Result<()> {
        self.left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| l.checked_sub(n))
            .map(|_| ())
            .map_err(|_| {
                if let Some((dir, free)) = &self.space {
                    return io::Error::new(
                        io::ErrorKind::StorageFull,
                        format!(
                            "not enough free space in {} ({} MiB free, {} MiB kept free)",
                            dir.display(),
                            free >> 20,
                            RESERVE >> 20
                        ),
                    );
                }
                io::Error::new(
                    io::ErrorKind::StorageFull,
                    format!(
                        "the extraction would write more than its budget of {} MiB (the \
                         image's size × {RATIO}, at least {} MiB, within the free space; set \
                         {BUDGET_ENV} to change it)",
                        self.total >> 20,
                        MIN_BUDGET >> 20
                    ),
                )
            })
    }
}

/// `123`, `64k`, `512m`, `2g` → bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last()? {
        (i, 'k' | 'K') => (&s[..i], 1u64 << 10),
        (i, 'm' | 'M') => (&s[..i], 1 << 20),
        (i, 'g' | 'G') => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mult)
}

fn all_zero(b: &[u8]) -> bool {
    let (head, mid, tail) = {
        // SAFETY: u128 has no invalid bit patterns; align_to only reinterprets.
        unsafe { b.align_to::<u128>() }
    };
    head.iter().all(|x| *x == 0) && mid.iter().all(|x| *x == 0) && tail.iter().all(|x| *x == 0)
}

/// Copies `r` into `f` through `buf`, leaving holes where whole chunks are zero and charging
/// the bytes written to `budget`. Returns the file's length.
///
/// # Errors
/// The reader's and the file's errors; [`io::ErrorKind::StorageFull`] when the budget runs out
/// (the caller names the file).
pub fn copy(
    r: &mut impl Read,
    f: &mut std::fs::File,
    buf: &mut [u8],
    budget: &Budget,
) -> io::Result<u64> {
    let mut n = 0u64;
    let mut hole = false;
    loop {
        let got = match r.read(buf) {
            Ok(0) => break,
            Ok(g) => g,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = &buf[..got];
        if all_zero(chunk) {
            f.seek(SeekFrom::Current(got as i64))?;
            hole = true;
        } else {
            budget.take(got as u64)?;
            f.write_all(chunk)?;
            hole = false;
        }
        n += got as u64;
    }
    if hole {
        f.set_len(n)?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn holes_kept_and_budget_enforced() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        let mut f = std::fs::File::create(&p).unwrap();
        let mut data = vec![0u8; 64 << 20];
        data[0] = 1;
        let mut buf = vec![0u8; 256 << 10];
        let n = copy(&mut &data[..], &mut f, &mut buf, &Budget::new(1 << 20)).unwrap();
        assert_eq!(n, 64 << 20);
        let m = std::fs::metadata(&p).unwrap();
        assert_eq!(m.len(), 64 << 20);
        assert!(
            m.blocks() * 512 < 4 << 20,
            "holes not kept: {} blocks",
            m.blocks()
        );
        let ones = vec![1u8; 2 << 20];
        let mut g = std::fs::File::create(d.path().join("g")).unwrap();
        let e = copy(&mut &ones[..], &mut g, &mut buf, &Budget::new(1 << 20)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
        assert!(e.to_string().contains(BUDGET_ENV), "{e}");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64m"), Some(64 << 20));
        assert_eq!(parse_size("10"), Some(10));
        assert_eq!(parse_size("x"), None);
    }
}
