//! Loop devices for root's kernel mounts of image files (ext3 overlay images): a free device
//! from `/dev/loop-control`, bound to an open file at an offset with one `LOOP_CONFIGURE`
//! ioctl (Linux 5.8), auto-cleared when its last mount goes (docs/reference/apptainer.md §2.2).
//!
//! The `loopdev-3` crate does the same but generates its bindings with bindgen at build time
//! (libclang); the kernel ABI used here is three constants and two `repr(C)` structures.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

const LOOP_CTL_GET_FREE: libc::c_ulong = 0x4C82;
const LOOP_CONFIGURE: libc::c_ulong = 0x4C0A;
const LO_FLAGS_READ_ONLY: u32 = 1;
const LO_FLAGS_AUTOCLEAR: u32 = 4;

/// `struct loop_info64` (include/uapi/linux/loop.h).
#[repr(C)]
struct LoopInfo64 {
    device: u64,
    inode: u64,
    rdevice: u64,
    offset: u64,
    sizelimit: u64,
    number: u32,
    encrypt_type: u32,
    encrypt_key_size: u32,
    flags: u32,
    file_name: [u8; 64],
    crypt_name: [u8; 64],
    encrypt_key: [u8; 32],
    init: [u64; 2],
}

/// `struct loop_config`.
#[repr(C)]
struct LoopConfig {
    fd: u32,
    block_size: u32,
    info: LoopInfo64,
    reserved: [u64; 8],
}

/// An attached loop device. The open descriptor keeps it until the mount holds it; with
/// auto-clear the kernel detaches it when the last user (mount or descriptor) goes.
pub struct LoopDevice {
    /// `/dev/loopN`.
    pub path: PathBuf,
    _dev: File,
}

/// Binds `file` from byte `offset` (to its end, or `size` bytes) to a free loop device,
/// read-only when `readonly`.
///
/// # Errors
/// The failing step's I/O error (`/dev/loop-control` missing, no free device, the ioctl).
pub fn attach(
    file: &File,
    offset: u64,
    size: Option<u64>,
    readonly: bool,
) -> std::io::Result<LoopDevice> {
    let ctl = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/loop-control")?;
    // Another process may take the free device between the two calls: retry a few times.
    let mut last = std::io::Error::from_raw_os_error(libc::EBUSY);
    for _ in 0..8 {
        // SAFETY: LOOP_CTL_GET_FREE takes no argument and returns a device number.
        let n = unsafe { libc::ioctl(ctl.as_raw_fd(), LOOP_CTL_GET_FREE as _) };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let path = PathBuf::from(format!("/dev/loop{n}"));
        let dev = std::fs::OpenOptions::new()
            .read(true)
            .write(!readonly)
            .open(&path)?;
        let mut flags = LO_FLAGS_AUTOCLEAR;
        if readonly {
            flags |= LO_FLAGS_READ_ONLY;
        }
        let config = LoopConfig {
            fd: file.as_raw_fd() as u32,
            block_size: 0,
            info: LoopInfo64 {
                device: 0,
                inode: 0,
                rdevice: 0,
                offset,
                sizelimit: size.unwrap_or(0),
                number: 0,
                encrypt_type: 0,
                encrypt_key_size: 0,
                flags,
                file_name: [0; 64],
                crypt_name: [0; 64],
                encrypt_key: [0; 32],
                init: [0; 2],
            },
            reserved: [0; 8],
        };
        // SAFETY: `config` is a valid, fully initialised `struct loop_config` that outlives
        // the call; the kernel only reads it.
        let r = unsafe { libc::ioctl(dev.as_raw_fd(), LOOP_CONFIGURE as _, &config) };
        if r == 0 {
            return Ok(LoopDevice { path, _dev: dev });
        }
        last = std::io::Error::last_os_error();
        if last.raw_os_error() != Some(libc::EBUSY) {
            return Err(last);
        }
    }
    Err(last)
}

/// How many loop devices are attached on the host (`/sys/block/loopN/loop` exists only
/// while one is bound).
pub fn attached() -> usize {
    std::fs::read_dir("/sys/block")
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("loop"))
                .filter(|e| e.path().join("loop").exists())
                .count()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn abi_sizes() {
        // include/uapi/linux/loop.h: loop_info64 is 232 bytes, loop_config 304.
        assert_eq!(std::mem::size_of::<super::LoopInfo64>(), 232);
        assert_eq!(std::mem::size_of::<super::LoopConfig>(), 304);
    }
}
