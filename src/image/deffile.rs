//! Definition files (`build OUT recipe.def`), parsed as Apptainer's
//! `pkg/build/types/parser/deffile.go` reads them (docs/reference/apptainer.md §7.4): a header of `Key: value`
//! lines (`Bootstrap`, `From`, …; keys case-insensitive, `#` comments), then sections that
//! start with `%name [args]` at the beginning of a line. Repeated sections concatenate; app
//! sections (`%apprun NAME` …) are kept per app. The parser is pure: running the sections is
//! the launcher's job (`launcher::build`).

use std::collections::BTreeMap;

use super::error::{Error, Result};

/// The sections singlet runs or stores, in Apptainer's names.
pub const SECTIONS: &[&str] = &[
    "arguments",
    "setup",
    "files",
    "post",
    "test",
    "environment",
    "runscript",
    "startscript",
    "labels",
    "help",
];

/// The SCIF app sections (`%appNAME APP`).
pub const APP_SECTIONS: &[&str] = &[
    "appinstall",
    "appfiles",
    "appenv",
    "apptest",
    "apphelp",
    "apprun",
    "appstart",
    "applabels",
];

/// Sections Apptainer knows that singlet refuses with a clear error rather than ignoring.
const REFUSED: &[(&str, &str)] = &[];

/// One section's body and the arguments on its `%name` line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    /// Words after the section name (`-c /bin/bash`, `from stage`).
    pub args: Vec<String>,
    /// The body, lines joined with `\n` (repeated sections appended in order).
    pub body: String,
    /// Line (1-based) of the first `%name` line.
    pub line: usize,
}

impl Section {
    /// The interpreter given with `-c PATH` on the section line, if any.
    pub fn interpreter(&self) -> Option<&str> {
        let i = self.args.iter().position(|a| a == "-c")?;
        self.args.get(i + 1).map(String::as_str)
    }
}

/// A parsed definition file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DefFile {
    /// Header keys (lower-cased) and values, in file order.
    pub header: Vec<(String, String)>,
    /// Sections by name (without `%`).
    pub sections: BTreeMap<String, Section>,
    /// App sections: app name → section name → section.
    pub apps: BTreeMap<String, BTreeMap<String, Section>>,
    /// `%files` sections in file order, each kept apart (`%files from STAGE` copies from an
    /// earlier stage, a plain `%files` from the host).
    pub files: Vec<Section>,
    /// The file's text, stored in the SIF as the definition file object.
    pub text: String,
}

impl DefFile {
    /// The value of header key `key` (case-insensitive).
    pub fn get(&self, key: &str) -> Option<&str> {
        let key = key.to_ascii_lowercase();
        self.header
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The body of section `name`, if present and not blank.
    pub fn body(&self, name: &str) -> Option<&str> {
        self.sections
            .get(name)
            .map(|s| s.body.as_str())
            .filter(|b| !b.trim().is_empty())
    }

    /// `Bootstrap` lower-cased.
    pub fn bootstrap(&self) -> &str {
        self.get("bootstrap").unwrap_or_default()
    }
}

/// `true` when `text` looks like a definition file: its first line that is neither blank nor
/// a comment is a `Bootstrap:` header.
pub fn looks_like_deffile(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .and_then(|l| l.split_once(':'))
        .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("bootstrap"))
}

/// Parses `text`, the contents of the file `name` (used in errors).
///
/// # Errors
/// [`Error::Other`] naming the file and line for a header line without `:`, a missing
/// `Bootstrap`, an unknown or refused section, or an app section without an app name.
pub fn parse(name: &str, text: &str) -> Result<DefFile> {
    parse_at(name, text, 0)
}

/// [`parse`] of a part of a file that starts after line `skip` (a later stage).
fn parse_at(name: &str, text: &str, skip: usize) -> Result<DefFile> {
    let err = |line: usize, msg: String| Error::Other(format!("{name}:{}: {msg}", line + skip));
    let mut d = DefFile {
        text: text.to_string(),
        ..Default::default()
    };
    // (section name, app) of the section being read
    let mut current: Option<(String, Option<String>)> = None;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        if let Some(rest) = raw.strip_prefix('%') {
            let mut words = rest.split_whitespace();
            let sec = words.next().unwrap_or_default().to_ascii_lowercase();
            let args: Vec<String> = words.map(str::to_string).collect();
            if let Some((_, why)) = REFUSED.iter().find(|(s, _)| *s == sec) {
                return Err(err(n, format!("%{sec}: {why}")));
            }
            if APP_SECTIONS.contains(&sec.as_str()) {
                let app = args
                    .first()
                    .cloned()
                    .ok_or_else(|| err(n, format!("%{sec} needs an app name (%{sec} NAME)")))?;
                if !super::metadata::valid_app_name(&app) {
                    return Err(err(n, format!("%{sec}: invalid app name {app:?}")));
                }
                let s = d
                    .apps
                    .entry(app.clone())
                    .or_default()
                    .entry(sec.clone())
                    .or_insert_with(|| Section {
                        line: n + skip,
                        ..Default::default()
                    });
                s.args = args[1..].to_vec();
                current = Some((sec, Some(app)));
            } else if sec == "files" {
                if !(args.is_empty() || (args.len() == 2 && args[0] == "from")) {
                    return Err(err(
                        n,
                        format!(
                            "%files takes nothing or `from STAGE`, not {:?}",
                            args.join(" ")
                        ),
                    ));
                }
                d.files.push(Section {
                    args,
                    line: n + skip,
                    ..Default::default()
                });
                current = Some((sec, None));
            } else if SECTIONS.contains(&sec.as_str()) {
                let s = d.sections.entry(sec.clone()).or_insert_with(|| Section {
                    line: n + skip,
                    ..Default::default()
                });
                if s.args.is_empty() {
                    s.args = args;
                }
                current = Some((sec, None));
            } else {
                return Err(err(
                    n,
                    format!(
                        "unknown section %{sec} (known: {}, and %app* sections)",
                        SECTIONS
                            .iter()
                            .map(|s| format!("%{s}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                ));
            }
            continue;
        }
        match &current {
            None => {
                let l = raw.trim();
                if l.is_empty() || l.starts_with('#') {
                    continue;
                }
                let (k, v) = l.split_once(':').ok_or_else(|| {
                    err(
                        n,
                        format!("header line {l:?} is not `Key: value` (sections start with %)"),
                    )
                })?;
                d.header
                    .push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
            Some((sec, app)) => {
                let s = match app {
                    None if sec == "files" => d.files.last_mut().expect("pushed at its header"),
                    Some(a) => d
                        .apps
                        .get_mut(a)
                        .and_then(|m| m.get_mut(sec))
                        .expect("created at its header"),
                    None => d.sections.get_mut(sec).expect("created at its header"),
                };
                s.body.push_str(raw);
                s.body.push('\n');
            }
        }
    }
    if d.get("bootstrap").is_none_or(str::is_empty) {
        return Err(Error::Other(format!(
            "{name}: no `Bootstrap:` header (a definition file starts with e.g. \
             `Bootstrap: docker` and `From: debian:12`)"
        )));
    }
    Ok(d)
}

/// The stages of a definition file: a `Bootstrap:` line at the start of a line after the
/// first begins a new stage (Apptainer's multi-stage builds, docs/reference/apptainer.md
/// §7.4), each parsed as [`parse`] does with line numbers of the whole file. Every stage keeps
/// the whole text as [`DefFile::text`] (the last one stores it in the image).
///
/// # Errors
/// As [`parse`]; also two stages with the same `Stage:` name, or an earlier stage without
/// one (nothing could copy from it).
pub fn parse_stages(name: &str, text: &str) -> Result<Vec<DefFile>> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let is_bootstrap = |l: &str| {
        l.split_once(':')
            .is_some_and(|(k, _)| k.trim_end().eq_ignore_ascii_case("bootstrap"))
    };
    // The first `Bootstrap:` line belongs to the first stage; each later one starts a stage.
    let first = lines.iter().position(|l| is_bootstrap(l)).unwrap_or(0);
    let mut starts = vec![0usize];
    starts.extend((first + 1..lines.len()).filter(|&i| is_bootstrap(lines[i])));
    starts.push(lines.len());
    let mut out: Vec<DefFile> = Vec::new();
    for w in starts.windows(2) {
        let chunk: String = lines[w[0]..w[1]].concat();
        let mut d = parse_at(name, &chunk, w[0])?;
        d.text = text.to_string();
        if let Some(st) = d.get("stage") {
            if out.iter().any(|o| o.get("stage") == Some(st)) {
                return Err(Error::Other(format!(
                    "{name}:{}: two stages are named {st:?}",
                    w[0] + 1
                )));
            }
        }
        out.push(d);
    }
    if out.len() > 1 {
        if let Some(i) = out[..out.len() - 1]
            .iter()
            .position(|d| d.get("stage").is_none())
        {
            return Err(Error::Other(format!(
                "{name}: stage {} of {} has no `Stage: NAME` header (later stages copy from \
                 earlier ones by name: `%files from NAME`)",
                i + 1,
                out.len()
            )));
        }
    }
    for d in &out {
        for f in &d.files {
            if let Some(from) = f.args.get(1) {
                if !out.iter().any(|o| o.get("stage") == Some(from.as_str())) {
                    return Err(Error::Other(format!(
                        "{name}:{}: %files from {from}: no stage is named {from:?}",
                        f.line
                    )));
                }
            }
        }
    }
    Ok(out)
}

/// Build arguments (`%arguments`, `--build-arg`, `--build-arg-file`) substituted for
/// `{{ name }}` in the text of a definition file, as Apptainer does before parsing
/// (docs/reference/apptainer.md §7.4). `%arguments` bodies give defaults, one `NAME=VALUE`
/// per line (blank and `#` lines skipped; a quoted value loses its quotes); `given` wins.
/// Returns the new text and the names in `given` that nothing used (the caller warns).
///
/// # Errors
/// [`Error::Other`] naming the file and every `{{ name }}` that has no value, and for a
/// `%arguments` line that is not `NAME=VALUE`.
pub fn template(
    name: &str,
    text: &str,
    given: &BTreeMap<String, String>,
) -> Result<(String, Vec<String>)> {
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    let mut in_args = false;
    for (i, l) in text.lines().enumerate() {
        if let Some(rest) = l.strip_prefix('%') {
            in_args = rest
                .split_whitespace()
                .next()
                .is_some_and(|s| s.eq_ignore_ascii_case("arguments"));
            continue;
        }
        if !in_args {
            continue;
        }
        let t = l.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let (k, v) = t.split_once('=').ok_or_else(|| {
            Error::Other(format!(
                "{name}:{}: %arguments: {t:?} is not NAME=VALUE",
                i + 1
            ))
        })?;
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|x| x.strip_suffix('"'))
            .unwrap_or(v);
        values.insert(k.trim().to_string(), v.to_string());
    }
    values.extend(given.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut out = String::with_capacity(text.len());
    let mut used: std::collections::BTreeSet<String> = Default::default();
    let mut missing: std::collections::BTreeSet<String> = Default::default();
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let var = after.find("}}").map(|j| (&after[..j], j));
        match var {
            Some((inner, j))
                if !inner.trim().is_empty()
                    && inner
                        .trim()
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                let k = inner.trim();
                match values.get(k) {
                    Some(v) => out.push_str(v),
                    None => {
                        missing.insert(k.to_string());
                    }
                }
                used.insert(k.to_string());
                rest = &after[j + 2..];
            }
            _ => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    if !missing.is_empty() {
        return Err(Error::Other(format!(
            "{name}: build argument{} {} used but not defined (give --build-arg NAME=VALUE, \
             --build-arg-file FILE, or a default in %arguments)",
            if missing.len() == 1 { "" } else { "s" },
            missing.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    let unused = given
        .keys()
        .filter(|k| !used.contains(*k))
        .cloned()
        .collect();
    Ok((out, unused))
}

/// `%labels` / `%applabels` body: one `KEY VALUE` per line (the value may be quoted or
/// contain spaces; blank and `#` lines skipped), in order.
pub fn labels(body: &str) -> Vec<(String, String)> {
    body.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(char::is_whitespace) {
            Some((k, v)) => {
                let v = v.trim();
                let v = v
                    .strip_prefix('"')
                    .and_then(|x| x.strip_suffix('"'))
                    .unwrap_or(v);
                (k.to_string(), v.to_string())
            }
            None => (l.to_string(), String::new()),
        })
        .collect()
}

/// `%files` / `%appfiles` body: `SRC [DST]` per line (DST defaults to SRC).
pub fn files(body: &str) -> Vec<(String, String)> {
    body.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut w = l.split_whitespace();
            let src = w.next().unwrap_or_default().to_string();
            let dst = w.next().map(str::to_string).unwrap_or_else(|| src.clone());
            (src, dst)
        })
        .collect()
}

/// A script file for a stored section: the body as is when it starts with `#!`, else with
/// `#!INTERP` from `-c INTERP` or `#!/bin/sh` (Apptainer's rule).
pub fn script(s: &Section) -> String {
    let body = s.body.trim_start_matches('\n');
    if body.starts_with("#!") {
        return body.to_string();
    }
    format!("#!{}\n\n{body}", s.interpreter().unwrap_or("/bin/sh"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEF: &str = "# a comment\nBootstrap: docker\nFrom: 127.0.0.1:5000/test/busybox\n\n\
%post\n    echo one\n%environment\n    export A=1\n%post\n    echo two\n\
%runscript -c /bin/bash\n    echo run \"$@\"\n%labels\n    Author me\n    Version \"1 2\"\n\
%apprun hello\n    echo hi\n%applabels hello\n    APP hello\n%files\n    a.txt /opt/a.txt\n    b\n";

    #[test]
    fn header_sections_apps() {
        let d = parse("x.def", DEF).unwrap();
        assert_eq!(d.bootstrap(), "docker");
        assert_eq!(d.get("FROM"), Some("127.0.0.1:5000/test/busybox"));
        assert_eq!(d.body("post"), Some("    echo one\n    echo two\n"));
        assert_eq!(
            script(&d.sections["runscript"]),
            "#!/bin/bash\n\n    echo run \"$@\"\n"
        );
        assert_eq!(
            labels(d.body("labels").unwrap()),
            [
                ("Author".into(), "me".into()),
                ("Version".into(), "1 2".into())
            ]
        );
        assert_eq!(d.apps["hello"]["apprun"].body, "    echo hi\n");
        assert_eq!(
            files(&d.files[0].body),
            [
                ("a.txt".into(), "/opt/a.txt".into()),
                ("b".into(), "b".into())
            ]
        );
        assert!(looks_like_deffile(DEF));
        assert!(!looks_like_deffile("#!/bin/sh\necho\n"));
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("x.def", "Bootstrap: docker\n%bogus\n").unwrap_err();
        assert!(
            e.to_string().starts_with("x.def:2: unknown section %bogus"),
            "{e}"
        );
        let e = parse("x.def", "Bootstrap: docker\nFrom busybox\n").unwrap_err();
        assert!(e.to_string().starts_with("x.def:2: header line"), "{e}");
        let e = parse("x.def", "From: busybox\n%post\n").unwrap_err();
        assert!(e.to_string().contains("no `Bootstrap:`"), "{e}");
        let e = parse("x.def", "Bootstrap: docker\n%apprun\n").unwrap_err();
        assert!(e.to_string().contains("needs an app name"), "{e}");
        let e = parse("x.def", "Bootstrap: docker\n%apprun ../x\n").unwrap_err();
        assert!(e.to_string().contains("invalid app name"), "{e}");
        let e = parse("x.def", "Bootstrap: docker\n%files to x\n").unwrap_err();
        assert!(e.to_string().starts_with("x.def:2: %files takes"), "{e}");
    }

    #[test]
    fn stages_and_files_from() {
        let t = "Bootstrap: docker\nFrom: a\nStage: one\n%post\n  make\n\
Bootstrap: docker\nFrom: b\nStage: two\n%files from one\n  /x /y\n%files\n  h /h\n";
        let st = parse_stages("m.def", t).unwrap();
        assert_eq!(st.len(), 2);
        assert_eq!(st[0].get("stage"), Some("one"));
        assert_eq!(st[1].get("from"), Some("b"));
        assert_eq!(st[1].files.len(), 2);
        assert_eq!(st[1].files[0].args, ["from", "one"]);
        assert_eq!(st[1].files[0].line, 9);
        assert_eq!(files(&st[1].files[1].body), [("h".into(), "/h".into())]);
        assert_eq!(st[1].text, t);
        let e = parse_stages("m.def", &t.replace("from one", "from nine")).unwrap_err();
        assert!(e.to_string().contains("m.def:9: %files from nine"), "{e}");
        let e = parse_stages("m.def", &t.replace("Stage: one\n", "")).unwrap_err();
        assert!(e.to_string().contains("stage 1 of 2 has no"), "{e}");
        let e = parse_stages("m.def", &t.replace("Stage: two", "Stage: one")).unwrap_err();
        assert!(e.to_string().contains("two stages are named"), "{e}");
        let e = parse_stages("m.def", &t.replace("From: b", "From b")).unwrap_err();
        assert!(e.to_string().starts_with("m.def:7: header line"), "{e}");
    }

    #[test]
    fn templates() {
        let t = "Bootstrap: docker\nFrom: debian:{{ VER }}\n%arguments\n  VER=11\n  \
WHO=\"a b\"\n%post\n  echo {{WHO}} {{ x y }} {{}}\n";
        let (out, unused) = template("t.def", t, &BTreeMap::new()).unwrap();
        assert!(out.contains("From: debian:11\n"), "{out}");
        assert!(out.contains("echo a b {{ x y }} {{}}"), "{out}");
        assert!(unused.is_empty());
        let given = BTreeMap::from([("VER".into(), "12".into()), ("NOPE".into(), "1".into())]);
        let (out, unused) = template("t.def", t, &given).unwrap();
        assert!(out.contains("From: debian:12\n"), "{out}");
        assert_eq!(unused, ["NOPE"]);
        let e = template(
            "t.def",
            "Bootstrap: x\nFrom: {{ A }}{{B}}\n",
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("build arguments A, B used but not defined"),
            "{e}"
        );
        let e = template("t.def", "Bootstrap: x\n%arguments\n  A\n", &BTreeMap::new()).unwrap_err();
        assert!(e.to_string().starts_with("t.def:3: %arguments"), "{e}");
    }
}
