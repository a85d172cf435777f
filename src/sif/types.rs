//! SIF constants and enumerations (docs/reference/sif.md §2.4, §2.5), with the labels siftool prints.

use std::fmt;

/// A data object's type (descriptor offset 0, int32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    /// 0x4001: the definition file.
    Deffile,
    /// 0x4002: environment variables.
    EnvVar,
    /// 0x4003: JSON labels.
    Labels,
    /// 0x4004: a filesystem partition.
    Partition,
    /// 0x4005: a signature.
    Signature,
    /// 0x4006: generic JSON (`inspect-metadata.json`, `oci-config.json`).
    GenericJson,
    /// 0x4007: generic raw data.
    Generic,
    /// 0x4008: a cryptographic message (e.g. a wrapped key).
    CryptoMessage,
    /// 0x4009: a software bill of materials.
    Sbom,
    /// 0x400A: OCI root index (sif ≥ 2.12).
    OciRootIndex,
    /// 0x400B: OCI blob (sif ≥ 2.12).
    OciBlob,
    /// Any other value: kept and listed, never rejected.
    Unknown(i32),
}

impl DataType {
    /// From the on-disk value.
    pub fn from_raw(v: i32) -> DataType {
        match v {
            0x4001 => DataType::Deffile,
            0x4002 => DataType::EnvVar,
            0x4003 => DataType::Labels,
            0x4004 => DataType::Partition,
            0x4005 => DataType::Signature,
            0x4006 => DataType::GenericJson,
            0x4007 => DataType::Generic,
            0x4008 => DataType::CryptoMessage,
            0x4009 => DataType::Sbom,
            0x400A => DataType::OciRootIndex,
            0x400B => DataType::OciBlob,
            other => DataType::Unknown(other),
        }
    }

    /// The on-disk value.
    pub fn raw(self) -> i32 {
        match self {
            DataType::Deffile => 0x4001,
            DataType::EnvVar => 0x4002,
            DataType::Labels => 0x4003,
            DataType::Partition => 0x4004,
            DataType::Signature => 0x4005,
            DataType::GenericJson => 0x4006,
            DataType::Generic => 0x4007,
            DataType::CryptoMessage => 0x4008,
            DataType::Sbom => 0x4009,
            DataType::OciRootIndex => 0x400A,
            DataType::OciBlob => 0x400B,
            DataType::Unknown(v) => v,
        }
    }

    /// siftool's `--datatype N` numbering (1..9); OCI types get 10 and 11.
    pub fn from_siftool_number(n: u32) -> Option<DataType> {
        (1..=11)
            .contains(&n)
            .then(|| DataType::from_raw(0x4000 + n as i32))
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DataType::Deffile => "Def.FILE",
            DataType::EnvVar => "Env.Vars",
            DataType::Labels => "JSON.Labels",
            DataType::Partition => "FS",
            DataType::Signature => "Signature",
            DataType::GenericJson => "JSON.Generic",
            DataType::Generic => "Generic/Raw",
            DataType::CryptoMessage => "Cryptographic Message",
            DataType::Sbom => "SBOM",
            DataType::OciRootIndex => "OCI.RootIndex",
            DataType::OciBlob => "OCI.Blob",
            DataType::Unknown(_) => "Unknown",
        })
    }
}

macro_rules! int_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $n:expr => $label:expr),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vm])* $v,)*
            /// A value this implementation does not know.
            Unknown(i32),
        }
        impl $name {
            /// From the on-disk value.
            pub fn from_raw(v: i32) -> Self {
                match v { $($n => $name::$v,)* other => $name::Unknown(other) }
            }
            /// The on-disk value.
            pub fn raw(self) -> i32 {
                match self { $($name::$v => $n,)* $name::Unknown(v) => v }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(match self { $($name::$v => $label,)* $name::Unknown(_) => "Unknown" })
            }
        }
    };
}

int_enum!(
    /// Partition filesystem type (partition extra +0).
    FsType {
        /// Squashfs (read-only).
        Squash = 1 => "Squashfs",
        /// ext3 (writable overlays).
        Ext3 = 2 => "Ext3",
        /// Immutable object archive.
        ImmuObj = 3 => "Archive",
        /// Raw data.
        Raw = 4 => "Raw",
        /// dm-crypt encrypted squashfs.
        EncryptedSquashfs = 5 => "Encrypted squashfs",
        /// gocryptfs squashfs (apptainer/sif fork).
        GocryptfsSquashfs = 6 => "Gocryptfs squashfs",
    }
);

int_enum!(
    /// Partition type (partition extra +4).
    PartType {
        /// A system partition.
        System = 1 => "System",
        /// The primary system partition (the container's rootfs).
        PrimSys = 2 => "*System",
        /// A data partition.
        Data = 3 => "Data",
        /// An overlay partition.
        Overlay = 4 => "Overlay",
    }
);

int_enum!(
    /// Signature hash (signature extra +0).
    HashType {
        /// SHA-256.
        Sha256 = 1 => "SHA-256",
        /// SHA-384.
        Sha384 = 2 => "SHA-384",
        /// SHA-512.
        Sha512 = 3 => "SHA-512",
        /// BLAKE2s-256.
        Blake2s256 = 4 => "BLAKE2s-256",
        /// BLAKE2b-256.
        Blake2b256 = 5 => "BLAKE2b-256",
    }
);

int_enum!(
    /// Cryptographic message format (crypto extra +0).
    FormatType {
        /// OpenPGP.
        OpenPgp = 1 => "OpenPGP",
        /// PEM.
        Pem = 2 => "PEM",
    }
);

int_enum!(
    /// Cryptographic message kind (crypto extra +4).
    MessageType {
        /// An OpenPGP clear signature.
        ClearSignature = 0x100 => "Clear Signature",
        /// An RSA-OAEP wrapped key.
        RsaOaep = 0x200 => "RSA-OAEP",
    }
);

int_enum!(
    /// SBOM format (SBOM extra +0).
    SbomFormat {
        /// CycloneDX JSON.
        CycloneDxJson = 1 => "cyclonedx-json",
        /// CycloneDX XML.
        CycloneDxXml = 2 => "cyclonedx-xml",
        /// GitHub dependency snapshot JSON.
        GitHubJson = 3 => "github-json",
        /// SPDX JSON.
        SpdxJson = 4 => "spdx-json",
        /// SPDX RDF.
        SpdxRdf = 5 => "spdx-rdf",
        /// SPDX tag/value.
        SpdxTagValue = 6 => "spdx-tag-value",
        /// SPDX YAML.
        SpdxYaml = 7 => "spdx-yaml",
        /// Syft JSON.
        SyftJson = 8 => "syft-json",
    }
);

impl SbomFormat {
    /// Parses siftool's `--sbomformat` names.
    pub fn from_name(s: &str) -> Option<SbomFormat> {
        (1..=8)
            .map(SbomFormat::from_raw)
            .find(|f| f.to_string() == s)
    }
}

/// The 3-byte architecture code of the header and of partitions (`"02\0"` = amd64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Arch(pub [u8; 3]);

/// Go architecture names by code number (docs/reference/sif.md §2.5); index 0 is "unknown".
const ARCH_NAMES: [&str; 14] = [
    "unknown", "386", "amd64", "arm", "arm64", "ppc64", "ppc64le", "mips", "mipsle", "mips64",
    "mips64le", "s390x", "riscv64", "loong64",
];

impl Arch {
    /// `"00"`: unknown.
    pub const UNKNOWN: Arch = Arch(*b"00\0");

    /// From a code number (1 = 386, 2 = amd64 … 13 = loong64).
    pub fn from_number(n: u32) -> Option<Arch> {
        (1..ARCH_NAMES.len() as u32).contains(&n).then(|| {
            let s = format!("{n:02}");
            let b = s.as_bytes();
            Arch([b[0], b[1], 0])
        })
    }

    /// From a Go architecture name (`amd64`, `arm64` …).
    pub fn from_go_name(name: &str) -> Option<Arch> {
        ARCH_NAMES
            .iter()
            .position(|n| *n == name)
            .filter(|i| *i > 0)
            .and_then(|i| Arch::from_number(i as u32))
    }

    /// The Go architecture name, `unknown` for codes this implementation does not know.
    pub fn go_name(&self) -> &'static str {
        if self.0[2] != 0 || !self.0[0].is_ascii_digit() || !self.0[1].is_ascii_digit() {
            return "unknown";
        }
        let n = ((self.0[0] - b'0') * 10 + (self.0[1] - b'0')) as usize;
        ARCH_NAMES.get(n).copied().unwrap_or("unknown")
    }

    /// The architecture of the running host.
    pub fn host() -> Arch {
        let name = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "x86" => "386",
            "aarch64" => "arm64",
            "arm" => "arm",
            "powerpc64" => {
                if cfg!(target_endian = "little") {
                    "ppc64le"
                } else {
                    "ppc64"
                }
            }
            "s390x" => "s390x",
            "riscv64" => "riscv64",
            "loongarch64" => "loong64",
            _ => "unknown",
        };
        Arch::from_go_name(name).unwrap_or(Arch::UNKNOWN)
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.go_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_types_roundtrip() {
        for v in 0x4000..0x4010 {
            assert_eq!(DataType::from_raw(v).raw(), v);
        }
        assert_eq!(DataType::Partition.to_string(), "FS");
        assert_eq!(DataType::from_siftool_number(4), Some(DataType::Partition));
        assert_eq!(DataType::from_siftool_number(0), None);
    }

    #[test]
    fn arches() {
        assert_eq!(Arch::from_number(2).unwrap(), Arch(*b"02\0"));
        assert_eq!(Arch(*b"06\0").go_name(), "ppc64le");
        assert_eq!(Arch::from_go_name("riscv64").unwrap().0, *b"12\0");
        assert_eq!(Arch(*b"amd").go_name(), "unknown");
        assert_eq!(Arch::UNKNOWN.go_name(), "unknown");
        assert_eq!(
            SbomFormat::from_name("spdx-json"),
            Some(SbomFormat::SpdxJson)
        );
    }
}
