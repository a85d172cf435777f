//! Logging at the binary's edge: a `tracing` layer writing runc's formats.
//!
//! * `--log FILE` is opened for append and always created (docs/reference/clients.md §0.5); without it
//!   messages go to stderr.
//! * `--log-format text`: `time="…" level=error msg="…"` (logrus text, as runc);
//!   `json`: one object per line `{"level":"error","msg":"…","time":"RFC 3339"}`.
//! * In JSON mode, warnings are held back and written only if the command succeeds, so a
//!   failure leaves exactly one `error` line: Podman parses the whole file as one JSON value
//!   and containerd takes the last error line (docs/reference/clients.md §b.4).
//! * The front end (`singlet exec …`) prints `WARNING: …`/`ERROR: …`/`DEBUG: …` lines on
//!   stderr, as Apptainer users expect.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum LogFormat {
    /// logrus text lines.
    #[default]
    Text,
    /// JSON objects, one per line.
    Json,
}

/// Which face is logging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// runc-compatible runtime: runc's formats.
    Runtime,
    /// Singularity-style front end: `WARNING: …` on stderr.
    Human,
}

struct State {
    file: Option<File>,
    format: LogFormat,
    style: Style,
    max: Level,
    held: Vec<String>,
}

static STATE: OnceLock<Mutex<State>> = OnceLock::new();

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn level_name(l: Level) -> &'static str {
    match l {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

fn format_line(format: LogFormat, level: Level, msg: &str) -> String {
    match format {
        LogFormat::Json => serde_json::json!({
            "level": level_name(level),
            "msg": msg,
            "time": now(),
        })
        .to_string(),
        LogFormat::Text => format!("time={:?} level={} msg={:?}", now(), level_name(level), msg),
    }
}

impl State {
    fn emit(&mut self, level: Level, msg: &str) {
        if level > self.max {
            return;
        }
        match (&mut self.file, self.style) {
            (Some(f), _) => {
                let line = format_line(self.format, level, msg);
                if self.format == LogFormat::Json && level == Level::WARN {
                    self.held.push(line);
                } else {
                    let _ = writeln!(f, "{line}");
                }
            }
            (None, Style::Runtime) => {
                let line = format_line(self.format, level, msg);
                let _ = writeln!(std::io::stderr(), "{line}");
            }
            (None, Style::Human) => {
                let tag = match level {
                    Level::ERROR => "ERROR",
                    Level::WARN => "WARNING",
                    Level::INFO => "INFO",
                    _ => "DEBUG",
                };
                let _ = writeln!(std::io::stderr(), "{tag:<8} {msg}");
            }
        }
    }
}

struct MsgVisitor(String);

impl Visit for MsgVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        } else {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = value.to_string();
        } else {
            self.0.push_str(&format!(" {}={value}", field.name()));
        }
    }
}

struct RuncLayer;

impl<S: Subscriber> Layer<S> for RuncLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut v = MsgVisitor(String::new());
        event.record(&mut v);
        if let Some(st) = STATE.get() {
            if let Ok(mut st) = st.lock() {
                st.emit(*event.metadata().level(), &v.0);
            }
        }
    }
}

/// Installs the logger. `file` is created if missing and opened for append.
///
/// # Errors
/// The I/O error of opening `file`.
pub fn init(
    file: Option<&Path>,
    format: LogFormat,
    debug: bool,
    style: Style,
) -> std::io::Result<()> {
    let f = match file {
        Some(p) => Some(OpenOptions::new().create(true).append(true).open(p)?),
        None => None,
    };
    let max = if debug { Level::DEBUG } else { Level::WARN };
    let _ = STATE.set(Mutex::new(State {
        file: f,
        format,
        style,
        max,
        held: Vec::new(),
    }));
    // Our own warnings count; libraries' (libcgroups notes missing controllers) are debug noise.
    let filter = tracing_subscriber::filter::filter_fn(move |m| {
        let ours = m.target().starts_with("singlet");
        *m.level()
            <= if ours {
                max
            } else {
                Level::ERROR.max(if debug { Level::DEBUG } else { Level::ERROR })
            }
    });
    let sub = tracing_subscriber::registry().with(RuncLayer.with_filter(filter));
    let _ = tracing::subscriber::set_global_default(sub);
    Ok(())
}

/// Finishes logging: on success the held-back warnings are written; on failure the single
/// error line goes to the log file (if any) and the plain message to stderr.
pub fn finish(error: Option<&str>) {
    let Some(st) = STATE.get() else {
        if let Some(e) = error {
            eprintln!("{e}");
        }
        return;
    };
    let Ok(mut st) = st.lock() else { return };
    match error {
        None => {
            let held = std::mem::take(&mut st.held);
            if let Some(f) = &mut st.file {
                for l in held {
                    let _ = writeln!(f, "{l}");
                }
            }
        }
        Some(msg) => {
            st.held.clear();
            match st.style {
                Style::Runtime => {
                    if st.file.is_some() {
                        st.emit(Level::ERROR, msg);
                        let _ = writeln!(std::io::stderr(), "{msg}");
                    } else {
                        st.emit(Level::ERROR, msg);
                    }
                }
                Style::Human => {
                    if st.file.is_some() {
                        st.emit(Level::ERROR, msg);
                    }
                    let _ = writeln!(std::io::stderr(), "{:<8} {msg}", "FATAL:");
                }
            }
        }
    }
}
