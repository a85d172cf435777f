//! One parse step per value grammar of the command line, shared by both faces, so a value
//! means the same everywhere (`singlet exec --memory` and `singlet-oci update --memory`):
//! sizes, CPU counts, home and overlay specifications here; binds and networks by the parsers
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

/// `-H/--home SRC[:DST]`: the source and the destination (the source when absent).
pub fn home(value: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    match value.split_once(':') {
        Some((s, d)) => (s.into(), d.into()),
        None => (value.into(), value.into()),
    }
}

/// `--overlay DIR[:ro]`.
pub fn overlay(value: &str) -> crate::launcher::Overlay {
    match value.strip_suffix(":ro") {
        Some(d) => crate::launcher::Overlay {
            dir: d.into(),
            ro: true,
        },
        None => crate::launcher::Overlay {
            dir: value.into(),
            ro: false,
        },
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
    fn cpu_counts() {
        assert_eq!(cpus("cpus", "1.5").unwrap(), 1.5);
        assert!(cpus("cpus", "0").is_err());
        assert!(cpus("cpus", "nan").is_err());
    }
}
