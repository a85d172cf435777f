//! The on-disk structures: the 128-byte global header and the 585-byte descriptor, decoded
//! and encoded field by field in little-endian at the offsets of docs/reference/sif.md §2.1–2.3. Raw bytes
//! (launch script, name, extra) are kept verbatim so that re-encoding is byte-exact.

use super::types::{Arch, DataType, FsType, HashType, PartType};

/// Size of the global header.
pub const HEADER_LEN: usize = 128;
/// Size of one descriptor.
pub const DESCRIPTOR_LEN: usize = 585;
/// `SIF_MAGIC\0`.
pub const MAGIC: [u8; 10] = *b"SIF_MAGIC\0";
/// The only version accepted: `01\0`.
pub const VERSION: [u8; 3] = *b"01\0";
/// Group ids and group links are stored OR'ed with this mask; the mask alone means "none".
pub const GROUP_MASK: u32 = 0xF000_0000;
/// Go's zero `time.Time` as Unix seconds: what deterministic images store (shown as unset).
pub const GO_ZERO_TIME: i64 = -62_135_596_800;

fn le_i64(b: &[u8], at: usize) -> i64 {
    i64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}
fn le_i32(b: &[u8], at: usize) -> i32 {
    i32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// The global header (docs/reference/sif.md §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalHeader {
    /// Offset 0: NUL-padded launch script.
    pub launch_script: [u8; 32],
    /// Offset 32: magic.
    pub magic: [u8; 10],
    /// Offset 42: version.
    pub version: [u8; 3],
    /// Offset 45: primary architecture.
    pub arch: Arch,
    /// Offset 48: UUID, RFC 4122 byte order.
    pub id: [u8; 16],
    /// Offset 64: creation time (Unix seconds).
    pub created_at: i64,
    /// Offset 72: modification time.
    pub modified_at: i64,
    /// Offset 80: unused descriptors.
    pub descriptors_free: i64,
    /// Offset 88: descriptor capacity.
    pub descriptors_total: i64,
    /// Offset 96: file offset of the descriptor table.
    pub descriptors_offset: i64,
    /// Offset 104: size of the table in bytes.
    pub descriptors_size: i64,
    /// Offset 112: start of the data region.
    pub data_offset: i64,
    /// Offset 120: bytes of data ever appended (padding included).
    pub data_size: i64,
}

impl GlobalHeader {
    /// Decodes 128 bytes (no validation; see `SifImage::from_reader`).
    pub fn decode(b: &[u8; HEADER_LEN]) -> GlobalHeader {
        GlobalHeader {
            launch_script: b[0..32].try_into().expect("32"),
            magic: b[32..42].try_into().expect("10"),
            version: b[42..45].try_into().expect("3"),
            arch: Arch(b[45..48].try_into().expect("3")),
            id: b[48..64].try_into().expect("16"),
            created_at: le_i64(b, 64),
            modified_at: le_i64(b, 72),
            descriptors_free: le_i64(b, 80),
            descriptors_total: le_i64(b, 88),
            descriptors_offset: le_i64(b, 96),
            descriptors_size: le_i64(b, 104),
            data_offset: le_i64(b, 112),
            data_size: le_i64(b, 120),
        }
    }

    /// Encodes to 128 bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..32].copy_from_slice(&self.launch_script);
        b[32..42].copy_from_slice(&self.magic);
        b[42..45].copy_from_slice(&self.version);
        b[45..48].copy_from_slice(&self.arch.0);
        b[48..64].copy_from_slice(&self.id);
        for (at, v) in [
            (64, self.created_at),
            (72, self.modified_at),
            (80, self.descriptors_free),
            (88, self.descriptors_total),
            (96, self.descriptors_offset),
            (104, self.descriptors_size),
            (112, self.data_offset),
            (120, self.data_size),
        ] {
            b[at..at + 8].copy_from_slice(&v.to_le_bytes());
        }
        b
    }

    /// The launch script without its NUL padding (`#!/usr/bin/env run-singularity\n`).
    pub fn launch_script(&self) -> String {
        let end = self
            .launch_script
            .iter()
            .position(|c| *c == 0)
            .unwrap_or(32);
        String::from_utf8_lossy(&self.launch_script[..end]).into_owned()
    }

    /// The UUID in its canonical text form.
    pub fn uuid(&self) -> String {
        uuid_text(&self.id)
    }
}

/// Formats 16 bytes as `8-4-4-4-12` lowercase hex.
pub fn uuid_text(id: &[u8; 16]) -> String {
    let h: String = id.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// One descriptor as stored (docs/reference/sif.md §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDescriptor {
    /// +0 data type.
    pub data_type: i32,
    /// +4 used flag (the raw byte, kept for exact re-encoding).
    pub used: u8,
    /// +5 id (slot index + 1).
    pub id: u32,
    /// +9 group id, OR'ed with [`GROUP_MASK`].
    pub group_id: u32,
    /// +13 link: an object id, or a group OR'ed with [`GROUP_MASK`], or 0.
    pub linked_id: u32,
    /// +17 absolute file offset of the data.
    pub offset: i64,
    /// +25 data length.
    pub size: i64,
    /// +33 padding before the object plus its size (unreliable in v1 images).
    pub size_with_padding: i64,
    /// +41 creation time.
    pub created_at: i64,
    /// +49 modification time.
    pub modified_at: i64,
    /// +57 deprecated uid (covered by signatures).
    pub uid: i64,
    /// +65 deprecated gid.
    pub gid: i64,
    /// +73 NUL-padded name.
    pub name: [u8; 128],
    /// +201 type-specific extra data.
    pub extra: [u8; 384],
}

impl Default for RawDescriptor {
    fn default() -> Self {
        RawDescriptor {
            data_type: 0,
            used: 0,
            id: 0,
            group_id: 0,
            linked_id: 0,
            offset: 0,
            size: 0,
            size_with_padding: 0,
            created_at: 0,
            modified_at: 0,
            uid: 0,
            gid: 0,
            name: [0; 128],
            extra: [0; 384],
        }
    }
}

impl RawDescriptor {
    /// Decodes 585 bytes.
    pub fn decode(b: &[u8]) -> RawDescriptor {
        debug_assert!(b.len() >= DESCRIPTOR_LEN);
        RawDescriptor {
            data_type: le_i32(b, 0),
            used: b[4],
            id: le_u32(b, 5),
            group_id: le_u32(b, 9),
            linked_id: le_u32(b, 13),
            offset: le_i64(b, 17),
            size: le_i64(b, 25),
            size_with_padding: le_i64(b, 33),
            created_at: le_i64(b, 41),
            modified_at: le_i64(b, 49),
            uid: le_i64(b, 57),
            gid: le_i64(b, 65),
            name: b[73..201].try_into().expect("128"),
            extra: b[201..585].try_into().expect("384"),
        }
    }

    /// Encodes to 585 bytes.
    pub fn encode(&self) -> [u8; DESCRIPTOR_LEN] {
        let mut b = [0u8; DESCRIPTOR_LEN];
        b[0..4].copy_from_slice(&self.data_type.to_le_bytes());
        b[4] = self.used;
        b[5..9].copy_from_slice(&self.id.to_le_bytes());
        b[9..13].copy_from_slice(&self.group_id.to_le_bytes());
        b[13..17].copy_from_slice(&self.linked_id.to_le_bytes());
        for (at, v) in [
            (17, self.offset),
            (25, self.size),
            (33, self.size_with_padding),
            (41, self.created_at),
            (49, self.modified_at),
            (57, self.uid),
            (65, self.gid),
        ] {
            b[at..at + 8].copy_from_slice(&v.to_le_bytes());
        }
        b[73..201].copy_from_slice(&self.name);
        b[201..585].copy_from_slice(&self.extra);
        b
    }

    /// `true` for a used slot.
    pub fn is_used(&self) -> bool {
        self.used != 0
    }
}

/// A link from one object to another object or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// No link.
    None,
    /// Linked to the object with this id.
    Object(u32),
    /// Linked to a group (signatures link to the group they cover).
    Group(u32),
}

impl Link {
    /// Decodes the stored value.
    pub fn from_raw(v: u32) -> Link {
        let id = v & !GROUP_MASK;
        if id == 0 {
            Link::None
        } else if v & GROUP_MASK == GROUP_MASK {
            Link::Group(id)
        } else {
            Link::Object(id)
        }
    }

    /// Encodes for storage.
    pub fn raw(self) -> u32 {
        match self {
            Link::None => 0,
            Link::Object(id) => id,
            Link::Group(g) => g | GROUP_MASK,
        }
    }
}

/// Partition metadata (partition extra).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionInfo {
    /// Filesystem type.
    pub fs: FsType,
    /// Partition type.
    pub part: PartType,
    /// Architecture.
    pub arch: Arch,
}

impl PartitionInfo {
    /// Decodes from an extra field.
    pub fn decode(extra: &[u8; 384]) -> PartitionInfo {
        PartitionInfo {
            fs: FsType::from_raw(le_i32(extra, 0)),
            part: PartType::from_raw(le_i32(extra, 4)),
            arch: Arch(extra[8..11].try_into().expect("3")),
        }
    }

    /// Encodes into a fresh extra field.
    pub fn encode(&self) -> [u8; 384] {
        let mut e = [0u8; 384];
        e[0..4].copy_from_slice(&self.fs.raw().to_le_bytes());
        e[4..8].copy_from_slice(&self.part.raw().to_le_bytes());
        e[8..11].copy_from_slice(&self.arch.0);
        e
    }
}

/// A descriptor in the public view: decoded accessors over the raw record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    /// The stored record.
    pub raw: RawDescriptor,
}

impl Descriptor {
    /// Object id (≥ 1).
    pub fn id(&self) -> u32 {
        self.raw.id
    }
    /// Data type.
    pub fn data_type(&self) -> DataType {
        DataType::from_raw(self.raw.data_type)
    }
    /// Group number, or `None` for "no group".
    pub fn group(&self) -> Option<u32> {
        Some(self.raw.group_id & !GROUP_MASK).filter(|g| *g != 0)
    }
    /// Link.
    pub fn link(&self) -> Link {
        Link::from_raw(self.raw.linked_id)
    }
    /// Absolute data offset.
    pub fn offset(&self) -> u64 {
        self.raw.offset as u64
    }
    /// Data size.
    pub fn size(&self) -> u64 {
        self.raw.size as u64
    }
    /// Name without NUL padding.
    pub fn name(&self) -> String {
        let end = self.raw.name.iter().position(|c| *c == 0).unwrap_or(128);
        String::from_utf8_lossy(&self.raw.name[..end]).into_owned()
    }
    /// Creation time, `None` when unset (Go's zero time).
    pub fn created_at(&self) -> Option<i64> {
        Some(self.raw.created_at).filter(|t| *t != GO_ZERO_TIME)
    }
    /// Modification time, `None` when unset.
    pub fn modified_at(&self) -> Option<i64> {
        Some(self.raw.modified_at).filter(|t| *t != GO_ZERO_TIME)
    }
    /// Partition metadata (partitions only).
    pub fn partition(&self) -> Option<PartitionInfo> {
        (self.data_type() == DataType::Partition).then(|| PartitionInfo::decode(&self.raw.extra))
    }
    /// Signature hash and the 20-byte PGP fingerprint when present (signatures only).
    pub fn signature(&self) -> Option<(HashType, Option<[u8; 20]>)> {
        if self.data_type() != DataType::Signature {
            return None;
        }
        let ht = HashType::from_raw(le_i32(&self.raw.extra, 0));
        let fp: [u8; 20] = self.raw.extra[4..24].try_into().expect("20");
        Some((ht, (fp != [0u8; 20]).then_some(fp)))
    }
    /// Crypto message format and type (crypto messages only).
    pub fn crypto_message(&self) -> Option<(super::types::FormatType, super::types::MessageType)> {
        (self.data_type() == DataType::CryptoMessage).then(|| {
            (
                super::types::FormatType::from_raw(le_i32(&self.raw.extra, 0)),
                super::types::MessageType::from_raw(le_i32(&self.raw.extra, 4)),
            )
        })
    }
    /// SBOM format (SBOMs only).
    pub fn sbom_format(&self) -> Option<super::types::SbomFormat> {
        (self.data_type() == DataType::Sbom)
            .then(|| super::types::SbomFormat::from_raw(le_i32(&self.raw.extra, 0)))
    }
    /// The digest an OCI.RootIndex or OCI.Blob object records for its data: the extra field's
    /// text up to the first NUL, `sha256:<hex>` (docs/reference/sif.md §4); `None` for other
    /// types or text that is not a digest.
    pub fn oci_blob_digest(&self) -> Option<String> {
        if !matches!(self.data_type(), DataType::OciRootIndex | DataType::OciBlob) {
            return None;
        }
        let end = self.raw.extra.iter().position(|&b| b == 0).unwrap_or(384);
        let text = std::str::from_utf8(&self.raw.extra[..end]).ok()?;
        let (alg, hex) = text.split_once(':')?;
        let ok = alg == "sha256"
            && hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| text.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_raw() -> impl Strategy<Value = RawDescriptor> {
        (
            any::<i32>(),
            any::<u8>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<[i64; 7]>(),
            proptest::collection::vec(any::<u8>(), 128),
            proptest::collection::vec(any::<u8>(), 384),
        )
            .prop_map(|(dt, used, id, g, l, n, name, extra)| RawDescriptor {
                data_type: dt,
                used,
                id,
                group_id: g,
                linked_id: l,
                offset: n[0],
                size: n[1],
                size_with_padding: n[2],
                created_at: n[3],
                modified_at: n[4],
                uid: n[5],
                gid: n[6],
                name: name.try_into().unwrap(),
                extra: extra.try_into().unwrap(),
            })
    }

    proptest! {
        #[test]
        fn descriptor_encode_decode(d in arb_raw()) {
            let b = d.encode();
            prop_assert_eq!(RawDescriptor::decode(&b), d);
        }

        #[test]
        fn header_encode_decode(bytes in proptest::collection::vec(any::<u8>(), 128)) {
            let b: [u8; 128] = bytes.try_into().unwrap();
            let h = GlobalHeader::decode(&b);
            prop_assert_eq!(h.encode(), b);
        }

        #[test]
        fn links_roundtrip(v in any::<u32>()) {
            let l = Link::from_raw(v);
            if l != Link::None {
                prop_assert_eq!(Link::from_raw(l.raw()), l);
            }
        }
    }

    #[test]
    fn partition_extra() {
        let p = PartitionInfo {
            fs: FsType::Squash,
            part: PartType::PrimSys,
            arch: Arch(*b"02\0"),
        };
        let e = p.encode();
        assert_eq!(&e[..11], &[1, 0, 0, 0, 2, 0, 0, 0, b'0', b'2', 0]);
        assert_eq!(PartitionInfo::decode(&e), p);
    }

    #[test]
    fn uuid_format() {
        let id = [
            0x4f, 0x30, 0x7b, 0x4c, 0x58, 0xa8, 0x47, 0x53, 0x9c, 0x0f, 0x21, 0xdc, 0xee, 0xfe,
            0xd4, 0xa6,
        ];
        assert_eq!(uuid_text(&id), "4f307b4c-58a8-4753-9c0f-21dceefed4a6");
    }
}
