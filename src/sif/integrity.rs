//! SIF signatures: what `sign` writes and `verify` checks, byte-compatible with the SIF
//! integrity library of sylabs/sif v2 (`pkg/integrity`) that SingularityCE and Apptainer use
//! (docs/reference/sif.md §2.10).
//!
//! ```text
//! group G's objects ──► image metadata JSON ──► envelope ──► Signature object
//!   header digest       {"version":1,            PGP clear-signed      no group,
//!   per object:          "header":{"digest":…},  (RFC 4880 §7), or     linked to G|0xF0000000,
//!   descriptor digest    "objects":[…]}          DSSE (PEM keys)       extra: hash type +
//!   object digest                                                      PGP fingerprint
//! ```
//!
//! * The header digest covers the launch script, magic, version and image id; a descriptor
//!   digest covers its type, used flag, group-relative id, link, size, creation time,
//!   uid, gid, name and extra ([`header_integrity`], [`descriptor_integrity`]); an object
//!   digest its bytes. One signature per object group covers every object of the group.
//! * Legacy signatures (Singularity < 3.6) clear-sign `SIFHASH:\n<hex>`, a digest of the data
//!   only; header and descriptors are unprotected, so they are checked only when asked
//!   (`--legacy-insecure`), as Apptainer does.
//! * [`verify`] recomputes every digest and checks each signature with the given keys
//!   (OpenPGP through the `pgp` crate; DSSE with Ed25519, RSA PKCS#1 v1.5 or ECDSA P-256
//!   public keys, through `ed25519-dalek`, `rsa` and `p256`). [`sign_pgp`] and [`sign_dsse`]
//!   append signature objects. No cryptography is written here.

use std::io::{Read, Seek};

use base64::Engine as _;
use pgp::composed::{CleartextSignedMessage, Deserializable, SignedPublicKey, SignedSecretKey};
use pgp::types::{KeyDetails, Password};
use serde::{Deserialize, Serialize};
use sha2::digest::DynDigest;

use super::format::{Descriptor, GlobalHeader, Link, RawDescriptor};
use super::image::{SifImage, MAX_IN_MEMORY};
use super::types::{DataType, HashType, PartType};
use super::write::{Extra, ObjectInput, Source};

/// What can go wrong reading, checking or writing signatures. Each names the object or the
/// key concerned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The SIF itself could not be read or written.
    #[error(transparent)]
    Sif(#[from] super::Error),
    /// A key file or keyring that cannot be used.
    #[error("{what}: {why}")]
    Key {
        /// The file, or a description of the key.
        what: String,
        /// Why.
        why: String,
    },
    /// Nothing to sign or verify.
    #[error("{0}")]
    Selection(String),
    /// Signing failed in the OpenPGP or DSSE layer.
    #[error("signing: {0}")]
    Sign(String),
}

/// `Result` of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// The digest algorithms a signature's JSON may name (Go's `crypto.Hash` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `sha224`.
    Sha224,
    /// `sha256` (what signers write).
    Sha256,
    /// `sha384`.
    Sha384,
    /// `sha512`.
    Sha512,
    /// `sha512_224`.
    Sha512_224,
    /// `sha512_256`.
    Sha512_256,
}

impl Algorithm {
    const ALL: [(Algorithm, &'static str); 6] = [
        (Algorithm::Sha224, "sha224"),
        (Algorithm::Sha256, "sha256"),
        (Algorithm::Sha384, "sha384"),
        (Algorithm::Sha512, "sha512"),
        (Algorithm::Sha512_224, "sha512_224"),
        (Algorithm::Sha512_256, "sha512_256"),
    ];

    fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(a, _)| *a == self)
            .expect("listed")
            .1
    }

    fn hasher(self) -> Box<dyn DynDigest> {
        match self {
            Algorithm::Sha224 => Box::new(sha2::Sha224::default()),
            Algorithm::Sha256 => Box::new(sha2::Sha256::default()),
            Algorithm::Sha384 => Box::new(sha2::Sha384::default()),
            Algorithm::Sha512 => Box::new(sha2::Sha512::default()),
            Algorithm::Sha512_224 => Box::new(sha2::Sha512_224::default()),
            Algorithm::Sha512_256 => Box::new(sha2::Sha512_256::default()),
        }
    }

    /// The algorithm of a legacy signature's descriptor hash type.
    fn of_hash_type(h: HashType) -> Option<Algorithm> {
        match h {
            HashType::Sha256 => Some(Algorithm::Sha256),
            HashType::Sha384 => Some(Algorithm::Sha384),
            HashType::Sha512 => Some(Algorithm::Sha512),
            _ => None,
        }
    }
}

/// A digest as the JSON spells it: `"<algorithm>:<hex>"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The value (the algorithm's length).
    pub value: Vec<u8>,
}

impl Digest {
    fn of(algorithm: Algorithm, mut r: impl Read) -> std::io::Result<Digest> {
        let mut h = algorithm.hasher();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = r.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(Digest {
            algorithm,
            value: h.finalize().to_vec(),
        })
    }

    fn of_bytes(algorithm: Algorithm, b: &[u8]) -> Digest {
        Digest::of(algorithm, b).expect("reading memory")
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), hex::encode(&self.value))
    }
}

impl Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Digest, D::Error> {
        use serde::de::Error as _;
        let s = String::deserialize(d)?;
        let (name, v) = s
            .split_once(':')
            .ok_or_else(|| D::Error::custom(format!("digest {s:?}: no ':'")))?;
        let algorithm = Algorithm::ALL
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(a, _)| *a)
            .ok_or_else(|| D::Error::custom(format!("digest {s:?}: unsupported algorithm")))?;
        let value = hex::decode(v).map_err(|e| D::Error::custom(format!("digest {s:?}: {e}")))?;
        if value.len() != algorithm.hasher().output_size() {
            return Err(D::Error::custom(format!("digest {s:?}: wrong length")));
        }
        Ok(Digest { algorithm, value })
    }
}

/// The signed JSON of one object group (`imageMetadata` of `pkg/integrity`, version 1).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Metadata {
    /// Always 1.
    pub version: u32,
    /// The header's digest.
    pub header: HeaderMetadata,
    /// One entry per object of the group, in id order.
    pub objects: Vec<ObjectMetadata>,
}

/// `{"digest": …}` of the header's integrity fields.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HeaderMetadata {
    /// Digest of [`header_integrity`].
    pub digest: Digest,
}

/// One object's entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMetadata {
    /// Id relative to the lowest id of the group.
    pub relative_id: u32,
    /// Digest of [`descriptor_integrity`].
    pub descriptor_digest: Digest,
    /// Digest of the object's bytes.
    pub object_digest: Digest,
}

/// The header bytes a signature covers: launch script (32), magic (10), version (3), id (16).
pub fn header_integrity(h: &GlobalHeader) -> Vec<u8> {
    [&h.launch_script[..], &h.magic, &h.version, &h.id].concat()
}

/// The descriptor bytes a signature covers (little-endian): type i32, used u8, relative id
/// u32, link u32, size i64, creation time i64, uid i64, gid i64, name (128), extra (384).
pub fn descriptor_integrity(d: &RawDescriptor, relative_id: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity(549);
    v.extend_from_slice(&d.data_type.to_le_bytes());
    v.push(d.used);
    v.extend_from_slice(&relative_id.to_le_bytes());
    v.extend_from_slice(&d.linked_id.to_le_bytes());
    for n in [d.size, d.created_at, d.uid, d.gid] {
        v.extend_from_slice(&n.to_le_bytes());
    }
    v.extend_from_slice(&d.name);
    v.extend_from_slice(&d.extra);
    v
}

/// The non-signature objects of group `g`, in id order.
fn group_objects<R: Read + Seek>(img: &SifImage<R>, g: u32) -> Vec<Descriptor> {
    let mut v: Vec<Descriptor> = img.descriptors().filter(|d| d.group() == Some(g)).collect();
    v.sort_by_key(Descriptor::id);
    v
}

/// Every object group, ascending.
pub fn groups<R: Read + Seek>(img: &SifImage<R>) -> Vec<u32> {
    let mut v: Vec<u32> = img.descriptors().filter_map(|d| d.group()).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Computes the metadata of group `g` with `algorithm`.
///
/// # Errors
/// [`Error::Selection`] for an empty group; [`Error::Sif`] reading an object.
pub fn metadata<R: Read + Seek>(
    img: &mut SifImage<R>,
    g: u32,
    algorithm: Algorithm,
) -> Result<Metadata> {
    let objects = group_objects(img, g);
    let min = objects
        .first()
        .map(Descriptor::id)
        .ok_or_else(|| Error::Selection(format!("object group {g} does not exist")))?;
    let header = HeaderMetadata {
        digest: Digest::of_bytes(algorithm, &header_integrity(img.header())),
    };
    let mut out = Vec::new();
    for d in &objects {
        let rel = d.id() - min;
        let object_digest = Digest::of(algorithm, img.object_reader(d))
            .map_err(|e| super::Error::io(format!("read data object {}", d.id()), e))?;
        out.push(ObjectMetadata {
            relative_id: rel,
            descriptor_digest: Digest::of_bytes(algorithm, &descriptor_integrity(&d.raw, rel)),
            object_digest,
        });
    }
    Ok(Metadata {
        version: 1,
        header,
        objects: out,
    })
}

/// The format of a signature object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// An OpenPGP clear-signed image metadata JSON (Singularity ≥ 3.6, Apptainer).
    Pgp,
    /// An OpenPGP clear-signed `SIFHASH:` digest (Singularity < 3.6).
    PgpLegacy,
    /// A DSSE envelope of the image metadata JSON (PEM keys; SingularityCE 4, Apptainer 1.2+).
    Dsse,
    /// Not a signature this implementation can read.
    Unreadable,
}

/// The key material a verification may use.
#[derive(Default)]
pub struct Keys {
    /// OpenPGP public keys (keyrings, `--keyring`).
    pub pgp: Vec<SignedPublicKey>,
    /// PEM public keys (`--key`), with the file they came from.
    pub pem: Vec<(String, PemPublicKey)>,
}

/// A PEM public key for DSSE.
pub enum PemPublicKey {
    /// Ed25519.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// RSA (PKCS#1 v1.5 signatures over SHA-256).
    Rsa(rsa::RsaPublicKey),
    /// ECDSA P-256 (SHA-256).
    P256(p256::ecdsa::VerifyingKey),
}

impl PemPublicKey {
    /// Parses a `PUBLIC KEY` (SubjectPublicKeyInfo) or `RSA PUBLIC KEY` PEM block.
    ///
    /// # Errors
    /// [`Error::Key`] naming `what` when no supported key is found.
    pub fn from_pem(pem: &str, what: &str) -> Result<PemPublicKey> {
        use ed25519_dalek::pkcs8::DecodePublicKey as _;
        use rsa::pkcs1::DecodeRsaPublicKey as _;
        if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_pem(pem) {
            return Ok(PemPublicKey::Ed25519(k));
        }
        if let Ok(k) = rsa::RsaPublicKey::from_public_key_pem(pem) {
            return Ok(PemPublicKey::Rsa(k));
        }
        if let Ok(k) = rsa::RsaPublicKey::from_pkcs1_pem(pem) {
            return Ok(PemPublicKey::Rsa(k));
        }
        if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_pem(pem) {
            return Ok(PemPublicKey::P256(k));
        }
        Err(Error::Key {
            what: what.into(),
            why: "not a PEM public key of a supported type (Ed25519, RSA, ECDSA P-256)".into(),
        })
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match self {
            PemPublicKey::Ed25519(k) => ed25519_dalek::Signature::from_slice(sig)
                .is_ok_and(|s| k.verify_strict(msg, &s).is_ok()),
            PemPublicKey::Rsa(k) => {
                use sha2::Digest as _;
                let h = sha2::Sha256::digest(msg);
                k.verify(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &h, sig)
                    .is_ok()
            }
            PemPublicKey::P256(k) => {
                use p256::ecdsa::signature::Verifier as _;
                p256::ecdsa::Signature::from_der(sig).is_ok_and(|s| k.verify(msg, &s).is_ok())
            }
        }
    }
}

/// A PEM private key for DSSE signing.
pub enum PemSecretKey {
    /// Ed25519 (PKCS#8).
    Ed25519(ed25519_dalek::SigningKey),
    /// RSA (PKCS#8 or PKCS#1), signing PKCS#1 v1.5 over SHA-256.
    Rsa(Box<rsa::RsaPrivateKey>),
    /// ECDSA P-256 (PKCS#8), DER signatures over SHA-256.
    P256(p256::ecdsa::SigningKey),
}

impl PemSecretKey {
    /// Parses a `PRIVATE KEY` (PKCS#8) or `RSA PRIVATE KEY` PEM block.
    ///
    /// # Errors
    /// [`Error::Key`] naming `what`.
    pub fn from_pem(pem: &str, what: &str) -> Result<PemSecretKey> {
        use ed25519_dalek::pkcs8::DecodePrivateKey as _;
        use rsa::pkcs1::DecodeRsaPrivateKey as _;
        if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
            return Ok(PemSecretKey::Ed25519(k));
        }
        if let Ok(k) = rsa::RsaPrivateKey::from_pkcs8_pem(pem) {
            return Ok(PemSecretKey::Rsa(Box::new(k)));
        }
        if let Ok(k) = rsa::RsaPrivateKey::from_pkcs1_pem(pem) {
            return Ok(PemSecretKey::Rsa(Box::new(k)));
        }
        if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_pem(pem) {
            return Ok(PemSecretKey::P256(k));
        }
        Err(Error::Key {
            what: what.into(),
            why: "not an unencrypted PEM private key of a supported type (Ed25519, RSA, \
                  ECDSA P-256)"
                .into(),
        })
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>> {
        match self {
            PemSecretKey::Ed25519(k) => {
                use ed25519_dalek::Signer as _;
                Ok(k.sign(msg).to_bytes().to_vec())
            }
            PemSecretKey::Rsa(k) => {
                use sha2::Digest as _;
                let h = sha2::Sha256::digest(msg);
                k.sign(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &h)
                    .map_err(|e| Error::Sign(e.to_string()))
            }
            PemSecretKey::P256(k) => {
                use p256::ecdsa::signature::Signer as _;
                let s: p256::ecdsa::Signature = k.sign(msg);
                Ok(s.to_der().as_bytes().to_vec())
            }
        }
    }

    fn public(&self) -> PemPublicKey {
        match self {
            PemSecretKey::Ed25519(k) => PemPublicKey::Ed25519(k.verifying_key()),
            PemSecretKey::Rsa(k) => PemPublicKey::Rsa(k.to_public_key()),
            PemSecretKey::P256(k) => PemPublicKey::P256(*k.verifying_key()),
        }
    }
}

/// The DSSE payload type of SIF metadata.
pub const DSSE_PAYLOAD_TYPE: &str = "application/vnd.sylabs.sif-metadata+json";

/// DSSE's pre-authentication encoding of `payload` (DSSE v1 protocol).
fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    v.extend_from_slice(payload);
    v
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    payload_type: String,
    payload: String,
    signatures: Vec<EnvelopeSignature>,
}

#[derive(Serialize, Deserialize)]
struct EnvelopeSignature {
    #[serde(default)]
    keyid: String,
    sig: String,
}

/// What verifying one signature object found.
#[derive(Debug, Clone, Serialize)]
pub struct SignatureCheck {
    /// The signature object's id.
    pub id: u32,
    /// What it is linked to: `group N` or `object N`.
    pub linked: String,
    /// Its format.
    pub format: Format,
    /// The hash type of its descriptor.
    pub hash: String,
    /// The PGP fingerprint its descriptor names (hex, upper case), if any.
    pub fingerprint: Option<String>,
    /// The key that verified it: a PGP fingerprint and user id, or a PEM file.
    pub signer: Option<String>,
    /// The objects whose data and descriptors it was checked to cover.
    pub objects: Vec<u32>,
    /// Why it does not verify; `None` when it does.
    pub error: Option<String>,
}

/// Which signatures [`verify`] checks (Apptainer's `verify` flags).
#[derive(Debug, Clone, Default)]
pub struct VerifyOpts {
    /// `--group-id`: the signatures of this group.
    pub group: Option<u32>,
    /// `--sif-id`: the signatures covering this object.
    pub object: Option<u32>,
    /// `--all`: every object, each on its own (legacy signatures of every object).
    pub all: bool,
    /// `--legacy-insecure`: check Singularity < 3.6 signatures instead.
    pub legacy: bool,
}

/// The outcome of [`verify`]: one entry per signature checked, and what was selected.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Every signature object considered, checked or not.
    pub signatures: Vec<SignatureCheck>,
    /// Objects selected that no valid signature covers (with the reason).
    pub unsigned: Vec<String>,
}

impl Report {
    /// `true` when something was signed, every signature checked verified, and every
    /// selected object is covered.
    pub fn ok(&self) -> bool {
        !self.signatures.is_empty()
            && self.signatures.iter().all(|s| s.error.is_none())
            && self.unsigned.is_empty()
    }
}

/// Upper-case hex of a fingerprint's bytes (as signature descriptors and keyservers spell it).
pub fn fingerprint_hex(fp: &[u8]) -> String {
    hex::encode_upper(fp)
}

/// The primary user id of a public key (empty when it has none).
pub fn primary_user(k: &SignedPublicKey) -> String {
    k.details
        .users
        .first()
        .map(|u| String::from_utf8_lossy(u.id.id()).into_owned())
        .unwrap_or_default()
}

/// The decoded content of a signature object.
enum Decoded {
    Clear(Box<CleartextSignedMessage>, String),
    Dsse(Envelope, Vec<u8>),
    Unreadable(String),
}

fn decode(data: &[u8]) -> Decoded {
    let text = String::from_utf8_lossy(data);
    let t = text.trim_start();
    if t.starts_with("-----BEGIN PGP SIGNED MESSAGE-----") {
        return match CleartextSignedMessage::from_string(t) {
            Ok((m, _)) => {
                let plain = m.signed_text().replace("\r\n", "\n");
                Decoded::Clear(Box::new(m), plain)
            }
            Err(e) => Decoded::Unreadable(format!("malformed clear-signed message: {e}")),
        };
    }
    if t.starts_with('{') {
        let env: Envelope = match serde_json::from_str(t.trim_end_matches('\0')) {
            Ok(e) => e,
            Err(e) => return Decoded::Unreadable(format!("malformed DSSE envelope: {e}")),
        };
        if env.payload_type != DSSE_PAYLOAD_TYPE {
            return Decoded::Unreadable(format!(
                "DSSE payload type {:?}, expected {DSSE_PAYLOAD_TYPE}",
                env.payload_type
            ));
        }
        return match base64::engine::general_purpose::STANDARD.decode(&env.payload) {
            Ok(p) => Decoded::Dsse(env, p),
            Err(e) => Decoded::Unreadable(format!("DSSE payload: {e}")),
        };
    }
    Decoded::Unreadable("neither an OpenPGP clear-signed message nor a DSSE envelope".into())
}

/// Checks the PGP signature of `m` against `keys`; returns the verifying key.
fn check_pgp<'k>(
    m: &CleartextSignedMessage,
    keys: &'k Keys,
) -> std::result::Result<&'k SignedPublicKey, String> {
    for k in &keys.pgp {
        if m.verify(&k.primary_key).is_ok()
            || k.public_subkeys.iter().any(|s| m.verify(&s.key).is_ok())
        {
            return Ok(k);
        }
    }
    let issuer: Vec<String> = m
        .signatures()
        .iter()
        .flat_map(|s| {
            s.issuer_fingerprint()
                .into_iter()
                .map(|f| fingerprint_hex(f.as_bytes()))
                .chain(
                    s.issuer_key_id()
                        .into_iter()
                        .map(|k| hex::encode_upper(k.as_ref())),
                )
                .collect::<Vec<_>>()
        })
        .collect();
    let who = issuer
        .first()
        .cloned()
        .unwrap_or_else(|| "an unnamed key".into());
    if keys.pgp.is_empty() {
        Err(format!(
            "signed by {who}, and no OpenPGP public key was given (singlet key import, \
             or --keyring FILE)"
        ))
    } else {
        Err(format!(
            "signed by {who}, which is not in the keyring, or the signature does not match \
             the signed text"
        ))
    }
}

fn check_dsse(env: &Envelope, keys: &Keys, payload: &[u8]) -> std::result::Result<String, String> {
    if keys.pem.is_empty() {
        return Err("a DSSE signature: give the signer's PEM public key with --key".into());
    }
    let msg = pae(&env.payload_type, payload);
    for s in &env.signatures {
        let Ok(sig) = base64::engine::general_purpose::STANDARD.decode(&s.sig) else {
            continue;
        };
        if let Some((file, _)) = keys.pem.iter().find(|(_, k)| k.verify(&msg, &sig)) {
            return Ok(file.clone());
        }
    }
    Err(format!(
        "none of the envelope's {} signature(s) verifies with the given key(s)",
        env.signatures.len()
    ))
}

/// Compares signed metadata with the image: the header, and each object of group `g`.
/// Returns the objects covered, or the first mismatch.
fn compare<R: Read + Seek>(
    img: &mut SifImage<R>,
    g: u32,
    signed: &Metadata,
) -> std::result::Result<Vec<u32>, String> {
    if signed.version != 1 {
        return Err(format!("metadata version {} (1 expected)", signed.version));
    }
    let objects = group_objects(img, g);
    let Some(min) = objects.first().map(Descriptor::id) else {
        return Err(format!("object group {g} no longer exists"));
    };
    let header = Digest::of_bytes(
        signed.header.digest.algorithm,
        &header_integrity(img.header()),
    );
    if header != signed.header.digest {
        return Err("header integrity compromised (launch script, magic, version or id)".into());
    }
    let mut seen = Vec::new();
    for om in &signed.objects {
        let id = min.saturating_add(om.relative_id);
        let Some(d) = objects.iter().find(|d| d.id() == id) else {
            return Err(format!("signed object {id} not found in group {g}"));
        };
        let dd = Digest::of_bytes(
            om.descriptor_digest.algorithm,
            &descriptor_integrity(&d.raw, om.relative_id),
        );
        if dd != om.descriptor_digest {
            return Err(format!(
                "data object {id}: descriptor integrity compromised"
            ));
        }
        let od = Digest::of(om.object_digest.algorithm, img.object_reader(d))
            .map_err(|e| format!("read data object {id}: {e}"))?;
        if od != om.object_digest {
            return Err(format!("data object {id}: data integrity compromised"));
        }
        seen.push(id);
    }
    if let Some(d) = objects.iter().find(|d| !seen.contains(&d.id())) {
        return Err(format!("data object {}: not signed", d.id()));
    }
    Ok(seen)
}

fn read_signature<R: Read + Seek>(img: &mut SifImage<R>, d: &Descriptor) -> Result<Vec<u8>> {
    if d.size() > MAX_IN_MEMORY {
        return Err(Error::Selection(format!(
            "signature object {} is {} bytes: not a signature",
            d.id(),
            d.size()
        )));
    }
    Ok(img.read_object(d)?)
}

fn new_check(d: &Descriptor) -> SignatureCheck {
    let (hash, fp) = d.signature().expect("a signature");
    SignatureCheck {
        id: d.id(),
        linked: match d.link() {
            Link::Group(g) => format!("group {g}"),
            Link::Object(o) => format!("object {o}"),
            Link::None => "nothing".into(),
        },
        format: Format::Unreadable,
        hash: hash.to_string(),
        fingerprint: fp.map(|f| fingerprint_hex(&f)),
        signer: None,
        objects: Vec::new(),
        error: None,
    }
}

/// Lists the signature objects of `img` without checking them: id, link, format (from the
/// content: clear-signed current or legacy, DSSE, unreadable), hash type and the fingerprint
/// the descriptor names (what `inspect --signatures` shows).
///
/// # Errors
/// [`Error::Sif`] reading an object.
pub fn describe<R: Read + Seek>(img: &mut SifImage<R>) -> Result<Vec<SignatureCheck>> {
    let sigs: Vec<Descriptor> = img
        .descriptors()
        .filter(|d| d.data_type() == DataType::Signature)
        .collect();
    let mut v = Vec::new();
    for s in &sigs {
        let mut c = new_check(s);
        let data = read_signature(img, s)?;
        c.format = match decode(&data) {
            Decoded::Clear(_, p) if p.starts_with("SIFHASH:") => Format::PgpLegacy,
            Decoded::Clear(..) => Format::Pgp,
            Decoded::Dsse(..) => Format::Dsse,
            Decoded::Unreadable(why) => {
                c.error = Some(why);
                Format::Unreadable
            }
        };
        v.push(c);
    }
    Ok(v)
}

/// Verifies the signatures of `img` selected by `opts` with `keys`, as `pkg/integrity`'s
/// verifier does: current-format signatures per object group (all groups by default, or the
/// one of `--group-id`, or the group of `--sif-id`), each recomputing the header, descriptor
/// and object digests, and its key's fingerprint equal to the one in the descriptor;
/// with `legacy`, the Singularity < 3.6 signatures of the primary partition (or of every
/// object with `all`). Every signature is reported, valid or not; [`Report::ok`] is the
/// verdict.
///
/// # Errors
/// [`Error::Selection`] for an unknown group or object, or an image without groups;
/// [`Error::Sif`] reading it.
pub fn verify<R: Read + Seek>(
    img: &mut SifImage<R>,
    opts: &VerifyOpts,
    keys: &Keys,
) -> Result<Report> {
    let sigs: Vec<Descriptor> = img
        .descriptors()
        .filter(|d| d.data_type() == DataType::Signature)
        .collect();
    let mut report = Report {
        signatures: Vec::new(),
        unsigned: Vec::new(),
    };
    if let Some(d) = img
        .descriptors()
        .find(|d| d.group().is_none() && d.data_type() != DataType::Signature)
    {
        report.unsigned.push(format!(
            "data object {} is in no object group, so no signature can cover it",
            d.id()
        ));
    }
    if opts.legacy {
        verify_legacy(img, opts, keys, &sigs, &mut report)?;
        return Ok(report);
    }
    let groups: Vec<u32> = match (opts.group, opts.object) {
        (Some(g), _) => {
            if group_objects(img, g).is_empty() {
                return Err(Error::Selection(format!("object group {g} does not exist")));
            }
            vec![g]
        }
        (None, Some(o)) => {
            let d = img.by_id(o)?;
            vec![d.group().ok_or_else(|| {
                Error::Selection(format!("data object {o} is in no object group"))
            })?]
        }
        (None, None) => groups(img),
    };
    if groups.is_empty() {
        return Err(Error::Selection("the image has no object groups".into()));
    }
    for g in groups {
        let mine: Vec<&Descriptor> = sigs.iter().filter(|s| s.link() == Link::Group(g)).collect();
        let mut current = 0;
        for s in mine {
            let data = read_signature(img, s)?;
            let mut c = new_check(s);
            match decode(&data) {
                Decoded::Clear(_, plain) if plain.starts_with("SIFHASH:") => {
                    c.format = Format::PgpLegacy;
                    c.error = Some(
                        "a legacy signature (Singularity < 3.6): it does not protect the \
                         header and descriptors; check it with --legacy-insecure"
                            .into(),
                    );
                }
                Decoded::Clear(m, plain) => {
                    c.format = Format::Pgp;
                    current += 1;
                    finish_current(img, g, &mut c, keys, |keys| {
                        let k = check_pgp(&m, keys)?;
                        let fp = k.primary_key.fingerprint();
                        let fp = fingerprint_hex(fp.as_bytes());
                        if c_fp_mismatch(s, &fp) {
                            return Err(format!(
                                "verified by key {fp}, but the descriptor names another \
                                 fingerprint"
                            ));
                        }
                        Ok((format!("{fp} ({})", primary_user(k)), plain.clone()))
                    });
                }
                Decoded::Dsse(env, payload) => {
                    c.format = Format::Dsse;
                    current += 1;
                    finish_current(img, g, &mut c, keys, |keys| {
                        let who = check_dsse(&env, keys, &payload)?;
                        Ok((who, String::from_utf8_lossy(&payload).into_owned()))
                    });
                }
                Decoded::Unreadable(why) => {
                    current += 1;
                    c.error = Some(why);
                }
            }
            report.signatures.push(c);
        }
        if current == 0 {
            report
                .unsigned
                .push(format!("object group {g}: no signature"));
        }
    }
    if let Some(o) = opts.object {
        for c in &mut report.signatures {
            if c.error.is_none() && !c.objects.contains(&o) {
                c.error = Some(format!("does not cover data object {o}"));
            }
        }
    }
    Ok(report)
}

/// The legacy part of [`verify`]: object-linked signatures of the primary partition (or of
/// `--sif-id`, or of every grouped object with `--all`), and group-linked legacy signatures
/// for `--group-id` (or for the primary's group when the primary has no signature of its own).
fn verify_legacy<R: Read + Seek>(
    img: &mut SifImage<R>,
    opts: &VerifyOpts,
    keys: &Keys,
    sigs: &[Descriptor],
    report: &mut Report,
) -> Result<()> {
    let (targets, group): (Vec<u32>, Option<u32>) = if let Some(g) = opts.group {
        (Vec::new(), Some(g))
    } else if let Some(o) = opts.object {
        (vec![img.by_id(o)?.id()], None)
    } else if opts.all {
        let ids = img
            .descriptors()
            .filter(|d| d.data_type() != DataType::Signature && d.group().is_some())
            .map(|d| d.id())
            .collect();
        (ids, None)
    } else {
        let prim = img
            .descriptors()
            .find(|d| d.partition().is_some_and(|p| p.part == PartType::PrimSys))
            .ok_or_else(|| Error::Selection("no primary system partition".into()))?;
        if sigs.iter().any(|s| s.link() == Link::Object(prim.id())) {
            (vec![prim.id()], None)
        } else {
            (Vec::new(), prim.group())
        }
    };
    for id in targets {
        let mine: Vec<&Descriptor> = sigs
            .iter()
            .filter(|s| s.link() == Link::Object(id))
            .collect();
        if mine.is_empty() {
            report
                .unsigned
                .push(format!("data object {id}: no legacy signature"));
        }
        for s in mine {
            let data = read_signature(img, s)?;
            report
                .signatures
                .push(check_legacy(img, s, &data, &[id], keys));
        }
    }
    if let Some(g) = group {
        let members: Vec<u32> = group_objects(img, g)
            .iter()
            .filter(|d| d.data_type() != DataType::Signature)
            .map(Descriptor::id)
            .collect();
        if members.is_empty() {
            return Err(Error::Selection(format!("object group {g} does not exist")));
        }
        let mine: Vec<&Descriptor> = sigs.iter().filter(|s| s.link() == Link::Group(g)).collect();
        let mut found = false;
        for s in mine {
            let data = read_signature(img, s)?;
            if !matches!(decode(&data), Decoded::Clear(_, ref p) if p.starts_with("SIFHASH:")) {
                continue;
            }
            found = true;
            report
                .signatures
                .push(check_legacy(img, s, &data, &members, keys));
        }
        if !found {
            report
                .unsigned
                .push(format!("object group {g}: no legacy signature"));
        }
    }
    Ok(())
}

fn c_fp_mismatch(s: &Descriptor, fp: &str) -> bool {
    let named = s
        .signature()
        .and_then(|(_, f)| f)
        .map(|f| fingerprint_hex(&f));
    named.as_deref() != Some(fp)
}

/// Checks a current-format signature: `check` verifies the envelope with the keys and
/// returns the signer and the signed text; the text's metadata is then compared with the
/// image.
fn finish_current<R: Read + Seek>(
    img: &mut SifImage<R>,
    g: u32,
    c: &mut SignatureCheck,
    keys: &Keys,
    check: impl FnOnce(&Keys) -> std::result::Result<(String, String), String>,
) {
    let (signer, text) = match check(keys) {
        Ok(v) => v,
        Err(e) => {
            c.error = Some(e);
            return;
        }
    };
    c.signer = Some(signer);
    let md: Metadata = match serde_json::from_str(text.trim()) {
        Ok(m) => m,
        Err(e) => {
            c.error = Some(format!("signed metadata: {e}"));
            return;
        }
    };
    match compare(img, g, &md) {
        Ok(ids) => c.objects = ids,
        Err(e) => c.error = Some(e),
    }
}

fn check_legacy<R: Read + Seek>(
    img: &mut SifImage<R>,
    s: &Descriptor,
    data: &[u8],
    objects: &[u32],
    keys: &Keys,
) -> SignatureCheck {
    let mut c = new_check(s);
    let (m, plain) = match decode(data) {
        Decoded::Clear(m, plain) if plain.starts_with("SIFHASH:") => (m, plain),
        Decoded::Clear(..) | Decoded::Dsse(..) => {
            c.error = Some("not a legacy signature (verify without --legacy-insecure)".into());
            return c;
        }
        Decoded::Unreadable(why) => {
            c.error = Some(why);
            return c;
        }
    };
    c.format = Format::PgpLegacy;
    let hex_digest = plain.trim_start_matches("SIFHASH:").trim();
    let (ht, _) = s.signature().expect("a signature");
    let Some(algorithm) = Algorithm::of_hash_type(ht) else {
        c.error = Some(format!("hash type {ht} is not supported"));
        return c;
    };
    let want = match hex::decode(hex_digest) {
        Ok(v) => v,
        Err(e) => {
            c.error = Some(format!("malformed legacy digest: {e}"));
            return c;
        }
    };
    // The digest of the object's data, or of the group's objects' data end to end.
    let mut h = algorithm.hasher();
    for id in objects {
        let d = match img.by_id(*id) {
            Ok(d) => d,
            Err(e) => {
                c.error = Some(e.to_string());
                return c;
            }
        };
        let mut r = img.object_reader(&d);
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => h.update(&buf[..n]),
                Err(e) => {
                    c.error = Some(format!("read data object {id}: {e}"));
                    return c;
                }
            }
        }
    }
    if h.finalize().to_vec() != want {
        c.error = Some(match objects {
            [one] => format!("data object {one}: data integrity compromised"),
            _ => format!("data objects {objects:?}: data integrity compromised"),
        });
        return c;
    }
    match check_pgp(&m, keys) {
        Ok(k) => {
            let fp = fingerprint_hex(k.primary_key.fingerprint().as_bytes());
            if c_fp_mismatch(s, &fp) {
                c.error = Some(format!(
                    "verified by key {fp}, but the descriptor names another fingerprint"
                ));
            } else {
                c.signer = Some(format!("{fp} ({})", primary_user(k)));
                c.objects = objects.to_vec();
            }
        }
        Err(e) => c.error = Some(e),
    }
    c
}

/// The groups to sign: `--group-id`, the group of `--sif-id`, or every group.
///
/// # Errors
/// [`Error::Selection`].
pub fn groups_to_sign<R: Read + Seek>(
    img: &SifImage<R>,
    group: Option<u32>,
    object: Option<u32>,
) -> Result<Vec<u32>> {
    let gs = match (group, object) {
        (Some(g), _) => vec![g],
        (None, Some(o)) => vec![img
            .by_id(o)?
            .group()
            .ok_or_else(|| Error::Selection(format!("data object {o} is in no object group")))?],
        (None, None) => groups(img),
    };
    for g in &gs {
        if group_objects(img, *g).is_empty() {
            return Err(Error::Selection(format!("object group {g} does not exist")));
        }
    }
    if gs.is_empty() {
        return Err(Error::Selection(
            "the image has no object groups to sign".into(),
        ));
    }
    Ok(gs)
}

/// The signed envelope for one group.
pub enum Signer<'a> {
    /// OpenPGP clear signature with a (decrypted) secret key.
    Pgp(&'a SignedSecretKey, &'a Password),
    /// DSSE with a PEM key.
    Dsse(&'a PemSecretKey),
}

/// Appends one signature object per group in `groups` to `img` (opened read-write), as
/// `pkg/integrity`'s signer writes it: the group's metadata with SHA-256, clear-signed
/// (OpenPGP, descriptor extra = SHA-256 + the key's fingerprint) or in a DSSE envelope
/// (extra = SHA-256, no fingerprint); the object in no group, linked to the group. The
/// metadata of every group is computed before the first object is added.
///
/// # Errors
/// [`Error::Sign`] from the signing layer; [`Error::Sif`] writing.
pub fn sign(
    img: &mut SifImage<std::fs::File>,
    groups: &[u32],
    signer: &Signer<'_>,
    time: i64,
) -> Result<Vec<u32>> {
    let mut texts = Vec::new();
    for g in groups {
        let md = metadata(img, *g, Algorithm::Sha256)?;
        texts.push((*g, serde_json::to_string(&md).expect("serializes")));
    }
    let mut ids = Vec::new();
    for (g, text) in texts {
        let (data, fp) = match signer {
            Signer::Pgp(key, pw) => {
                let m =
                    CleartextSignedMessage::sign(rand::thread_rng(), &text, &key.primary_key, pw)
                        .map_err(|e| Error::Sign(e.to_string()))?;
                let armored = m
                    .to_armored_string(pgp::composed::ArmorOptions::default())
                    .map_err(|e| Error::Sign(e.to_string()))?;
                let fp: [u8; 20] = key
                    .primary_key
                    .fingerprint()
                    .as_bytes()
                    .try_into()
                    .map_err(|_| {
                        Error::Sign("only v4 OpenPGP keys (20-byte fingerprints)".into())
                    })?;
                (armored.into_bytes(), Some(fp))
            }
            Signer::Dsse(key) => {
                let payload = text.as_bytes();
                let sig = key.sign(&pae(DSSE_PAYLOAD_TYPE, payload))?;
                debug_assert!(key.public().verify(&pae(DSSE_PAYLOAD_TYPE, payload), &sig));
                let b64 = base64::engine::general_purpose::STANDARD;
                let env = Envelope {
                    payload_type: DSSE_PAYLOAD_TYPE.into(),
                    payload: b64.encode(payload),
                    signatures: vec![EnvelopeSignature {
                        keyid: String::new(),
                        sig: b64.encode(sig),
                    }],
                };
                (serde_json::to_vec(&env).expect("serializes"), None)
            }
        };
        let mut o = ObjectInput::new(DataType::Signature, Source::Bytes(data));
        o.group = None;
        o.link = Link::Group(g);
        o.alignment = Some(0);
        o.extra = Extra::Signature(HashType::Sha256, fp);
        ids.push(img.add_object(o, time)?);
    }
    Ok(ids)
}

/// Reads OpenPGP public keys from `data`: armored (one or more blocks) or binary (a
/// keyring of concatenated transferable public keys, as Apptainer's `pgp-public`).
///
/// # Errors
/// [`Error::Key`] naming `what` when nothing parses.
pub fn parse_public_keys(data: &[u8], what: &str) -> Result<Vec<SignedPublicKey>> {
    let bad = |e: String| Error::Key {
        what: what.into(),
        why: e,
    };
    if data.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let keys: Vec<SignedPublicKey> = if data.trim_ascii_start().starts_with(b"-----BEGIN") {
        let (it, _) = SignedPublicKey::from_armor_many(data).map_err(|e| bad(e.to_string()))?;
        it.collect::<std::result::Result<_, _>>()
            .map_err(|e| bad(e.to_string()))?
    } else {
        SignedPublicKey::from_bytes_many(data)
            .map_err(|e| bad(e.to_string()))?
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| bad(e.to_string()))?
    };
    Ok(keys)
}

/// Reads OpenPGP secret keys (armored or binary).
///
/// # Errors
/// [`Error::Key`] naming `what`.
pub fn parse_secret_keys(data: &[u8], what: &str) -> Result<Vec<SignedSecretKey>> {
    let bad = |e: String| Error::Key {
        what: what.into(),
        why: e,
    };
    if data.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    if data.trim_ascii_start().starts_with(b"-----BEGIN") {
        let (it, _) = SignedSecretKey::from_armor_many(data).map_err(|e| bad(e.to_string()))?;
        it.collect::<std::result::Result<_, _>>()
            .map_err(|e| bad(e.to_string()))
    } else {
        SignedSecretKey::from_bytes_many(data)
            .map_err(|e| bad(e.to_string()))?
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| bad(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_round_trip_and_refuse_bad_input() {
        let d = Digest::of_bytes(Algorithm::Sha256, b"abc");
        let s = serde_json::to_string(&d).unwrap();
        assert_eq!(
            s,
            "\"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\""
        );
        assert_eq!(serde_json::from_str::<Digest>(&s).unwrap(), d);
        for bad in [
            "\"sha256\"",
            "\"md5:00\"",
            "\"sha256:zz\"",
            "\"sha256:00\"",
            "1",
        ] {
            assert!(serde_json::from_str::<Digest>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pae_is_dsse_v1() {
        assert_eq!(pae("t", b"ab"), b"DSSEv1 1 t 2 ab".to_vec());
    }
}
