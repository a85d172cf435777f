//! User bind specifications: `-B/--bind src[:dst[:ro|rw]]` (repeatable, comma lists) and
//! Docker-style `--mount type=bind,src=…,dst=…[,ro]` (docs/reference/apptainer.md §1.2).

use std::path::PathBuf;

use super::error::{Error, Result};

/// One bind mount requested by the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// Host path (absolute).
    pub src: PathBuf,
    /// Container path (absolute).
    pub dst: PathBuf,
    /// Read-only.
    pub ro: bool,
}

fn abs(p: &str, what: &str, spec: &str) -> Result<PathBuf> {
    if p.is_empty() {
        return Err(Error::Flag(format!("{what}: empty path in {spec:?}")));
    }
    let pb = PathBuf::from(p);
    if pb.is_absolute() {
        Ok(pb)
    } else {
        std::path::absolute(&pb).map_err(|e| Error::Flag(format!("{what} {spec:?}: {e}")))
    }
}

/// Parses `-B` values (each may hold a comma-separated list).
///
/// # Errors
/// [`Error::Flag`] naming the bad element (unknown option, relative destination …).
pub fn parse_binds(values: &[String]) -> Result<Vec<Bind>> {
    let mut out = Vec::new();
    for v in values {
        for spec in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let parts: Vec<&str> = spec.splitn(3, ':').collect();
            let src = abs(parts[0], "--bind source", spec)?;
            let dst = match parts.get(1) {
                Some(d) if !d.is_empty() => {
                    if !d.starts_with('/') {
                        return Err(Error::Flag(format!(
                            "--bind {spec:?}: the destination {d:?} must be an absolute path"
                        )));
                    }
                    PathBuf::from(d)
                }
                _ => src.clone(),
            };
            let ro = match parts.get(2).copied() {
                None | Some("") | Some("rw") => false,
                Some("ro") => true,
                Some(o) => {
                    return Err(Error::Flag(format!(
                        "--bind {spec:?}: unsupported option {o:?} (ro or rw)"
                    )))
                }
            };
            out.push(Bind { src, dst, ro });
        }
    }
    Ok(out)
}

/// Splits a CSV record, honouring double quotes (paths with commas or colons).
fn csv_fields(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Parses `--mount` values (one mount each; newline-separated lists in the environment).
///
/// # Errors
/// [`Error::Flag`] naming the bad key.
pub fn parse_mounts(values: &[String]) -> Result<Vec<Bind>> {
    let mut out = Vec::new();
    for v in values
        .iter()
        .flat_map(|v| v.lines())
        .filter(|l| !l.trim().is_empty())
    {
        let (mut typ, mut src, mut dst, mut ro) = (None, None, None, false);
        for f in csv_fields(v) {
            let (k, val) = match f.split_once('=') {
                Some((k, val)) => (k.trim(), Some(val.to_string())),
                None => (f.trim(), None),
            };
            match (k, val) {
                ("type", Some(t)) => typ = Some(t),
                ("source" | "src", Some(s)) => src = Some(s),
                ("destination" | "dst" | "target", Some(d)) => dst = Some(d),
                ("ro" | "readonly", None) => ro = true,
                ("ro" | "readonly", Some(b)) => ro = b == "true" || b == "1",
                ("rw", None) => ro = false,
                ("nonested", _) => {}
                (k, _) => return Err(Error::Flag(format!("--mount {v:?}: unsupported key {k:?}"))),
            }
        }
        if typ.as_deref() != Some("bind") {
            return Err(Error::Flag(format!(
                "--mount {v:?}: only type=bind is supported"
            )));
        }
        let src = src.ok_or_else(|| Error::Flag(format!("--mount {v:?}: src= is required")))?;
        let dst = dst.ok_or_else(|| Error::Flag(format!("--mount {v:?}: dst= is required")))?;
        if !dst.starts_with('/') {
            return Err(Error::Flag(format!(
                "--mount {v:?}: dst {dst:?} must be an absolute path"
            )));
        }
        out.push(Bind {
            src: abs(&src, "--mount src", v)?,
            dst: PathBuf::from(dst),
            ro,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_forms() {
        let b = parse_binds(&["/a,/b:/c,/d:/e:ro".into(), "/f::rw".into()]).unwrap();
        assert_eq!(
            b[0],
            Bind {
                src: "/a".into(),
                dst: "/a".into(),
                ro: false
            }
        );
        assert_eq!(
            b[1],
            Bind {
                src: "/b".into(),
                dst: "/c".into(),
                ro: false
            }
        );
        assert_eq!(
            b[2],
            Bind {
                src: "/d".into(),
                dst: "/e".into(),
                ro: true
            }
        );
        assert_eq!(b[3].dst, PathBuf::from("/f"));
        assert!(parse_binds(&["/a:rel".into()]).is_err());
        assert!(parse_binds(&["/a:/b:weird".into()]).is_err());
    }

    #[test]
    fn mount_forms() {
        let m = parse_mounts(&[
            "type=bind,src=/x,dst=/y,ro".into(),
            "type=bind,source=\"/p,q\",destination=/z".into(),
        ])
        .unwrap();
        assert_eq!(
            m[0],
            Bind {
                src: "/x".into(),
                dst: "/y".into(),
                ro: true
            }
        );
        assert_eq!(m[1].src, PathBuf::from("/p,q"));
        assert!(parse_mounts(&["type=tmpfs,dst=/y".into()]).is_err());
        assert!(parse_mounts(&["type=bind,src=/x".into()]).is_err());
    }
}
