//! Writing SIF files: the one-pass [`Builder`] and in-place `add`, `delete`, `set_primary`,
//! with the placement rules of the v2 reference library (docs/reference/sif.md §2.6–2.7): descriptors at
//! 4096 with capacity 48, data from 32176, partitions 4096-aligned and everything else packed,
//! data always appended, ids = slot index + 1, groups stored OR'ed with 0xF0000000.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::error::{Error, Result};
use super::format::{
    GlobalHeader, Link, PartitionInfo, RawDescriptor, DESCRIPTOR_LEN, GO_ZERO_TIME, GROUP_MASK,
    HEADER_LEN, MAGIC, VERSION,
};
use super::image::SifImage;
use super::types::{Arch, DataType, FormatType, HashType, MessageType, PartType, SbomFormat};

/// Apptainer's launch script: `./image.sif` runs `run-singularity ./image.sif`.
pub const LAUNCH_SCRIPT: &str = "#!/usr/bin/env run-singularity\n";
/// Default descriptor capacity.
pub const DEFAULT_CAPACITY: i64 = 48;
/// Default offset of the descriptor table.
pub const DEFAULT_DESCRIPTORS_OFFSET: i64 = 4096;
/// Default alignment of partitions (others are packed).
pub const PARTITION_ALIGNMENT: u64 = 4096;

/// Type-specific descriptor data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extra {
    /// Nothing (zeros).
    None,
    /// Partition metadata.
    Partition(PartitionInfo),
    /// Signature hash and optional PGP fingerprint.
    Signature(HashType, Option<[u8; 20]>),
    /// Crypto message format and type.
    CryptoMessage(FormatType, MessageType),
    /// SBOM format.
    Sbom(SbomFormat),
    /// An OCI.RootIndex or OCI.Blob object's digest, `sha256:<hex>`, stored as text
    /// (docs/reference/sif.md §4).
    OciDigest(String),
    /// Verbatim bytes.
    Raw(Box<[u8; 384]>),
}

impl Extra {
    fn encode(&self) -> [u8; 384] {
        let mut e = [0u8; 384];
        match self {
            Extra::None => {}
            Extra::Partition(p) => e = p.encode(),
            Extra::Signature(h, fp) => {
                e[0..4].copy_from_slice(&h.raw().to_le_bytes());
                if let Some(fp) = fp {
                    e[4..24].copy_from_slice(fp);
                }
            }
            Extra::CryptoMessage(f, m) => {
                e[0..4].copy_from_slice(&f.raw().to_le_bytes());
                e[4..8].copy_from_slice(&m.raw().to_le_bytes());
            }
            Extra::Sbom(f) => e[0..4].copy_from_slice(&f.raw().to_le_bytes()),
            Extra::OciDigest(d) => {
                let n = d.len().min(384);
                e[..n].copy_from_slice(&d.as_bytes()[..n]);
            }
            Extra::Raw(b) => e = **b,
        }
        e
    }
}

/// Where an object's bytes come from.
pub enum Source {
    /// In memory.
    Bytes(Vec<u8>),
    /// A file, streamed.
    File(PathBuf),
    /// Any reader, streamed.
    Reader(Box<dyn Read>),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Source::File(p) => write!(f, "File({})", p.display()),
            Source::Reader(_) => f.write_str("Reader"),
        }
    }
}

/// One object to add.
#[derive(Debug)]
pub struct ObjectInput {
    /// Data type.
    pub data_type: DataType,
    /// The bytes.
    pub source: Source,
    /// Name (≤ 128 bytes).
    pub name: String,
    /// Group number; `None` = no group. Default: group 1 (what Apptainer uses).
    pub group: Option<u32>,
    /// Link to another object or group.
    pub link: Link,
    /// Alignment in bytes (a power of two); default 4096 for partitions, 0 otherwise.
    pub alignment: Option<u64>,
    /// Type-specific metadata.
    pub extra: Extra,
}

impl ObjectInput {
    /// An object with the library defaults (group 1, no link, default alignment, no name).
    pub fn new(data_type: DataType, source: Source) -> ObjectInput {
        ObjectInput {
            data_type,
            source,
            name: String::new(),
            group: Some(1),
            link: Link::None,
            alignment: None,
            extra: Extra::None,
        }
    }

    /// A primary system squashfs partition of `arch` (Apptainer's rootfs object).
    pub fn primary_squashfs(source: Source, arch: Arch) -> ObjectInput {
        let mut o = ObjectInput::new(DataType::Partition, source);
        o.extra = Extra::Partition(PartitionInfo {
            fs: super::types::FsType::Squash,
            part: PartType::PrimSys,
            arch,
        });
        o
    }

    /// Sets the name.
    pub fn named(mut self, name: &str) -> ObjectInput {
        self.name = name.to_string();
        self
    }

    fn validate(&self) -> Result<()> {
        if self.name.len() > 128 {
            return Err(Error::Invalid(format!(
                "object name {:?} is longer than 128 bytes",
                self.name
            )));
        }
        if let Some(g) = self.group {
            if g == 0 || g & GROUP_MASK != 0 {
                return Err(Error::Invalid(format!(
                    "invalid group id {g} (1..=0x0FFFFFFF)"
                )));
            }
        }
        if let Extra::Partition(p) = &self.extra {
            if p.arch.go_name() == "unknown" {
                return Err(Error::Invalid("partition architecture is unknown".into()));
            }
            if self.data_type != DataType::Partition {
                return Err(Error::Invalid(
                    "partition metadata on a non-partition object".into(),
                ));
            }
        } else if self.data_type == DataType::Partition {
            return Err(Error::Invalid(
                "a partition needs filesystem, partition type and architecture".into(),
            ));
        }
        Ok(())
    }
}

/// Rounds `off` up to `align` with the reference library's bit mask (power-of-two alignments).
pub fn next_aligned(off: u64, align: u64) -> u64 {
    if align != 0 && !off.is_multiple_of(align) {
        (off & !(align - 1)).wrapping_add(align)
    } else {
        off
    }
}

/// Random UUID v4 bytes.
fn random_uuid() -> [u8; 16] {
    let mut b = [0u8; 16];
    // SAFETY: getrandom writes at most 16 bytes into the buffer we own.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), 16, 0) };
    if n != 16 {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b.copy_from_slice(&(t ^ ((std::process::id() as u128) << 64)).to_le_bytes());
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    b
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Creation time and id from the environment: with `SOURCE_DATE_EPOCH` set, a nil UUID and
/// that time (a byte-reproducible file); otherwise now and a random UUID.
pub fn time_and_id_from_env() -> (i64, [u8; 16]) {
    match std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
    {
        Some(t) => (t, [0; 16]),
        None => (now(), random_uuid()),
    }
}

/// Creates a SIF in one pass: objects are streamed at their offsets, then the descriptor
/// table and the header are written.
#[derive(Debug)]
pub struct Builder {
    launch_script: [u8; 32],
    id: [u8; 16],
    time: i64,
    capacity: i64,
    descriptors_offset: i64,
    objects: Vec<ObjectInput>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// Apptainer's defaults: its launch script, 48 descriptors at 4096, a random UUID and the
    /// current time (or the nil UUID and `SOURCE_DATE_EPOCH`).
    pub fn new() -> Builder {
        let (time, id) = time_and_id_from_env();
        let mut ls = [0u8; 32];
        ls[..LAUNCH_SCRIPT.len()].copy_from_slice(LAUNCH_SCRIPT.as_bytes());
        Builder {
            launch_script: ls,
            id,
            time,
            capacity: DEFAULT_CAPACITY,
            descriptors_offset: DEFAULT_DESCRIPTORS_OFFSET,
            objects: Vec::new(),
        }
    }

    /// The reference library's deterministic mode: nil UUID and Go's zero time.
    pub fn deterministic(mut self) -> Builder {
        self.id = [0; 16];
        self.time = GO_ZERO_TIME;
        self
    }

    /// Sets or clears (`None`) the launch script.
    ///
    /// # Errors
    /// [`Error::Invalid`] for 32 bytes or more.
    pub fn launch_script(mut self, s: Option<&str>) -> Result<Builder> {
        let mut ls = [0u8; 32];
        if let Some(s) = s {
            if s.len() >= 32 {
                return Err(Error::Invalid(format!(
                    "launch script of {} bytes is too long (at most 31)",
                    s.len()
                )));
            }
            ls[..s.len()].copy_from_slice(s.as_bytes());
        }
        self.launch_script = ls;
        Ok(self)
    }

    /// Sets the UUID.
    pub fn id(mut self, id: [u8; 16]) -> Builder {
        self.id = id;
        self
    }

    /// Sets the creation time (Unix seconds) used for the header and every descriptor.
    pub fn time(mut self, t: i64) -> Builder {
        self.time = t;
        self
    }

    /// Sets the descriptor capacity.
    pub fn capacity(mut self, n: i64) -> Builder {
        self.capacity = n;
        self
    }

    /// Adds an object.
    pub fn object(mut self, o: ObjectInput) -> Builder {
        self.objects.push(o);
        self
    }

    /// Writes the file to `w` (which should be empty).
    ///
    /// # Errors
    /// [`Error::Invalid`] for too many objects, two primary partitions, bad names or groups;
    /// [`Error::Io`].
    pub fn write<W: Write + Seek>(self, w: &mut W) -> Result<()> {
        if self.capacity < 1 || self.capacity > super::image::MAX_DESCRIPTORS {
            return Err(Error::Invalid(format!(
                "descriptor capacity {} out of range",
                self.capacity
            )));
        }
        let size = self.capacity * DESCRIPTOR_LEN as i64;
        let mut header = GlobalHeader {
            launch_script: self.launch_script,
            magic: MAGIC,
            version: VERSION,
            arch: Arch::UNKNOWN,
            id: self.id,
            created_at: self.time,
            modified_at: self.time,
            descriptors_free: self.capacity,
            descriptors_total: self.capacity,
            descriptors_offset: self.descriptors_offset,
            descriptors_size: size,
            data_offset: self.descriptors_offset + size,
            data_size: 0,
        };
        let mut slots = vec![RawDescriptor::default(); self.capacity as usize];
        let mut end = 0u64;
        for (i, o) in self.objects.into_iter().enumerate() {
            end = end.max(append_object(w, &mut header, &mut slots, i, o, self.time)?);
        }
        write_table_and_header(w, &header, &slots)?;
        // The file ends where the last object ends (or after the table when empty).
        let table_end = (header.descriptors_offset + header.descriptors_size) as u64;
        let file_end = end.max(table_end);
        w.seek(SeekFrom::Start(file_end))
            .map_err(|e| Error::io("seek", e))?;
        w.flush().map_err(|e| Error::io("flush SIF", e))?;
        Ok(())
    }

    /// Writes to `path` atomically (temp file in the same directory, fsync, rename) with mode
    /// 0755, so a failed or interrupted build leaves nothing at `path`.
    ///
    /// # Errors
    /// As [`Builder::write`].
    pub fn write_to_path(self, path: &Path) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut tmp = tempfile::Builder::new()
            .prefix(".sif-")
            .tempfile_in(dir)
            .map_err(|e| Error::io(format!("create a temporary file in {}", dir.display()), e))?;
        self.write(tmp.as_file_mut())?;
        let len = tmp
            .as_file_mut()
            .stream_position()
            .map_err(|e| Error::io("position", e))?;
        let f = tmp.as_file();
        f.set_len(len).map_err(|e| Error::io("truncate", e))?;
        f.set_permissions(std::fs::Permissions::from_mode(0o755))
            .map_err(|e| Error::io("chmod", e))?;
        f.sync_all().map_err(|e| Error::io("sync", e))?;
        tmp.persist(path)
            .map_err(|e| Error::io(format!("rename to {}", path.display()), e.error))?;
        Ok(())
    }
}

/// Writes object `o` into slot `i`, at the aligned end of the data region. Returns the end
/// offset of the object.
fn append_object<W: Write + Seek>(
    w: &mut W,
    header: &mut GlobalHeader,
    slots: &mut [RawDescriptor],
    i: usize,
    o: ObjectInput,
    time: i64,
) -> Result<u64> {
    o.validate()?;
    if i >= slots.len() {
        return Err(Error::Invalid(
            "insufficient descriptor capacity to add data object(s) to image".into(),
        ));
    }
    if let Extra::Partition(p) = &o.extra {
        if p.part == PartType::PrimSys {
            let has = slots.iter().any(|d| {
                d.is_used()
                    && DataType::from_raw(d.data_type) == DataType::Partition
                    && PartitionInfo::decode(&d.extra).part == PartType::PrimSys
            });
            if has {
                return Err(Error::Invalid(
                    "image already contains a primary partition".into(),
                ));
            }
            header.arch = p.arch;
        }
    }
    let align = o
        .alignment
        .unwrap_or(if o.data_type == DataType::Partition {
            PARTITION_ALIGNMENT
        } else {
            0
        });
    let unaligned = (header.data_offset + header.data_size) as u64;
    let offset = next_aligned(unaligned, align);
    w.seek(SeekFrom::Start(offset))
        .map_err(|e| Error::io("seek", e))?;
    let n = match o.source {
        Source::Bytes(b) => {
            w.write_all(&b)
                .map_err(|e| Error::io("write data object", e))?;
            b.len() as u64
        }
        Source::File(p) => {
            let mut f =
                File::open(&p).map_err(|e| Error::io(format!("open {}", p.display()), e))?;
            std::io::copy(&mut f, w).map_err(|e| Error::io(format!("copy {}", p.display()), e))?
        }
        Source::Reader(mut r) => {
            std::io::copy(&mut r, w).map_err(|e| Error::io("copy data object", e))?
        }
    };
    let mut name = [0u8; 128];
    name[..o.name.len()].copy_from_slice(o.name.as_bytes());
    let d = &mut slots[i];
    *d = RawDescriptor {
        data_type: o.data_type.raw(),
        used: 1,
        id: i as u32 + 1,
        group_id: o.group.unwrap_or(0) | GROUP_MASK,
        linked_id: o.link.raw(),
        offset: offset as i64,
        size: n as i64,
        size_with_padding: (offset - unaligned + n) as i64,
        created_at: time,
        modified_at: time,
        uid: 0,
        gid: 0,
        name,
        extra: o.extra.encode(),
    };
    header.descriptors_free -= 1;
    header.data_size += d.size_with_padding;
    Ok(offset + n)
}

fn write_table_and_header<W: Write + Seek>(
    w: &mut W,
    header: &GlobalHeader,
    slots: &[RawDescriptor],
) -> Result<()> {
    let mut table = Vec::with_capacity(slots.len() * DESCRIPTOR_LEN);
    for s in slots {
        table.extend_from_slice(&s.encode());
    }
    w.seek(SeekFrom::Start(header.descriptors_offset as u64))
        .and_then(|_| w.write_all(&table))
        .and_then(|_| w.seek(SeekFrom::Start(0)))
        .and_then(|_| w.write_all(&header.encode()))
        .map_err(|e| Error::io("write SIF header and descriptors", e))?;
    let _ = HEADER_LEN;
    Ok(())
}

impl SifImage<File> {
    /// Appends an object in the first free slot (ids are reused after deletes, as the
    /// reference does) and updates the header's modification time to `time`.
    ///
    /// # Errors
    /// As [`Builder::write`].
    pub fn add_object(&mut self, o: ObjectInput, time: i64) -> Result<u32> {
        let (f, header, slots, len) = self.parts_mut();
        let i = slots
            .iter()
            .position(|d| !d.is_used())
            .unwrap_or(slots.len());
        let end = append_object(f, header, slots, i, o, time)?;
        header.modified_at = time;
        write_table_and_header(f, header, slots)?;
        *len = (*len).max(end);
        Ok(i as u32 + 1)
    }

    /// Deletes object `id`: zeroes its descriptor (the data stays unless `zero`), and with
    /// `compact` truncates the file when the object is the last one (docs/reference/sif.md §2.6). Deleting
    /// the primary partition resets the header's architecture.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Invalid`] for `compact` on an object that is not last.
    pub fn delete_object(&mut self, id: u32, zero: bool, compact: bool, time: i64) -> Result<()> {
        let d = self.by_id(id)?;
        let is_last = self
            .descriptors()
            .all(|o| o.offset() + o.size() <= d.offset() + d.size());
        if compact && !is_last {
            return Err(Error::Invalid(format!(
                "cannot compact: data object {id} is not the last object in the file"
            )));
        }
        let (f, header, slots, len) = self.parts_mut();
        if zero {
            let zeros = vec![0u8; 64 * 1024];
            f.seek(SeekFrom::Start(d.offset()))
                .map_err(|e| Error::io("seek", e))?;
            let mut left = d.size();
            while left > 0 {
                let n = left.min(zeros.len() as u64) as usize;
                f.write_all(&zeros[..n])
                    .map_err(|e| Error::io("zero data object", e))?;
                left -= n as u64;
            }
        }
        if compact {
            let start = d.raw.offset + d.raw.size - d.raw.size_with_padding;
            f.set_len(start as u64)
                .map_err(|e| Error::io("truncate SIF", e))?;
            header.data_size -= d.raw.size_with_padding;
            *len = start as u64;
        }
        if d.partition().is_some_and(|p| p.part == PartType::PrimSys) {
            header.arch = Arch::UNKNOWN;
        }
        header.descriptors_free += 1;
        header.modified_at = time;
        if let Some(slot) = slots.iter_mut().find(|s| s.is_used() && s.id == id) {
            *slot = RawDescriptor::default();
        }
        write_table_and_header(f, header, slots)
    }

    /// Makes system partition `id` the primary one (the previous primary becomes a system
    /// partition). Unlike the reference v2.8.3 (sylabs/sif#285) the partition keeps its
    /// architecture.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Invalid`] when `id` is not a system partition.
    pub fn set_primary(&mut self, id: u32, time: i64) -> Result<()> {
        let d = self.by_id(id)?;
        let Some(p) = d.partition() else {
            return Err(Error::Invalid(format!(
                "data object {id} is not a partition"
            )));
        };
        if p.part == PartType::PrimSys {
            return Ok(());
        }
        if p.part != PartType::System {
            return Err(Error::Invalid(format!(
                "data object {id} is not a system partition"
            )));
        }
        let (f, header, slots, _) = self.parts_mut();
        for s in slots.iter_mut().filter(|s| s.is_used()) {
            if DataType::from_raw(s.data_type) != DataType::Partition {
                continue;
            }
            let mut info = PartitionInfo::decode(&s.extra);
            if s.id == id {
                info.part = PartType::PrimSys;
                header.arch = info.arch;
            } else if info.part == PartType::PrimSys {
                info.part = PartType::System;
            } else {
                continue;
            }
            let enc = info.encode();
            s.extra[..12].copy_from_slice(&enc[..12]);
        }
        header.modified_at = time;
        write_table_and_header(f, header, slots)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sif::types::FsType;
    use std::io::Cursor;

    fn squash_stub() -> Vec<u8> {
        let mut v = vec![0u8; 4096];
        v[0..4].copy_from_slice(b"hsqs");
        v[20] = 1; // gzip
        v[28] = 4; // version 4
        v
    }

    #[test]
    fn apptainer_layout() {
        let mut c = Cursor::new(Vec::new());
        Builder::new()
            .deterministic()
            .object(ObjectInput::new(
                DataType::Deffile,
                Source::Bytes(b"bootstrap: docker\n".to_vec()),
            ))
            .object(
                ObjectInput::new(DataType::GenericJson, Source::Bytes(b"{}".to_vec()))
                    .named("inspect-metadata.json"),
            )
            .object(ObjectInput::primary_squashfs(
                Source::Bytes(squash_stub()),
                Arch::from_go_name("amd64").unwrap(),
            ))
            .write(&mut c)
            .unwrap();
        let mut img = SifImage::from_reader(Cursor::new(c.into_inner())).unwrap();
        let d: Vec<_> = img.descriptors().collect();
        assert_eq!(d[0].offset(), 32176);
        assert_eq!(d[1].offset(), 32176 + 18);
        assert_eq!(d[2].offset(), 32768);
        assert_eq!(d[2].partition().unwrap().fs, FsType::Squash);
        assert_eq!(img.header().arch.go_name(), "amd64");
        assert_eq!(img.header().descriptors_free, 45);
        assert_eq!(img.primary_system_partition().unwrap().id(), 3);
        assert_eq!(img.len(), 32768 + 4096);
    }

    #[test]
    fn second_primary_refused() {
        let arch = Arch::from_go_name("amd64").unwrap();
        let r = Builder::new()
            .object(ObjectInput::primary_squashfs(
                Source::Bytes(squash_stub()),
                arch,
            ))
            .object(ObjectInput::primary_squashfs(
                Source::Bytes(squash_stub()),
                arch,
            ))
            .write(&mut Cursor::new(Vec::new()));
        assert!(r
            .unwrap_err()
            .to_string()
            .contains("already contains a primary partition"));
    }

    #[test]
    fn alignment_math() {
        assert_eq!(next_aligned(32176, 4096), 32768);
        assert_eq!(next_aligned(32768, 4096), 32768);
        assert_eq!(next_aligned(5, 0), 5);
        assert_eq!(next_aligned(1000, 512), 1024);
    }

    proptest::proptest! {
        /// Random object sets: everything written reads back with the same types, groups,
        /// names and bytes; offsets respect alignment and never overlap.
        #[test]
        fn builder_roundtrip(objs in proptest::collection::vec(
            (1u32..=9, proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000),
             proptest::option::of(1u32..5), "[a-z.]{0,20}", proptest::sample::select(vec![0u64, 1, 8, 512, 4096])),
            0..12)) {
            let mut b = Builder::new().deterministic();
            for (dt, data, group, name, align) in &objs {
                let dt = DataType::from_siftool_number(*dt).unwrap();
                let mut o = if dt == DataType::Partition {
                    let mut d = squash_stub();
                    d.extend_from_slice(data);
                    ObjectInput::new(dt, Source::Bytes(d))
                } else {
                    ObjectInput::new(dt, Source::Bytes(data.clone()))
                };
                if dt == DataType::Partition {
                    o.extra = Extra::Partition(PartitionInfo { fs: FsType::Squash, part: PartType::Data, arch: Arch::from_go_name("arm64").unwrap() });
                }
                o.group = *group;
                o.name = name.clone();
                o.alignment = Some(*align);
                b = b.object(o);
            }
            let mut c = Cursor::new(Vec::new());
            b.write(&mut c).unwrap();
            let bytes = c.into_inner();
            let mut img = SifImage::from_reader(Cursor::new(bytes.clone())).unwrap();
            let ds: Vec<_> = img.descriptors().collect();
            proptest::prop_assert_eq!(ds.len(), objs.len());
            let mut prev_end = 0;
            for (d, (_, data, group, name, align)) in ds.iter().zip(&objs) {
                proptest::prop_assert_eq!(d.group(), *group);
                proptest::prop_assert_eq!(&d.name(), name);
                if *align > 1 { proptest::prop_assert_eq!(d.offset() % align, 0); }
                proptest::prop_assert!(d.offset() >= prev_end);
                prev_end = d.offset() + d.size();
                let got = img.read_object(d).unwrap();
                if d.data_type() == DataType::Partition {
                    proptest::prop_assert_eq!(&got[4096..], &data[..]);
                } else {
                    proptest::prop_assert_eq!(&got, data);
                }
            }
            // rewrite is byte-exact
            let mut out = Vec::new();
            img.rewrite(&mut out).unwrap();
            proptest::prop_assert_eq!(out, bytes);
        }
    }
}
