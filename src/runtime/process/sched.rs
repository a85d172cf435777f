//! Scheduling fields of a container process (runtime-spec config.md "Process"):
//! `process.ioPriority` (`ioprio_set(2)`), `process.scheduler` (`sched_setattr(2)`),
//! `process.execCPUAffinity` (`sched_setaffinity(2)`, for `exec`'d processes only) and
//! `linux.memoryPolicy` (`set_mempolicy(2)`, config-linux.md "Memory policy"). Applied by
//! [`super::finish`] while the process still holds its capabilities (a real-time policy or a
//! negative nice value needs `CAP_SYS_NICE`).

use nix::sched::CpuSet;
use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxMemoryPolicy, LinuxSchedulerFlag, LinuxSchedulerPolicy,
    MemoryPolicyFlagType, MemoryPolicyModeType, Scheduler,
};

use crate::runtime::error::{Error, Result};

/// `IOPRIO_WHO_PROCESS`.
const IOPRIO_WHO_PROCESS: libc::c_int = 1;
/// Bits of the priority data below the class in an I/O priority value.
const IOPRIO_CLASS_SHIFT: u32 = 13;

/// Sets the calling process's I/O priority: class RT (1), BE (2) or IDLE (3) with its level.
///
/// # Errors
/// [`Error::Config`]-like [`Error::Usage`] for a level outside 0–7; [`Error::Sys`] from the
/// call (`EPERM` for the RT class without `CAP_SYS_ADMIN`).
pub fn set_io_priority(p: &LinuxIOPriority) -> Result<()> {
    let class: libc::c_int = match p.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    let level = p.priority();
    if !(0..=7).contains(&level) {
        return Err(Error::Usage(format!(
            "process.ioPriority.priority {level}: expected 0 to 7"
        )));
    }
    let value = (class << IOPRIO_CLASS_SHIFT) | level as libc::c_int;
    // SAFETY: ioprio_set takes three integers.
    let r = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) };
    if r < 0 {
        return Err(Error::sys(
            format!("ioprio_set (process.ioPriority {:?} {level})", p.class()),
            nix::errno::Errno::last(),
        ));
    }
    Ok(())
}

/// `struct sched_attr` (`SCHED_ATTR_SIZE_VER0`, 48 bytes).
#[repr(C)]
#[derive(Default)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
}

/// Sets the calling process's scheduling policy, nice value, static priority, flags and
/// deadline parameters in one `sched_setattr(2)`.
///
/// # Errors
/// [`Error::Sys`] naming the policy (`EPERM` for real-time policies without `CAP_SYS_NICE`,
/// `EINVAL` for parameters the policy does not take).
pub fn set_scheduler(s: &Scheduler) -> Result<()> {
    let policy = match s.policy() {
        LinuxSchedulerPolicy::SchedOther => libc::SCHED_OTHER,
        LinuxSchedulerPolicy::SchedFifo => libc::SCHED_FIFO,
        LinuxSchedulerPolicy::SchedRr => libc::SCHED_RR,
        LinuxSchedulerPolicy::SchedBatch => libc::SCHED_BATCH,
        LinuxSchedulerPolicy::SchedIso => 4,
        LinuxSchedulerPolicy::SchedIdle => libc::SCHED_IDLE,
        LinuxSchedulerPolicy::SchedDeadline => 6,
    };
    let flags = s.flags().iter().flatten().fold(0u64, |f, fl| {
        f | match fl {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        }
    });
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy: policy as u32,
        flags,
        nice: s.nice().unwrap_or(0),
        priority: s.priority().unwrap_or(0).max(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
    };
    // SAFETY: a valid sched_attr whose size field matches the structure; flags 0.
    let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    if r < 0 {
        return Err(Error::sys(
            format!("sched_setattr (process.scheduler policy {:?})", s.policy()),
            nix::errno::Errno::last(),
        ));
    }
    Ok(())
}

/// Parses a CPU list such as `0-3,7` (runtime-spec `execCPUAffinity`).
///
/// # Errors
/// [`Error::Usage`] naming `field` for a malformed list or a CPU beyond what the set holds.
pub fn parse_cpus(field: &str, list: &str) -> Result<CpuSet> {
    let mut set = CpuSet::new();
    for cpu in parse_list(field, list, CpuSet::count())? {
        set.set(cpu)
            .map_err(|_| Error::Usage(format!("{field} {list:?}: CPU {cpu} is out of range")))?;
    }
    Ok(set)
}

/// Pins the calling process to the CPUs of `list` (`execCPUAffinity.initial` or `.final`).
///
/// # Errors
/// [`Error::Usage`] for a malformed list; [`Error::Sys`] from `sched_setaffinity` (`EINVAL`
/// when none of the CPUs is online or allowed).
pub fn set_affinity(field: &str, list: &str) -> Result<()> {
    let set = parse_cpus(field, list)?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
        .map_err(|e| Error::sys(format!("sched_setaffinity ({field} {list:?})"), e))
}

/// Parses a node or CPU list such as `0-3,7` into the numbers it names.
fn parse_list(field: &str, list: &str, max: usize) -> Result<Vec<usize>> {
    let bad = || Error::Usage(format!("{field} {list:?}: expected a list such as 0-3,7"));
    let mut out = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let a: usize = a.trim().parse().map_err(|_| bad())?;
        let b: usize = b.trim().parse().map_err(|_| bad())?;
        if a > b || b >= max {
            return Err(bad());
        }
        out.extend(a..=b);
    }
    Ok(out)
}

/// Sets the calling process's NUMA memory policy (`linux.memoryPolicy`): mode, nodes and
/// mode flags, with `set_mempolicy(2)`; inherited by its children.
///
/// # Errors
/// [`Error::Usage`] for a malformed node list; [`Error::Sys`] from the call (`EINVAL` for
/// nodes that do not exist or a mode that needs none).
pub fn set_memory_policy(p: &LinuxMemoryPolicy) -> Result<()> {
    const MAX_NODES: usize = 1024;
    let mode: libc::c_int = match p.mode() {
        MemoryPolicyModeType::MpolDefault => 0,
        MemoryPolicyModeType::MpolPreferred => 1,
        MemoryPolicyModeType::MpolBind => 2,
        MemoryPolicyModeType::MpolInterleave => 3,
        MemoryPolicyModeType::MpolLocal => 4,
        MemoryPolicyModeType::MpolPreferredMany => 5,
        MemoryPolicyModeType::MpolWeightedInterleave => 6,
    };
    let flags = p.flags().iter().flatten().fold(0, |f, fl| {
        f | match fl {
            MemoryPolicyFlagType::MpolFNumaBalancing => 1 << 13,
            MemoryPolicyFlagType::MpolFRelativeNodes => 1 << 14,
            MemoryPolicyFlagType::MpolFStaticNodes => 1 << 15,
        }
    });
    let mut mask = [0u64; MAX_NODES / 64];
    let nodes = p.nodes().as_deref().unwrap_or("");
    for n in parse_list("linux.memoryPolicy.nodes", nodes, MAX_NODES)? {
        mask[n / 64] |= 1 << (n % 64);
    }
    let (mask_ptr, maxnode) = if nodes.trim().is_empty() {
        (std::ptr::null(), 0)
    } else {
        (mask.as_ptr(), MAX_NODES as libc::c_ulong + 1)
    };
    // SAFETY: the mask holds MAX_NODES bits and maxnode says so (or is 0 with a null mask).
    let r = unsafe { libc::syscall(libc::SYS_set_mempolicy, mode | flags, mask_ptr, maxnode) };
    if r < 0 {
        return Err(Error::sys(
            format!(
                "set_mempolicy (linux.memoryPolicy {:?} {nodes:?})",
                p.mode()
            ),
            nix::errno::Errno::last(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        let s = parse_cpus("f", "0-2,5").unwrap();
        for (cpu, want) in [(0, true), (1, true), (2, true), (3, false), (5, true)] {
            assert_eq!(s.is_set(cpu).unwrap(), want, "cpu {cpu}");
        }
        for bad in ["x", "3-1", "1-", "99999"] {
            assert!(parse_cpus("f", bad).is_err(), "{bad}");
        }
        assert_eq!(parse_list("n", "0,2-3", 8).unwrap(), vec![0, 2, 3]);
        assert!(parse_list("n", "8", 8).is_err());
    }
}
