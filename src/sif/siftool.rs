//! siftool's output layouts (`header`, `list`, `info`), byte for byte, so scripts that parse
//! them keep working (reference: `internal/app/siftool/info.go` of sylabs/sif v2.8.3, which
//! uses Go's text/tabwriter).

use std::fmt::Write as _;

use super::format::{uuid_text, Descriptor, GlobalHeader, Link, GO_ZERO_TIME};
use super::types::DataType;

/// siftool's size rendering: bytes below 1 KiB, else the rounded value in the largest binary
/// unit (`27 KiB`, `3 MiB`).
pub fn readable_size(size: i64) -> String {
    if -1024 < size && size < 1024 {
        return format!("{size} B");
    }
    let units = b"KMGTPE";
    let (mut div, mut exp) = (1024u64, 0usize);
    let mut n = size / 1024;
    while n <= -1024 || n >= 1024 {
        div *= 1024;
        exp += 1;
        n /= 1024;
    }
    format!(
        "{:.0} {}iB",
        (size as f64 / div as f64).round(),
        units[exp] as char
    )
}

/// Go's `time.Time.UTC().String()`: `2021-08-02 19:09:36 +0000 UTC`.
pub fn go_time(t: i64) -> String {
    match chrono::DateTime::from_timestamp(t, 0) {
        Some(d) => d.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string(),
        None => t.to_string(),
    }
}

/// Aligns `(key, value)` rows like tabwriter: `indent`, then the key padded to the widest key
/// plus `padding`, then the value.
fn table(rows: &[(String, String)], indent: &str, padding: usize) -> String {
    let w = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0)
        + padding;
    let mut s = String::new();
    for (k, v) in rows {
        let _ = writeln!(s, "{indent}{k:<w$}{v}");
    }
    s
}

/// `siftool header`.
pub fn header(h: &GlobalHeader) -> String {
    let mut rows = Vec::new();
    let ls = h.launch_script();
    if !ls.is_empty() {
        rows.push((
            "Launch Script:".into(),
            ls.trim_end_matches('\n').to_string(),
        ));
    }
    rows.push((
        "Version:".into(),
        String::from_utf8_lossy(&h.version)
            .trim_end_matches('\0')
            .to_string(),
    ));
    if h.arch.go_name() != "unknown" {
        rows.push(("Primary Architecture:".into(), h.arch.go_name().into()));
    }
    if h.id != [0; 16] {
        rows.push(("ID:".into(), uuid_text(&h.id)));
    }
    if h.created_at != GO_ZERO_TIME {
        rows.push(("Created At:".into(), go_time(h.created_at)));
    }
    if h.modified_at != GO_ZERO_TIME {
        rows.push(("Modified At:".into(), go_time(h.modified_at)));
    }
    rows.push(("Descriptors Free:".into(), h.descriptors_free.to_string()));
    rows.push(("Descriptors Total:".into(), h.descriptors_total.to_string()));
    rows.push((
        "Descriptors Offset:".into(),
        h.descriptors_offset.to_string(),
    ));
    rows.push((
        "Descriptors Size:".into(),
        readable_size(h.descriptors_size),
    ));
    rows.push(("Data Offset:".into(), h.data_offset.to_string()));
    rows.push(("Data Size:".into(), readable_size(h.data_size)));
    table(&rows, "", 1)
}

/// The TYPE column of `siftool list`.
pub fn type_label(d: &Descriptor) -> String {
    let dt = d.data_type();
    match dt {
        DataType::Partition => {
            let p = d.partition().expect("partition");
            format!("{dt} ({}/{}/{})", p.fs, p.part, p.arch)
        }
        DataType::Signature => format!("{dt} ({})", d.signature().expect("signature").0),
        DataType::CryptoMessage => {
            let (f, m) = d.crypto_message().expect("crypto");
            format!("{dt} ({f}/{m})")
        }
        DataType::Sbom => format!("{dt} ({})", d.sbom_format().expect("sbom")),
        _ => dt.to_string(),
    }
}

/// `siftool list`.
pub fn list<'a>(ds: impl Iterator<Item = &'a Descriptor>) -> String {
    let rule = "------------------------------------------------------------------------------";
    let mut s = String::new();
    let _ = writeln!(s, "{rule}");
    let _ = writeln!(
        s,
        "{:<4} {:<8} {:<8} {:<26} |TYPE",
        "ID", "|GROUP", "|LINK", "|SIF POSITION (start-end)"
    );
    let _ = writeln!(s, "{rule}");
    for d in ds {
        let _ = write!(s, "{:<4} ", d.id());
        let _ = match d.group() {
            None => write!(s, "|{:<7} ", "NONE"),
            Some(g) => write!(s, "|{g:<7} "),
        };
        let _ = match d.link() {
            Link::None => write!(s, "|{:<7} ", "NONE"),
            Link::Group(g) => write!(s, "|{g:<3} (G) "),
            Link::Object(i) => write!(s, "|{i:<7} "),
        };
        let pos = format!("|{}-{} ", d.offset(), d.offset() + d.size());
        let _ = writeln!(s, "{pos:<26} |{}", type_label(d));
    }
    s
}

/// `siftool info`.
pub fn info(d: &Descriptor) -> String {
    let mut rows: Vec<(String, String)> = vec![
        ("Data Type:".into(), d.data_type().to_string()),
        ("ID:".into(), d.id().to_string()),
        (
            "Group ID:".into(),
            d.group()
                .map(|g| g.to_string())
                .unwrap_or_else(|| "NONE".into()),
        ),
        (
            "Linked ID:".into(),
            match d.link() {
                Link::None => "NONE".into(),
                Link::Group(g) => format!("{g} (G)"),
                Link::Object(i) => i.to_string(),
            },
        ),
        ("Offset:".into(), d.offset().to_string()),
        ("Size:".into(), d.size().to_string()),
    ];
    if let Some(t) = d.created_at() {
        rows.push(("Created At:".into(), go_time(t)));
    }
    if let Some(t) = d.modified_at() {
        rows.push(("Modified At:".into(), go_time(t)));
    }
    let name = d.name();
    if !name.is_empty() {
        rows.push(("Name:".into(), name));
    }
    if let Some(p) = d.partition() {
        rows.push(("Filesystem Type:".into(), p.fs.to_string()));
        rows.push(("Partition Type:".into(), p.part.to_string()));
        rows.push(("Architecture:".into(), p.arch.to_string()));
    }
    if let Some((h, fp)) = d.signature() {
        rows.push(("Hash Type:".into(), h.to_string()));
        if let Some(fp) = fp {
            rows.push((
                "Entity:".into(),
                fp.iter().map(|b| format!("{b:02X}")).collect::<String>(),
            ));
        }
    }
    if let Some((f, m)) = d.crypto_message() {
        rows.push(("Format Type:".into(), f.to_string()));
        rows.push(("Message Type:".into(), m.to_string()));
    }
    if let Some(f) = d.sbom_format() {
        rows.push(("Format:".into(), f.to_string()));
    }
    table(&rows, "  ", 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(readable_size(847), "847 B");
        assert_eq!(readable_size(28080), "27 KiB");
        assert_eq!(readable_size(759525), "742 KiB");
        assert_eq!(readable_size(2974308), "3 MiB");
    }

    #[test]
    fn times() {
        assert_eq!(go_time(1627931376), "2021-08-02 19:09:36 +0000 UTC");
    }
}
