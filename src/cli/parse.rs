//! One parse step per value grammar of the command line, shared by both faces, so a value
//! means the same everywhere (`singlet exec --memory` and `singlet-oci update --memory`):
//! sizes, CPU counts, durations, signals, home and overlay specifications here; binds and networks by the parsers
//! beside their types (`launcher::binds`, `launcher::net`), called from `cli::action` before
//! anything runs. `launcher::ExecParams` carries only parsed values.

/// A flag value that does not parse; the message names the flag and the expected form.
#[derive(Debug, thiserror::Error)]
#[error("--{flag} {value:?}: expected {expected}")]
pub struct ParseError {
    /// The flag, without dashes.
    pub flag: String,
    /// The value given.
    pub value: String,
    /// The expected form, with an example.
    pub expected: &'static str,
}

const SIZE_FORM: &str = "bytes with an optional b, k, m, g or t suffix, e.g. 512m or 1.5g";

/// A size in bytes: a decimal number with an optional binary suffix `b`, `k`, `m`, `g` or
/// `t` (upper or lower case, `kb`/`mb`/`gb`/`tb` also accepted), e.g. `4096`, `64m`, `1.5G`.
/// Fractions are rounded down to whole bytes; the result must fit in an `i64` (what the
/// runtime-spec's `linux.resources` fields hold).
///
/// # Errors
/// [`ParseError`] naming `flag` for anything else (negative, empty, unknown suffix).
pub fn size(flag: &str, value: &str) -> Result<u64, ParseError> {
    let bad = || ParseError {
        flag: flag.into(),
        value: value.into(),
        expected: SIZE_FORM,
    };
    let t = value.trim().to_ascii_lowercase();
    let t = match t.strip_suffix('b') {
        Some(rest) if rest.ends_with(['k', 'm', 'g', 't']) => rest,
        Some(rest) => rest,
        None => t.as_str(),
    };
    let (num, shift) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 10),
        Some('m') => (&t[..t.len() - 1], 20),
        Some('g') => (&t[..t.len() - 1], 30),
        Some('t') => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(bad());
    }
    let n: f64 = num.parse().map_err(|_| bad())?;
    let bytes = (n * (1u64 << shift) as f64).floor();
    if !bytes.is_finite() || bytes > i64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as u64)
}

/// A number of CPUs for `--cpus`: a decimal from 0.01 to 4096.
///
/// # Errors
/// [`ParseError`] naming `flag`.
pub fn cpus(flag: &str, value: &str) -> Result<f64, ParseError> {
    value
        .trim()
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v >= 0.01 && *v <= 4096.0)
        .ok_or_else(|| ParseError {
            flag: flag.into(),
            value: value.into(),
            expected: "a number of CPUs from 0.01, e.g. 1.5",
        })
}

/// A signal by name (`KILL`, `SIGKILL`, `usr1`: case-insensitive) or number (`9`), as
/// `kill(1)` takes it.
///
/// # Errors
/// [`ParseError`] naming `flag`.
pub fn signal(flag: &str, value: &str) -> Result<nix::sys::signal::Signal, ParseError> {
    use nix::sys::signal::Signal;
    use std::str::FromStr;
    let bad = || ParseError {
        flag: flag.into(),
        value: value.into(),
        expected: "a signal name or number, e.g. TERM, SIGKILL or 9",
    };
    if let Ok(n) = value.trim().parse::<i32>() {
        return Signal::try_from(n).map_err(|_| bad());
    }
    let up = value.trim().to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    Signal::from_str(&name).map_err(|_| bad())
}

/// A duration: a decimal number with an optional unit `ms`, `s` (the default), `m` or `h`,
/// e.g. `5s`, `500ms`, `1.5m`; at least one millisecond.
///
/// # Errors
/// [`ParseError`] naming `flag`.
pub fn duration(flag: &str, value: &str) -> Result<std::time::Duration, ParseError> {
    let bad = || ParseError {
        flag: flag.into(),
        value: value.into(),
        expected: "a duration such as 5s or 500ms",
    };
    let v = value.trim();
    let (n, unit) = v
        .find(|c: char| c.is_ascii_alphabetic())
        .map(|i| v.split_at(i))
        .unwrap_or((v, "s"));
    let n: f64 = n
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite())
        .ok_or_else(bad)?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(bad()),
    };
    std::time::Duration::try_from_secs_f64(secs.max(0.001)).map_err(|_| bad())
}

/// `-H/--home SRC[:DST]`: the source and the destination (the source when absent).
pub fn home(value: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    match value.split_once(':') {
        Some((s, d)) => (s.into(), d.into()),
        None => (value.into(), value.into()),
    }
}

/// `--overlay PATH[:ro|:rw]` (a directory, an ext3 or squashfs image, a SIF).
pub fn overlay(value: &str) -> crate::launcher::Overlay {
    if let Some(d) = value.strip_suffix(":ro") {
        return crate::launcher::Overlay {
            path: d.into(),
            ro: true,
        };
    }
    crate::launcher::Overlay {
        path: value.strip_suffix(":rw").unwrap_or(value).into(),
        ro: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        for (s, want) in [
            ("4096", 4096),
            ("64m", 64 << 20),
            ("64M", 64 << 20),
            ("64mb", 64 << 20),
            ("1G", 1 << 30),
            ("1.5g", 3 << 29),
            ("2t", 2 << 40),
            ("10b", 10),
            (" 512k ", 512 << 10),
        ] {
            assert_eq!(size("memory", s).unwrap(), want, "{s}");
        }
        for s in ["", "lots", "-1", "1x", "k", "1.2.3m", "99999999999t"] {
            let e = size("memory", s).unwrap_err().to_string();
            assert!(e.starts_with("--memory "), "{s}: {e}");
        }
    }

    #[test]
    fn signals_and_durations() {
        use nix::sys::signal::Signal;
        assert_eq!(signal("s", "9").unwrap(), Signal::SIGKILL);
        assert_eq!(signal("s", "kill").unwrap(), Signal::SIGKILL);
        assert_eq!(signal("s", "SIGTERM").unwrap(), Signal::SIGTERM);
        assert_eq!(signal("s", "usr1").unwrap(), Signal::SIGUSR1);
        assert!(signal("s", "NOPE").is_err());
        assert!(signal("s", "999").is_err());
        let d = std::time::Duration::from_millis;
        assert_eq!(duration("i", "5s").unwrap(), d(5000));
        assert_eq!(duration("i", "500ms").unwrap(), d(500));
        assert_eq!(duration("i", "2").unwrap(), d(2000));
        assert!(duration("i", "5x").is_err());
        assert!(duration("i", "1e999s").is_err());
    }

    #[test]
    fn home_and_overlay() {
        assert_eq!(home("/a:/b"), ("/a".into(), "/b".into()));
        assert_eq!(home("/a"), ("/a".into(), "/a".into()));
        assert!(overlay("/o:ro").ro && overlay("/o:ro").path == std::path::Path::new("/o"));
        assert!(!overlay("/o").ro);
    }

    #[test]
    fn cpu_counts() {
        assert_eq!(cpus("cpus", "1.5").unwrap(), 1.5);
        assert!(cpus("cpus", "0").is_err());
        assert!(cpus("cpus", "nan").is_err());
    }
}
