//! Mount option strings (`config.json` `mounts[].options`) → `mount(2)` flags and data.
//!
//! The option names are those of runc and mount(8); see runtime-spec config-linux.md and
//! `features` (which lists every name accepted here).

use nix::mount::MsFlags;

/// Parsed options of one mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags to set.
    pub flags: MsFlags,
    /// Flags explicitly cleared (`rw`, `suid`, `dev` …), relevant for remounts.
    pub cleared: MsFlags,
    /// Propagation changes, applied with separate `mount(2)` calls in order.
    pub propagation: Vec<MsFlags>,
    /// Filesystem-specific data (`mode=755,size=65536k` …), comma-joined.
    pub data: String,
    /// `tmpcopyup`: copy the directory's previous content into the new tmpfs.
    pub tmpcopyup: bool,
    /// Recursive attributes (`rro`, `rnosuid`, `rnoatime` …) to set on the mount and every
    /// mount below it with `mount_setattr(AT_RECURSIVE)`: `MOUNT_ATTR_*` bits.
    pub rec_set: u64,
    /// Recursive attributes to clear (`rrw`, `rsuid`, `ratime` …).
    pub rec_clr: u64,
}

/// Every option name this runtime understands (also printed by `features`).
pub const KNOWN: &[&str] = &[
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "iversion",
    "lazytime",
    "loud",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "noiversion",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "nosymfollow",
    "private",
    "ratime",
    "rbind",
    "rdev",
    "rdiratime",
    "relatime",
    "remount",
    "rexec",
    "rnoatime",
    "rnodev",
    "rnodiratime",
    "rnoexec",
    "rnorelatime",
    "rnostrictatime",
    "rnosuid",
    "rnosymfollow",
    "ro",
    "rprivate",
    "rrelatime",
    "rro",
    "rrw",
    "rshared",
    "rslave",
    "rstrictatime",
    "rsuid",
    "rsymfollow",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "symfollow",
    "sync",
    "tmpcopyup",
    "unbindable",
];

/// Parses `options`; unknown names become filesystem data, as mount(8) does.
pub fn parse(options: &[String]) -> MountOptions {
    let mut o = MountOptions {
        flags: MsFlags::empty(),
        cleared: MsFlags::empty(),
        propagation: Vec::new(),
        data: String::new(),
        tmpcopyup: false,
        rec_set: 0,
        rec_clr: 0,
    };
    let mut data = Vec::new();
    for opt in options {
        let set = |o: &mut MountOptions, f: MsFlags| {
            o.flags |= f;
            o.cleared.remove(f);
        };
        let clear = |o: &mut MountOptions, f: MsFlags| {
            o.flags.remove(f);
            o.cleared |= f;
        };
        match opt.as_str() {
            "defaults" => {}
            "ro" => set(&mut o, MsFlags::MS_RDONLY),
            "rw" => clear(&mut o, MsFlags::MS_RDONLY),
            "nosuid" => set(&mut o, MsFlags::MS_NOSUID),
            "suid" => clear(&mut o, MsFlags::MS_NOSUID),
            "nodev" => set(&mut o, MsFlags::MS_NODEV),
            "dev" => clear(&mut o, MsFlags::MS_NODEV),
            "noexec" => set(&mut o, MsFlags::MS_NOEXEC),
            "exec" => clear(&mut o, MsFlags::MS_NOEXEC),
            "sync" => set(&mut o, MsFlags::MS_SYNCHRONOUS),
            "async" => clear(&mut o, MsFlags::MS_SYNCHRONOUS),
            "dirsync" => set(&mut o, MsFlags::MS_DIRSYNC),
            "remount" => set(&mut o, MsFlags::MS_REMOUNT),
            "mand" => set(&mut o, MsFlags::MS_MANDLOCK),
            "nomand" => clear(&mut o, MsFlags::MS_MANDLOCK),
            "noatime" => set(&mut o, MsFlags::MS_NOATIME),
            "atime" => clear(&mut o, MsFlags::MS_NOATIME),
            "nodiratime" => set(&mut o, MsFlags::MS_NODIRATIME),
            "diratime" => clear(&mut o, MsFlags::MS_NODIRATIME),
            "relatime" => set(&mut o, MsFlags::MS_RELATIME),
            "norelatime" => clear(&mut o, MsFlags::MS_RELATIME),
            "strictatime" => set(&mut o, MsFlags::MS_STRICTATIME),
            "nostrictatime" => clear(&mut o, MsFlags::MS_STRICTATIME),
            "lazytime" => set(&mut o, MsFlags::MS_LAZYTIME),
            "nolazytime" => clear(&mut o, MsFlags::MS_LAZYTIME),
            "iversion" => set(&mut o, MsFlags::MS_I_VERSION),
            "noiversion" => clear(&mut o, MsFlags::MS_I_VERSION),
            "silent" => set(&mut o, MsFlags::MS_SILENT),
            "loud" => clear(&mut o, MsFlags::MS_SILENT),
            "nosymfollow" => set(&mut o, MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW)),
            "symfollow" => clear(&mut o, MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW)),
            "bind" => set(&mut o, MsFlags::MS_BIND),
            "rbind" => set(&mut o, MsFlags::MS_BIND | MsFlags::MS_REC),
            "private" => o.propagation.push(MsFlags::MS_PRIVATE),
            "rprivate" => o.propagation.push(MsFlags::MS_PRIVATE | MsFlags::MS_REC),
            "shared" => o.propagation.push(MsFlags::MS_SHARED),
            "rshared" => o.propagation.push(MsFlags::MS_SHARED | MsFlags::MS_REC),
            "slave" => o.propagation.push(MsFlags::MS_SLAVE),
            "rslave" => o.propagation.push(MsFlags::MS_SLAVE | MsFlags::MS_REC),
            "unbindable" => o.propagation.push(MsFlags::MS_UNBINDABLE),
            "runbindable" => o.propagation.push(MsFlags::MS_UNBINDABLE | MsFlags::MS_REC),
            "tmpcopyup" => o.tmpcopyup = true,
            s if s.starts_with('r') && recursive_attr(&s[1..]).is_some() => {
                let (set, clr) = recursive_attr(&s[1..]).expect("checked");
                o.rec_set = (o.rec_set & !clr) | set;
                o.rec_clr = (o.rec_clr & !set) | clr;
            }
            other => data.push(other.to_string()),
        }
    }
    o.data = data.join(",");
    o
}

/// The `mount_setattr` bits (set, clear) of a recursive option without its leading `r`
/// (runtime-spec config.md "Mounts"; runc's table): `ro`/`rw`, `nosuid`/`suid`, `nodev`/`dev`,
/// `noexec`/`exec`, the access-time modes, `nodiratime`/`diratime`, `nosymfollow`/`symfollow`.
fn recursive_attr(name: &str) -> Option<(u64, u64)> {
    use crate::sys::mount::*;
    Some(match name {
        "ro" => (ATTR_RDONLY, 0),
        "rw" => (0, ATTR_RDONLY),
        "nosuid" => (ATTR_NOSUID, 0),
        "suid" => (0, ATTR_NOSUID),
        "nodev" => (ATTR_NODEV, 0),
        "dev" => (0, ATTR_NODEV),
        "noexec" => (ATTR_NOEXEC, 0),
        "exec" => (0, ATTR_NOEXEC),
        "noatime" => (ATTR_NOATIME, ATTR_ATIME_MASK),
        "strictatime" => (ATTR_STRICTATIME, ATTR_ATIME_MASK),
        // relatime is mode 0; clearing noatime or strictatime falls back to it.
        "relatime" | "atime" | "nostrictatime" | "norelatime" => (0, ATTR_ATIME_MASK),
        "nodiratime" => (ATTR_NODIRATIME, 0),
        "diratime" => (0, ATTR_NODIRATIME),
        "nosymfollow" => (ATTR_NOSYMFOLLOW, 0),
        "symfollow" => (0, ATTR_NOSYMFOLLOW),
        _ => return None,
    })
}

impl MountOptions {
    /// `true` for `bind`/`rbind` mounts.
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }

    /// Flags that need a remount after a bind (everything but `MS_BIND|MS_REC|MS_REMOUNT`).
    pub fn remount_flags(&self) -> MsFlags {
        self.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[&str]) -> MountOptions {
        parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn common_sets() {
        let o = p(&["rbind", "ro", "nosuid", "rprivate", "mode=755", "size=64k"]);
        assert!(o.is_bind());
        assert!(o
            .flags
            .contains(MsFlags::MS_REC | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID));
        assert_eq!(o.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        assert_eq!(o.data, "mode=755,size=64k");
        assert_eq!(o.remount_flags(), MsFlags::MS_RDONLY | MsFlags::MS_NOSUID);
        let o = p(&["ro", "rw", "tmpcopyup"]);
        assert!(!o.flags.contains(MsFlags::MS_RDONLY));
        assert!(o.tmpcopyup);
    }

    #[test]
    fn recursive_attributes() {
        use crate::sys::mount::*;
        let o = p(&["rbind", "rro", "rnosuid", "rnoatime"]);
        assert_eq!(o.rec_set, ATTR_RDONLY | ATTR_NOSUID | ATTR_NOATIME);
        assert_eq!(o.rec_clr, ATTR_ATIME_MASK);
        assert_eq!(
            o.remount_flags(),
            MsFlags::empty(),
            "recursive only, no top remount"
        );
        let o = p(&["rro", "rrw", "rstrictatime"]);
        assert_eq!(o.rec_set, ATTR_STRICTATIME);
        assert_eq!(o.rec_clr, ATTR_RDONLY | ATTR_ATIME_MASK);
        // rbind, rprivate and friends are not attributes.
        assert_eq!(p(&["rbind", "rslave"]).rec_set, 0);
    }

    #[test]
    fn every_known_option_parses_to_no_data() {
        for k in KNOWN {
            assert_eq!(p(&[k]).data, "", "{k} leaked into data");
        }
    }
}
