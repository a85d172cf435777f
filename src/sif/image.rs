//! Reading a SIF file: validation on open, descriptor lookup, bounded object readers.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::error::{Error, Result};
use super::format::{
    Descriptor, GlobalHeader, RawDescriptor, DESCRIPTOR_LEN, HEADER_LEN, MAGIC, VERSION,
};
use super::types::{DataType, FsType, PartType};

/// Largest descriptor capacity accepted (the default is 48; 65536 descriptors are 38 MiB of
/// table). Bounds the memory a hostile header can make us allocate.
pub const MAX_DESCRIPTORS: i64 = 65_536;

/// Largest object [`SifImage::read_object`] loads into memory (metadata objects are small;
/// partitions are read through [`ObjectReader`] instead).
pub const MAX_IN_MEMORY: u64 = 64 << 20;

/// An open SIF file: the validated header and descriptor table over any `Read + Seek`.
pub struct SifImage<R> {
    inner: R,
    header: GlobalHeader,
    /// Every slot of the table, used or not, in table order.
    slots: Vec<RawDescriptor>,
    len: u64,
}

/// A lookup: every set field must match.
#[derive(Debug, Clone, Default)]
pub struct Select {
    data_type: Option<DataType>,
    part_type: Option<PartType>,
    group: Option<Option<u32>>,
    id: Option<u32>,
    name: Option<String>,
}

impl Select {
    /// Matches everything.
    pub fn all() -> Select {
        Select::default()
    }
    /// Only this data type.
    pub fn data_type(mut self, t: DataType) -> Select {
        self.data_type = Some(t);
        self
    }
    /// Only partitions of this type.
    pub fn part_type(mut self, t: PartType) -> Select {
        self.data_type = Some(DataType::Partition);
        self.part_type = Some(t);
        self
    }
    /// Only this group (`None` = objects in no group).
    pub fn group(mut self, g: Option<u32>) -> Select {
        self.group = Some(g);
        self
    }
    /// Only this id.
    pub fn id(mut self, id: u32) -> Select {
        self.id = Some(id);
        self
    }
    /// Only this name.
    pub fn name(mut self, n: &str) -> Select {
        self.name = Some(n.to_string());
        self
    }

    fn matches(&self, d: &Descriptor) -> bool {
        self.data_type.is_none_or(|t| d.data_type() == t)
            && self
                .part_type
                .is_none_or(|p| d.partition().is_some_and(|i| i.part == p))
            && self.group.is_none_or(|g| d.group() == g)
            && self.id.is_none_or(|i| d.id() == i)
            && self.name.as_ref().is_none_or(|n| &d.name() == n)
    }
}

impl std::fmt::Display for Select {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(t) = self.data_type {
            parts.push(format!("type {t}"));
        }
        if let Some(p) = self.part_type {
            parts.push(format!("partition type {p}"));
        }
        if let Some(g) = self.group {
            parts.push(match g {
                Some(g) => format!("group {g}"),
                None => "no group".into(),
            });
        }
        if let Some(i) = self.id {
            parts.push(format!("id {i}"));
        }
        if let Some(n) = &self.name {
            parts.push(format!("name {n:?}"));
        }
        if parts.is_empty() {
            f.write_str("any object")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

impl SifImage<File> {
    /// Opens and validates the SIF file at `path` read-only.
    ///
    /// # Errors
    /// [`Error::Io`] naming the path, or any validation error of [`SifImage::from_reader`].
    pub fn open(path: &Path) -> Result<SifImage<File>> {
        let f = File::open(path).map_err(|e| Error::io(format!("open {}", path.display()), e))?;
        SifImage::from_reader(f)
    }

    /// Opens read-write (for `add`, `del`, `setprim`).
    ///
    /// # Errors
    /// As [`SifImage::open`].
    pub fn open_rw(path: &Path) -> Result<SifImage<File>> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| Error::io(format!("open {} for writing", path.display()), e))?;
        SifImage::from_reader(f)
    }
}

fn bad(field: impl Into<String>, offset: u64, value: i64, why: impl Into<String>) -> Error {
    Error::BadField {
        field: field.into(),
        offset,
        value,
        why: why.into(),
    }
}

impl<R: Read + Seek> SifImage<R> {
    /// Reads and validates header and descriptor table.
    ///
    /// Checks, beyond the reference implementation (docs/reference/sif.md §2.9): the file holds the
    /// whole header and table; magic and version; `DescriptorsTotal` is not negative, at most
    /// [`MAX_DESCRIPTORS`] and fits in `DescriptorsSize`; every used object has a non-negative
    /// offset and size, lies inside the file and does not overlap the header or the table;
    /// ids are unique.
    ///
    /// # Errors
    /// [`Error::Truncated`], [`Error::BadMagic`], [`Error::UnsupportedVersion`],
    /// [`Error::BadField`], [`Error::Io`].
    pub fn from_reader(mut inner: R) -> Result<SifImage<R>> {
        let len = inner
            .seek(SeekFrom::End(0))
            .map_err(|e| Error::io("seek to end of SIF", e))?;
        if len < HEADER_LEN as u64 {
            return Err(Error::Truncated {
                region: "global header".into(),
                start: 0,
                end: HEADER_LEN as u64,
                len,
            });
        }
        let mut hb = [0u8; HEADER_LEN];
        inner
            .seek(SeekFrom::Start(0))
            .and_then(|_| inner.read_exact(&mut hb))
            .map_err(|e| Error::io("read SIF global header", e))?;
        let header = GlobalHeader::decode(&hb);
        if header.magic != MAGIC {
            return Err(Error::BadMagic {
                found: String::from_utf8_lossy(&header.magic).into_owned(),
            });
        }
        if header.version != VERSION {
            return Err(Error::UnsupportedVersion {
                found: String::from_utf8_lossy(&header.version)
                    .trim_end_matches('\0')
                    .to_string(),
            });
        }
        let total = header.descriptors_total;
        if total < 0 {
            return Err(bad("DescriptorsTotal", 88, total, "negative"));
        }
        if total > MAX_DESCRIPTORS {
            return Err(bad(
                "DescriptorsTotal",
                88,
                total,
                format!("more than the {MAX_DESCRIPTORS} descriptors supported"),
            ));
        }
        if header.descriptors_size < 0 {
            return Err(bad(
                "DescriptorsSize",
                104,
                header.descriptors_size,
                "negative",
            ));
        }
        let table_len = total * DESCRIPTOR_LEN as i64;
        if table_len > header.descriptors_size {
            return Err(bad(
                "DescriptorsTotal",
                88,
                total,
                format!(
                    "{total} descriptors need {table_len} bytes but DescriptorsSize is {}",
                    header.descriptors_size
                ),
            ));
        }
        let off = header.descriptors_offset;
        if off < HEADER_LEN as i64 {
            return Err(bad(
                "DescriptorsOffset",
                96,
                off,
                "the descriptor table would overlap the global header",
            ));
        }
        let table_end = off as i128 + table_len as i128;
        if table_end > len as i128 {
            return Err(Error::Truncated {
                region: "descriptor table".into(),
                start: off as u64,
                end: table_end.min(u64::MAX as i128) as u64,
                len,
            });
        }
        let mut table = vec![0u8; table_len as usize];
        inner
            .seek(SeekFrom::Start(off as u64))
            .and_then(|_| inner.read_exact(&mut table))
            .map_err(|e| Error::io("read SIF descriptor table", e))?;
        let slots: Vec<RawDescriptor> = table
            .chunks_exact(DESCRIPTOR_LEN)
            .map(RawDescriptor::decode)
            .collect();
        let reserved_end = table_end as u64;
        let mut ids = std::collections::HashSet::new();
        for (i, d) in slots.iter().enumerate() {
            if !d.is_used() {
                continue;
            }
            let at = off as u64 + (i * DESCRIPTOR_LEN) as u64;
            let field = |f: &str| format!("descriptor {} {f}", d.id);
            if !ids.insert(d.id) {
                return Err(bad(field("ID"), at + 5, d.id as i64, "duplicate object id"));
            }
            if d.offset < 0 {
                return Err(bad(field("Offset"), at + 17, d.offset, "negative"));
            }
            if d.size < 0 {
                return Err(bad(field("Size"), at + 25, d.size, "negative"));
            }
            let end = d.offset as i128 + d.size as i128;
            if end > len as i128 {
                return Err(Error::Truncated {
                    region: format!("data object {} ({})", d.id, DataType::from_raw(d.data_type)),
                    start: d.offset as u64,
                    end: end.min(u64::MAX as i128) as u64,
                    len,
                });
            }
            if d.size > 0 && (d.offset as u64) < reserved_end {
                return Err(bad(
                    field("Offset"),
                    at + 17,
                    d.offset,
                    format!("the object overlaps the header or descriptor table (which end at {reserved_end})"),
                ));
            }
        }
        Ok(SifImage {
            inner,
            header,
            slots,
            len,
        })
    }

    /// The global header.
    pub fn header(&self) -> &GlobalHeader {
        &self.header
    }

    /// File length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// `true` when the file has no used descriptor.
    pub fn is_empty(&self) -> bool {
        !self.slots.iter().any(RawDescriptor::is_used)
    }

    /// Every used descriptor, in table order.
    pub fn descriptors(&self) -> impl Iterator<Item = Descriptor> + '_ {
        self.slots
            .iter()
            .filter(|d| d.is_used())
            .map(|d| Descriptor { raw: d.clone() })
    }

    /// Every slot, used or not (for byte-exact rewriting).
    pub fn slots(&self) -> &[RawDescriptor] {
        &self.slots
    }

    /// The descriptors matching `s`.
    pub fn select(&self, s: &Select) -> Vec<Descriptor> {
        self.descriptors().filter(|d| s.matches(d)).collect()
    }

    /// The single descriptor matching `s`.
    ///
    /// # Errors
    /// [`Error::NotFound`] or [`Error::Ambiguous`].
    pub fn get(&self, s: &Select) -> Result<Descriptor> {
        let mut v = self.select(s);
        match v.len() {
            0 => Err(Error::NotFound(s.to_string())),
            1 => Ok(v.remove(0)),
            _ => Err(Error::Ambiguous {
                what: s.to_string(),
                ids: v.iter().map(Descriptor::id).collect(),
            }),
        }
    }

    /// The descriptor with `id`.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn by_id(&self, id: u32) -> Result<Descriptor> {
        self.get(&Select::all().id(id))
    }

    /// The primary system partition: the single partition of type PrimSys, checked against its
    /// bytes (squashfs magic `hsqs` and a known compression id; ext3 magic 0xEF53 at +1080),
    /// as Apptainer's runtime checks it (docs/reference/sif.md §2.9).
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Ambiguous`] (two primary partitions),
    /// [`Error::FsMismatch`].
    pub fn primary_system_partition(&mut self) -> Result<Descriptor> {
        let d = self.get(&Select::all().part_type(PartType::PrimSys))?;
        self.check_fs(&d)?;
        Ok(d)
    }

    /// Checks a partition's bytes against its declared filesystem type.
    ///
    /// # Errors
    /// [`Error::FsMismatch`].
    pub fn check_fs(&mut self, d: &Descriptor) -> Result<()> {
        let Some(p) = d.partition() else {
            return Ok(());
        };
        let mismatch = |why: String| Error::FsMismatch {
            id: d.id(),
            offset: d.offset(),
            declared: p.fs.to_string(),
            why,
        };
        match p.fs {
            FsType::Squash => {
                let mut sb = [0u8; 96];
                if d.size() < 96 {
                    return Err(mismatch(format!(
                        "only {} bytes, shorter than a squashfs superblock",
                        d.size()
                    )));
                }
                self.object_reader(d)
                    .read_exact(&mut sb)
                    .map_err(|e| Error::io(format!("read data object {}", d.id()), e))?;
                if &sb[0..4] != b"hsqs" {
                    return Err(mismatch(format!(
                        "magic {:?}, expected \"hsqs\"",
                        String::from_utf8_lossy(&sb[0..4])
                    )));
                }
                let comp = u16::from_le_bytes([sb[20], sb[21]]);
                if !(1..=6).contains(&comp) {
                    return Err(mismatch(format!("unknown squashfs compression id {comp}")));
                }
                let major = u16::from_le_bytes([sb[28], sb[29]]);
                if major != 4 {
                    return Err(mismatch(format!("squashfs version {major}, expected 4")));
                }
            }
            FsType::Ext3 => {
                let mut m = [0u8; 2];
                if d.size() < 1082 {
                    return Err(mismatch("shorter than an ext3 superblock".into()));
                }
                let mut r = self.object_reader(d);
                r.seek(SeekFrom::Start(1080))
                    .and_then(|_| r.read_exact(&mut m))
                    .map_err(|e| Error::io(format!("read data object {}", d.id()), e))?;
                if u16::from_le_bytes(m) != 0xEF53 {
                    return Err(mismatch("no ext2/3 magic 0xEF53 at +1080".into()));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A reader over exactly the bytes of `d`'s object; it never reads outside them.
    pub fn object_reader(&mut self, d: &Descriptor) -> ObjectReader<'_, R> {
        ObjectReader {
            inner: &mut self.inner,
            start: d.offset(),
            len: d.size(),
            pos: 0,
        }
    }

    /// Loads a (metadata) object into memory.
    ///
    /// # Errors
    /// [`Error::Invalid`] for objects above [`MAX_IN_MEMORY`]; [`Error::Io`].
    pub fn read_object(&mut self, d: &Descriptor) -> Result<Vec<u8>> {
        if d.size() > MAX_IN_MEMORY {
            return Err(Error::Invalid(format!(
                "data object {} is {} bytes, more than the {MAX_IN_MEMORY} read into memory",
                d.id(),
                d.size()
            )));
        }
        let mut v = Vec::with_capacity(d.size() as usize);
        self.object_reader(d)
            .read_to_end(&mut v)
            .map_err(|e| Error::io(format!("read data object {}", d.id()), e))?;
        Ok(v)
    }

    /// Copies object `d` to `out`; returns the number of bytes.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn copy_object(&mut self, d: &Descriptor, out: &mut dyn Write) -> Result<u64> {
        std::io::copy(&mut self.object_reader(d), out)
            .map_err(|e| Error::io(format!("copy data object {}", d.id()), e))
    }

    /// Writes the file again from its parsed parts: header, table, objects at their offsets
    /// and zeros elsewhere, up to the original length. For every well-formed image the result
    /// is byte-identical to the input (the round-trip property the tests check).
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn rewrite(&mut self, out: &mut dyn Write) -> Result<()> {
        let io = |e| Error::io("rewrite SIF", e);
        let mut pos = 0u64;
        let zeros = vec![0u8; 64 * 1024];
        let pad = |out: &mut dyn Write, pos: &mut u64, to: u64| -> std::io::Result<()> {
            while *pos < to {
                let n = (to - *pos).min(zeros.len() as u64) as usize;
                out.write_all(&zeros[..n])?;
                *pos += n as u64;
            }
            Ok(())
        };
        out.write_all(&self.header.encode()).map_err(io)?;
        pos += HEADER_LEN as u64;
        pad(out, &mut pos, self.header.descriptors_offset as u64).map_err(io)?;
        for s in &self.slots {
            out.write_all(&s.encode()).map_err(io)?;
            pos += DESCRIPTOR_LEN as u64;
        }
        let mut objs: Vec<Descriptor> = self.descriptors().collect();
        objs.sort_by_key(|d| d.offset());
        for d in objs {
            if d.offset() < pos {
                // Overlapping objects: already written.
                continue;
            }
            pad(out, &mut pos, d.offset()).map_err(io)?;
            pos += self.copy_object(&d, out)?;
        }
        pad(out, &mut pos, self.len).map_err(io)?;
        Ok(())
    }

    /// Gives the underlying reader back.
    pub fn into_inner(self) -> R {
        self.inner
    }

    pub(super) fn parts_mut(
        &mut self,
    ) -> (&mut R, &mut GlobalHeader, &mut Vec<RawDescriptor>, &mut u64) {
        (
            &mut self.inner,
            &mut self.header,
            &mut self.slots,
            &mut self.len,
        )
    }
}

/// `Read + Seek` over one object's bytes; position 0 is the object's first byte and reads stop
/// at its end, whatever follows in the file.
pub struct ObjectReader<'a, R> {
    inner: &'a mut R,
    start: u64,
    len: u64,
    pos: u64,
}

impl<R: Read + Seek> Read for ObjectReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.len {
            return Ok(0);
        }
        let n = (buf.len() as u64).min(self.len - self.pos) as usize;
        self.inner.seek(SeekFrom::Start(self.start + self.pos))?;
        let got = self.inner.read(&mut buf[..n])?;
        self.pos += got as u64;
        Ok(got)
    }
}

impl<R: Read + Seek> Seek for ObjectReader<'_, R> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let new = match to {
            SeekFrom::Start(n) => n as i128,
            SeekFrom::End(n) => self.len as i128 + n as i128,
            SeekFrom::Current(n) => self.pos as i128 + n as i128,
        };
        if new < 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before the start of the data object",
            ));
        }
        self.pos = new.min(u64::MAX as i128) as u64;
        Ok(self.pos)
    }
}
