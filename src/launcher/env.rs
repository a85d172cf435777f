//! The container environment, with Apptainer's precedence (docs/reference/apptainer.md §5.1):
//!
//! 1. the process starts with a clean environment: `HOME`, `PWD`, a default `PATH`, the
//!    runtime's own `SINGULARITY_*`/`APPTAINER_*` variables, `PS1`;
//! 2. `/.singularity.d/env/*.sh` are sourced in lexical order;
//! 3. right after `99-base.sh`: `SINGULARITYENV_X`/`APPTAINERENV_X` (the latter wins),
//!    `--env-file` (later files win) and `--env` (beats files); `PATH`, `PREPEND_PATH` and
//!    `APPEND_PATH` become `SING_USER_DEFINED_*` and are applied by `99-runtimevars.sh`;
//! 4. host variables are re-exported only where the image left them unset (image beats host),
//!    except `PATH`, `HOME`, `LD_LIBRARY_PATH` and the `SINGULARITY*`/`APPTAINER*` families;
//!    `--cleanenv` keeps only `TERM`, the proxy variables and those of MPI and Slurm jobs
//!    (`OMPI_*`, `PMIX_*`, `PMI_*`, `SLURM_*`).
//!
//! With a `/bin/sh` in the image this runs as a generated script (`/.singlet/action.sh`);
//! without one, [`evaluate`] does the same in process for the usual forms of those scripts
//! (assignments, `export`, `${VAR:-default}`), so `exec` works in shell-less images.

use std::collections::BTreeMap;

use super::error::{Error, Result};

/// Default `PATH` filled in before the image's scripts run.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Host variables `--cleanenv` keeps.
const CLEANENV_KEEP: &[&str] = &[
    "TERM",
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "no_proxy",
    "NO_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "ftp_proxy",
    "FTP_PROXY",
];

/// Prefixes of host variables `--cleanenv` keeps too: what MPI ranks need to find their
/// job (Open MPI, PMIx, PMI) and Slurm's job variables (docs/reference/mpi.md).
const CLEANENV_KEEP_PREFIXES: &[&str] = &["OMPI_", "PMIX_", "PMI_", "SLURM_"];

/// The three layers of the environment.
#[derive(Debug, Clone, Default)]
pub struct EnvPlan {
    /// Variables the process starts with.
    pub initial: BTreeMap<String, String>,
    /// Injected after `99-base.sh` (prefixed variables, `--env-file`, `--env`).
    pub inject: BTreeMap<String, String>,
    /// Host variables restored when the image left them unset.
    pub host: BTreeMap<String, String>,
}

fn excluded_host(k: &str) -> bool {
    matches!(
        k,
        "PATH" | "HOME" | "LD_LIBRARY_PATH" | "PWD" | "OLDPWD" | "SHLVL" | "_" | "PS1"
    ) || k.starts_with("SINGULARITY")
        || k.starts_with("APPTAINER")
        || k.starts_with("SING_USER_DEFINED_")
}

fn valid_name(k: &str) -> bool {
    let mut c = k.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// Reads an `--env-file`: `KEY=VALUE` or `export KEY=VALUE` lines, `#` comments, optional
/// quotes around the value.
///
/// # Errors
/// [`Error::Flag`] naming the file and line of a malformed entry.
pub fn read_env_file(path: &std::path::Path) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Flag(format!("--env-file {}: {e}", path.display())))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let l = l.strip_prefix("export ").unwrap_or(l).trim();
        let (k, v) = l.split_once('=').ok_or_else(|| {
            Error::Flag(format!(
                "--env-file {}:{}: expected KEY=VALUE",
                path.display(),
                i + 1
            ))
        })?;
        if !valid_name(k) {
            return Err(Error::Flag(format!(
                "--env-file {}:{}: invalid variable name {k:?}",
                path.display(),
                i + 1
            )));
        }
        out.push((k.to_string(), unquote(v)));
    }
    Ok(out)
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    if v.len() >= 2
        && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')))
    {
        v[1..v.len() - 1].to_string()
    } else {
        v.to_string()
    }
}

/// Inputs of [`plan`].
pub struct PlanInput<'a> {
    /// The caller's environment.
    pub host: &'a [(String, String)],
    /// `--cleanenv`.
    pub cleanenv: bool,
    /// `--env-file` contents, in order.
    pub env_files: Vec<Vec<(String, String)>>,
    /// `--env K=V`, in order.
    pub env: &'a [String],
    /// `HOME` inside the container.
    pub home: String,
    /// Runtime-set variables (`SINGULARITY_CONTAINER` …), set under both prefixes.
    pub runtime: Vec<(String, String)>,
}

/// Computes the [`EnvPlan`].
///
/// # Errors
/// [`Error::Flag`] for an `--env` value without `=` or with an invalid name.
pub fn plan(i: PlanInput<'_>) -> Result<EnvPlan> {
    let mut p = EnvPlan::default();
    p.initial.insert("HOME".into(), i.home.clone());
    p.initial.insert("PATH".into(), DEFAULT_PATH.into());
    p.initial.insert("PS1".into(), "singlet> ".into());
    for (k, v) in &i.runtime {
        p.initial.insert(format!("SINGULARITY_{k}"), v.clone());
        p.initial.insert(format!("APPTAINER_{k}"), v.clone());
    }
    // host variables
    for (k, v) in i.host {
        if i.cleanenv
            && !CLEANENV_KEEP.contains(&k.as_str())
            && !CLEANENV_KEEP_PREFIXES.iter().any(|p| k.starts_with(p))
        {
            continue;
        }
        if excluded_host(k) || !valid_name(k) {
            continue;
        }
        p.host.insert(k.clone(), v.clone());
    }
    if i.cleanenv {
        p.host.insert("LANG".into(), "C".into());
    }
    // prefixed variables: SINGULARITYENV_ first, APPTAINERENV_ wins
    let mut inject: Vec<(String, String)> = Vec::new();
    for prefix in ["SINGULARITYENV_", "APPTAINERENV_"] {
        for (k, v) in i.host {
            if let Some(name) = k.strip_prefix(prefix) {
                if valid_name(name) {
                    inject.push((name.to_string(), v.clone()));
                }
            }
        }
    }
    for f in i.env_files {
        inject.extend(f);
    }
    for kv in i.env {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| Error::Flag(format!("--env {kv:?}: expected KEY=VALUE")))?;
        if !valid_name(k) {
            return Err(Error::Flag(format!(
                "--env {kv:?}: invalid variable name {k:?}"
            )));
        }
        inject.push((k.to_string(), v.to_string()));
    }
    for (k, v) in inject {
        match k.as_str() {
            "PATH" => {
                p.inject.insert("SING_USER_DEFINED_PATH".into(), v);
            }
            "PREPEND_PATH" => {
                p.inject.insert("SING_USER_DEFINED_PREPEND_PATH".into(), v);
            }
            "APPEND_PATH" => {
                p.inject.insert("SING_USER_DEFINED_APPEND_PATH".into(), v);
            }
            "HOME" => tracing::warn!(
                "overriding HOME with an environment injection is not permitted; HOME stays {}",
                i.home
            ),
            _ => {
                p.inject.insert(k, v);
            }
        }
    }
    Ok(p)
}

/// Quotes a value for `export K='…'` (no expansion).
pub fn sh_single(v: &str) -> String {
    format!("'{}'", v.replace('\'', "'\\''"))
}

/// Quotes a value for `export K="…"`, keeping `$VAR` expansion (Apptainer evaluates injected
/// values) but neutralising backquotes and `$(…)` unless `no_eval`.
pub fn sh_double(v: &str, no_eval: bool) -> String {
    if no_eval {
        return sh_single(v);
    }
    let mut s = String::from("\"");
    let chars: Vec<char> = v.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        match c {
            '"' | '\\' | '`' => {
                s.push('\\');
                s.push(*c);
            }
            '$' if chars.get(i + 1) == Some(&'(') => s.push_str("\\$"),
            c => s.push(*c),
        }
    }
    s.push('"');
    s
}

/// The injected layer as shell code (`export K="…"` lines), passed to the action script in
/// [`INJECT_VAR`].
pub fn inject_script(p: &EnvPlan, no_eval: bool) -> String {
    let mut s = String::new();
    for (k, v) in &p.inject {
        s.push_str(&format!("export {k}={}\n", sh_double(v, no_eval)));
    }
    s
}

/// The host layer as shell code: host values where the image left a variable unset; passed
/// in [`HOSTENV_VAR`].
pub fn host_script(p: &EnvPlan) -> String {
    let mut s = String::new();
    for (k, v) in &p.host {
        s.push_str(&format!(
            "[ -n \"${{{k}+x}}\" ] || export {k}={}\n",
            sh_single(v)
        ));
    }
    s
}

/// Environment variable carrying [`inject_script`] into the action script (unset before the
/// action runs). A variable rather than a file so that a process joining an instance brings
/// its own values into the instance's unchanged rootfs.
pub const INJECT_VAR: &str = "__SINGLET_INJECT";
/// Environment variable carrying [`host_script`].
pub const HOSTENV_VAR: &str = "__SINGLET_HOSTENV";

/// What the action runs after the environment is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    /// `exec CMD…`.
    Exec,
    /// The runscript.
    Run,
    /// An interactive shell.
    Shell,
    /// The test script.
    Test,
    /// The startscript (instances).
    Start,
}

impl ActionKind {
    /// The word the action script dispatches on (its first argument).
    pub fn word(self) -> &'static str {
        match self {
            ActionKind::Exec => "exec",
            ActionKind::Run => "run",
            ActionKind::Shell => "shell",
            ActionKind::Test => "test",
            ActionKind::Start => "start",
        }
    }
}

const RUNTIMEVARS: &str = r#"if [ -n "${SING_USER_DEFINED_PREPEND_PATH:-}" ]; then PATH="$SING_USER_DEFINED_PREPEND_PATH:$PATH"; fi
if [ -n "${SING_USER_DEFINED_APPEND_PATH:-}" ]; then PATH="$PATH:$SING_USER_DEFINED_APPEND_PATH"; fi
if [ -n "${SING_USER_DEFINED_PATH:-}" ]; then PATH="$SING_USER_DEFINED_PATH"; fi
unset SING_USER_DEFINED_PREPEND_PATH SING_USER_DEFINED_APPEND_PATH SING_USER_DEFINED_PATH
export PATH
"#;

const DISPATCH: &str = r#"case "$__singlet_action" in
exec) unset __singlet_action; exec "$@" ;;
run)
    unset __singlet_action
    if [ -n "${SINGULARITY_APPNAME:-}" ]; then
        __app=/scif/apps/$SINGULARITY_APPNAME/scif
        if [ -x "$__app/runscript" ]; then exec "$__app/runscript" "$@"; fi
        if [ -f "$__app/runscript" ]; then exec /bin/sh "$__app/runscript" "$@"; fi
        echo "no runscript for contained app: $SINGULARITY_APPNAME" >&2; exit 1
    fi
    if [ -x /.singularity.d/runscript ]; then exec /.singularity.d/runscript "$@"; fi
    if [ -f /.singularity.d/runscript ]; then exec /bin/sh /.singularity.d/runscript "$@"; fi
    if [ -x /singularity ]; then exec /singularity "$@"; fi
    echo 'No runscript found in the container; use exec or shell' >&2; exit 255 ;;
shell)
    unset __singlet_action
    export PS1
    if [ -n "${SINGULARITY_SHELL:-}" ]; then exec "$SINGULARITY_SHELL" "$@"; fi
    if [ -x /bin/bash ]; then exec /bin/bash --norc "$@"; fi
    exec /bin/sh "$@" ;;
test)
    unset __singlet_action
    if [ -n "${SINGULARITY_APPNAME:-}" ]; then
        __app=/scif/apps/$SINGULARITY_APPNAME/scif
        if [ -x "$__app/test" ]; then exec "$__app/test" "$@"; fi
        if [ -f "$__app/test" ]; then exec /bin/sh "$__app/test" "$@"; fi
        echo "No tests for contained app: $SINGULARITY_APPNAME" >&2; exit 1
    fi
    if [ -x /.singularity.d/test ]; then exec /.singularity.d/test "$@"; fi
    if [ -f /.singularity.d/test ]; then exec /bin/sh /.singularity.d/test "$@"; fi
    echo 'No test script found in container, exiting'; exit 0 ;;
start)
    unset __singlet_action
    if [ -n "${SINGULARITY_APPNAME:-}" ]; then
        __app=/scif/apps/$SINGULARITY_APPNAME/scif
        if [ -x "$__app/startscript" ]; then exec "$__app/startscript" "$@"; fi
        if [ -f "$__app/startscript" ]; then exec /bin/sh "$__app/startscript" "$@"; fi
    fi
    if [ -x /.singularity.d/startscript ]; then exec /.singularity.d/startscript "$@"; fi
    if [ -f /.singularity.d/startscript ]; then exec /bin/sh /.singularity.d/startscript "$@"; fi
    exit 0 ;;
*) echo "singlet: unknown action $__singlet_action" >&2; exit 255 ;;
esac
"#;

/// `/.singlet/action.sh`, Apptainer's action sequence for one image: `sh action.sh ACTION
/// ARGS…` sources `env_files` (names in `/.singularity.d/env`, sorted) with the injection
/// point ([`INJECT_VAR`]) right after `99-base.sh`, applies the path variables, restores host
/// variables ([`HOSTENV_VAR`]) and dispatches on `ACTION` ([`ActionKind::word`]).
pub fn action_script(env_files: &[String]) -> String {
    let mut s = String::from(
        "# generated by singlet: Apptainer's action sequence\n\
         __singlet_action=\"$1\"; shift\n",
    );
    let inject = format!("eval \"${{{INJECT_VAR}:-}}\"\n");
    let mut injected = false;
    let mut runtimevars = false;
    for f in env_files {
        if f == "99-runtimevars.sh" {
            runtimevars = true;
            continue;
        }
        if !injected && f.as_str() > "99-base.sh" {
            s.push_str(&inject);
            injected = true;
        }
        s.push_str(&format!(". /.singularity.d/env/{f}\n"));
    }
    if !injected {
        s.push_str(&inject);
    }
    if runtimevars {
        s.push_str(". /.singularity.d/env/99-runtimevars.sh\n");
    } else {
        s.push_str(RUNTIMEVARS);
    }
    s.push_str(&format!(
        "eval \"${{{HOSTENV_VAR}:-}}\"\nunset {INJECT_VAR} {HOSTENV_VAR}\n"
    ));
    s.push_str(DISPATCH);
    s
}

/// Expands `$VAR`, `${VAR}`, `${VAR:-w}`, `${VAR-w}` and quotes in `word` (no command
/// substitution, no globbing).
pub fn expand(word: &str, vars: &BTreeMap<String, String>) -> String {
    let c: Vec<char> = word.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut dq = false;
    while i < c.len() {
        match c[i] {
            '\'' if !dq => {
                i += 1;
                while i < c.len() && c[i] != '\'' {
                    out.push(c[i]);
                    i += 1;
                }
                i += 1;
            }
            '"' => {
                dq = !dq;
                i += 1;
            }
            '\\' if i + 1 < c.len() => {
                out.push(c[i + 1]);
                i += 2;
            }
            '$' if i + 1 < c.len() && c[i + 1] == '{' => {
                let end = c[i..].iter().position(|x| *x == '}').map(|p| p + i);
                let Some(end) = end else {
                    out.push('$');
                    i += 1;
                    continue;
                };
                let inner: String = c[i + 2..end].iter().collect();
                let (name, default, colon) = if let Some((n, d)) = inner.split_once(":-") {
                    (n.to_string(), Some(d.to_string()), true)
                } else if let Some((n, d)) = inner.split_once('-') {
                    (n.to_string(), Some(d.to_string()), false)
                } else {
                    (inner.clone(), None, false)
                };
                let val = vars.get(&name);
                let use_default = match val {
                    None => true,
                    Some(v) => colon && v.is_empty(),
                };
                match (use_default, default) {
                    (true, Some(d)) => out.push_str(&expand(&d, vars)),
                    (true, None) => {}
                    (false, _) => out.push_str(val.map(String::as_str).unwrap_or("")),
                }
                i = end + 1;
            }
            '$' if i + 1 < c.len() && (c[i + 1].is_ascii_alphabetic() || c[i + 1] == '_') => {
                let mut j = i + 1;
                while j < c.len() && (c[j].is_ascii_alphanumeric() || c[j] == '_') {
                    j += 1;
                }
                let name: String = c[i + 1..j].iter().collect();
                out.push_str(vars.get(&name).map(String::as_str).unwrap_or(""));
                i = j;
            }
            ch => {
                out.push(ch);
                i += 1;
            }
        }
    }
    out
}

/// Applies a `/.singularity.d/env` script to `vars` without a shell: `[export] NAME=WORD`
/// lines (several per line allowed), `export NAME`, comments. Anything else is skipped and
/// reported at debug level.
pub fn apply_script(text: &str, vars: &mut BTreeMap<String, String>, name: &str) {
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let l = l.strip_prefix("export ").unwrap_or(l).trim();
        match l.split_once('=') {
            Some((k, v)) if valid_name(k.trim()) => {
                let v = v.trim().trim_end_matches(';');
                let value = expand(v, vars);
                vars.insert(k.trim().to_string(), value);
            }
            _ if l.split_whitespace().all(valid_name) => {}
            _ => tracing::debug!("{name}: without a shell in the image, skipped: {l}"),
        }
    }
}

/// The final environment without a shell: initial, image scripts in order, injection after
/// `99-base.sh`, user PATH handling, host fill-in.
pub fn evaluate(p: &EnvPlan, scripts: &[(String, String)]) -> BTreeMap<String, String> {
    let mut vars = p.initial.clone();
    let mut injected = false;
    let inject = |vars: &mut BTreeMap<String, String>| {
        for (k, v) in &p.inject {
            let value = expand(v, vars);
            vars.insert(k.clone(), value);
        }
    };
    for (name, text) in scripts {
        if name == "99-runtimevars.sh" {
            continue;
        }
        if !injected && name.as_str() > "99-base.sh" {
            inject(&mut vars);
            injected = true;
        }
        apply_script(text, &mut vars, name);
    }
    if !injected {
        inject(&mut vars);
    }
    let path = vars.get("PATH").cloned().unwrap_or_default();
    let mut path = path;
    if let Some(pre) = vars.remove("SING_USER_DEFINED_PREPEND_PATH") {
        path = format!("{pre}:{path}");
    }
    if let Some(app) = vars.remove("SING_USER_DEFINED_APPEND_PATH") {
        path = format!("{path}:{app}");
    }
    if let Some(full) = vars.remove("SING_USER_DEFINED_PATH") {
        path = full;
    }
    vars.insert("PATH".into(), path);
    for (k, v) in &p.host {
        vars.entry(k.clone()).or_insert_with(|| v.clone());
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(v: &[(&str, &str)]) -> BTreeMap<String, String> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn expansion() {
        let vars = m(&[("A", "1"), ("E", "")]);
        assert_eq!(expand("\"${A:-x}\"", &vars), "1");
        assert_eq!(expand("\"${B:-\"dflt\"}\"", &vars), "dflt");
        assert_eq!(expand("${E:-e}", &vars), "e");
        assert_eq!(expand("${E-e}", &vars), "");
        assert_eq!(expand("'$A'", &vars), "$A");
        assert_eq!(expand("$A/x:${A}y", &vars), "1/x:1y");
    }

    #[test]
    fn precedence() {
        let host = vec![
            ("FOO".to_string(), "host".to_string()),
            ("ONLYHOST".to_string(), "h".to_string()),
            ("PATH".to_string(), "/host/bin".to_string()),
            ("SINGULARITYENV_INJ".to_string(), "s".to_string()),
            ("APPTAINERENV_INJ".to_string(), "a".to_string()),
            (
                "SINGULARITYENV_PREPEND_PATH".to_string(),
                "/pre".to_string(),
            ),
        ];
        let p = plan(PlanInput {
            host: &host,
            cleanenv: false,
            env_files: vec![],
            env: &["CLI=1".to_string()],
            home: "/home/u".into(),
            runtime: vec![("NAME".into(), "img.sif".into())],
        })
        .unwrap();
        let scripts = vec![
            (
                "10-docker2singularity.sh".to_string(),
                "export PATH=\"/img/bin\"\nexport FOO=\"${FOO:-\"image\"}\"".to_string(),
            ),
            (
                "99-base.sh".to_string(),
                "LD_LIBRARY_PATH=\"/.singularity.d/libs\"".to_string(),
            ),
        ];
        let v = evaluate(&p, &scripts);
        assert_eq!(v["FOO"], "image", "image beats host");
        assert_eq!(v["ONLYHOST"], "h");
        assert_eq!(v["INJ"], "a", "APPTAINERENV_ wins");
        assert_eq!(v["CLI"], "1");
        assert_eq!(v["PATH"], "/pre:/img/bin");
        assert_eq!(v["HOME"], "/home/u");
        assert_eq!(v["SINGULARITY_NAME"], "img.sif");
        assert_eq!(v["APPTAINER_NAME"], "img.sif");
    }

    #[test]
    fn script_order_has_injection_after_99_base() {
        let files: Vec<String> = [
            "01-base.sh",
            "90-environment.sh",
            "99-base.sh",
            "99-runtimevars.sh",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let s = action_script(&files);
        let base = s.find("99-base.sh").unwrap();
        let inj = s.find(INJECT_VAR).unwrap();
        let rv = s.find(". /.singularity.d/env/99-runtimevars.sh").unwrap();
        assert!(base < inj && inj < rv, "{s}");
    }

    #[test]
    fn quoting() {
        assert_eq!(sh_single("it's"), "'it'\\''s'");
        assert_eq!(
            sh_double("a $HOME `x` $(y)", false),
            "\"a $HOME \\`x\\` \\$(y)\""
        );
    }
}
