//! `singlet sign`, `singlet verify` and `singlet key …`: Apptainer's signing commands and
//! flags over `sif::integrity` (the signature format) and `image::keys` (the keyrings).

use std::fs::OpenOptions;
use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};
use pgp::composed::{KeyType, SecretKeyParamsBuilder, SignedPublicKey};
use pgp::types::Password;

use crate::image::keys::{self, Keyrings};
use crate::sif::integrity::{self, Keys, PemPublicKey, PemSecretKey, Signer, VerifyOpts};
use crate::sif::SifImage;

/// Examples of `sign`.
pub const SIGN_EXAMPLES: &str = "\
Examples:
  singlet key newpair --name 'Jo Doe' --email jo@example.org
  singlet sign image.sif                   (PGP, the first key of the secret keyring)
  singlet sign --keyidx 1 image.sif
  singlet sign --key private.pem image.sif (DSSE with a PEM key)
  singlet sign --group-id 1 image.sif";

/// Examples of `verify`.
pub const VERIFY_EXAMPLES: &str = "\
Examples:
  singlet verify image.sif
  singlet verify --keyring colleague.pub.asc image.sif
  singlet verify --key public.pem image.sif
  singlet verify --legacy-insecure old-singularity-3.5.sif
  singlet verify --json image.sif | jq .signatures";

// `doc` only under rustdoc: see "Deferred verbs" in `cli/mod.rs`.
#[cfg_attr(doc, doc = "`sign` flags (Apptainer's).")]
#[derive(Debug, Args)]
pub struct SignArgs {
    /// Use the secret key at this index of the keyring (see `singlet key list --secret`)
    #[arg(short = 'k', long, value_name = "N", conflicts_with = "key")]
    pub keyidx: Option<usize>,
    /// Sign with this PEM private key (Ed25519, RSA or ECDSA P-256), as a DSSE envelope
    #[arg(long, value_name = "PRIVATE.pem")]
    pub key: Option<PathBuf>,
    /// Sign the object group of this data object
    #[arg(
        short = 'i',
        long = "sif-id",
        value_name = "ID",
        conflicts_with = "group_id"
    )]
    pub sif_id: Option<u32>,
    /// Sign this object group
    #[arg(short = 'g', long = "group-id", value_name = "ID")]
    pub group_id: Option<u32>,
    /// Sign every object group (the default)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Passphrase of the secret key (default: none, or the SINGLET_KEY_PASSPHRASE variable)
    #[arg(long, env = "SINGLET_KEY_PASSPHRASE", hide_env_values = true)]
    pub passphrase: Option<String>,
    /// SIF image
    pub image: PathBuf,
}

// `doc` only under rustdoc: see "Deferred verbs" in `cli/mod.rs`.
#[cfg_attr(doc, doc = "`verify` flags (Apptainer's).")]
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Verify DSSE signatures with this PEM public key (repeatable)
    #[arg(long, value_name = "PUBLIC.pem")]
    pub key: Vec<PathBuf>,
    /// Also trust the OpenPGP public keys of this file, armored or binary (repeatable)
    #[arg(long, value_name = "FILE")]
    pub keyring: Vec<PathBuf>,
    /// Verify the signatures covering this data object
    #[arg(
        short = 'i',
        long = "sif-id",
        value_name = "ID",
        conflicts_with = "group_id"
    )]
    pub sif_id: Option<u32>,
    /// Verify the signatures of this object group
    #[arg(short = 'g', long = "group-id", value_name = "ID")]
    pub group_id: Option<u32>,
    /// Verify every object (with --legacy-insecure: each object's legacy signature)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Check signatures of Singularity < 3.6, which do not protect the header and
    /// descriptors
    #[arg(short = 'l', long)]
    pub legacy_insecure: bool,
    /// Print the result as JSON
    #[arg(short = 'j', long)]
    pub json: bool,
    /// Fetch signers' keys missing from the keyrings from this keyserver (HKP; used for this
    /// verification only, not imported)
    #[arg(short = 'u', long, value_name = "URL")]
    pub url: Option<String>,
    /// SIF image
    pub image: PathBuf,
}

// `doc` only under rustdoc: see "Deferred verbs" in `cli/mod.rs`.
#[cfg_attr(doc, doc = "`key` verbs.")]
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum KeyCommand {
    /// Create a new OpenPGP key pair in the keyrings
    #[command(
        after_help = "Examples:\n  singlet key newpair --name 'Jo Doe' --email jo@example.org\n  singlet key newpair --name CI --email ci@example.org --bit-length 3072"
    )]
    Newpair {
        /// Name of the key's user id
        #[arg(short = 'N', long)]
        name: String,
        /// Email of the key's user id
        #[arg(short = 'E', long)]
        email: String,
        /// Comment of the key's user id
        #[arg(short = 'C', long, default_value = "")]
        comment: String,
        /// Passphrase protecting the secret key (default: none)
        #[arg(short = 'P', long)]
        password: Option<String>,
        /// RSA key size in bits (Apptainer's default)
        #[arg(short = 'b', long, default_value_t = 4096)]
        bit_length: u32,
    },
    /// List the public keys (or the secret keys) of the keyrings
    #[command(after_help = "Examples:\n  singlet key list\n  singlet key list --secret")]
    List {
        /// List the secret keyring, with the index `sign --keyidx` takes
        #[arg(short = 's', long)]
        secret: bool,
    },
    /// Add the keys of a file (armored or binary; public or secret) to the keyrings
    #[command(after_help = "Examples:\n  singlet key import colleague.pub.asc")]
    Import {
        /// Key file
        file: PathBuf,
    },
    /// Write a key to a file
    #[command(
        after_help = "Examples:\n  singlet key export --armor BCF46F30DC63419178B716A1E5E4D2499B549044 me.pub.asc\n  singlet key export --secret 9B549044 me.key"
    )]
    Export {
        /// Export the secret key
        #[arg(short = 's', long)]
        secret: bool,
        /// ASCII-armored output
        #[arg(short = 'a', long)]
        armor: bool,
        /// Fingerprint or key id (at least 8 hex digits)
        fingerprint: String,
        /// Output file (must not exist)
        file: PathBuf,
    },
    /// Send a public key to a keyserver (HKP)
    #[command(
        after_help = "Examples:\n  singlet key push 9B549044\n  singlet key push --url hkp://127.0.0.1:11371 9B549044"
    )]
    Push {
        /// Keyserver (hkp://, hkps://, http://, https://)
        #[arg(short = 'u', long, default_value = keys::DEFAULT_KEYSERVER)]
        url: String,
        /// Fingerprint or key id of a key in the public keyring
        fingerprint: String,
    },
    /// Fetch a public key from a keyserver into the public keyring (HKP)
    #[command(
        after_help = "Examples:\n  singlet key pull BCF46F30DC63419178B716A1E5E4D2499B549044\n  singlet key pull --url hkp://127.0.0.1:11371 9B549044"
    )]
    Pull {
        /// Keyserver (hkp://, hkps://, http://, https://)
        #[arg(short = 'u', long, default_value = keys::DEFAULT_KEYSERVER)]
        url: String,
        /// Fingerprint (40 hex digits; keyservers may refuse short ids)
        fingerprint: String,
    },
    /// Search a keyserver's index (HKP)
    #[command(
        after_help = "Examples:\n  singlet key search jo@example.org\n  singlet key search --url hkp://127.0.0.1:11371 'Jo Doe'"
    )]
    Search {
        /// Keyserver (hkp://, hkps://, http://, https://)
        #[arg(short = 'u', long, default_value = keys::DEFAULT_KEYSERVER)]
        url: String,
        /// Name, email, or a fingerprint with 0x
        query: String,
    },
    /// Remove a public key from the keyring
    #[command(after_help = "Examples:\n  singlet key remove 9B549044")]
    Remove {
        /// Fingerprint or key id (at least 8 hex digits)
        fingerprint: String,
    },
}

fn rings() -> Keyrings {
    Keyrings::at(Keyrings::default_dir())
}

/// `singlet sign`.
///
/// # Errors
/// A missing key, an unreadable image, a signing failure.
pub fn sign(a: &SignArgs, quiet: bool) -> Result<i32> {
    // Keys first: nothing is written when no key can sign.
    let pem;
    let secret;
    let pw = Password::from(a.passphrase.clone().unwrap_or_default().as_str());
    let signer = if let Some(k) = &a.key {
        let text = std::fs::read_to_string(k).with_context(|| format!("--key {}", k.display()))?;
        pem = PemSecretKey::from_pem(&text, &format!("--key {}", k.display()))?;
        Signer::Dsse(&pem)
    } else {
        let all = rings().secret()?;
        let idx = a.keyidx.unwrap_or(0);
        if all.is_empty() {
            bail!(
                "no secret key in {}: create one with `singlet key newpair`, import one with \
                 `singlet key import`, or sign with --key PRIVATE.pem",
                Keyrings::default_dir().display()
            );
        }
        secret = all.into_iter().nth(idx).ok_or_else(|| {
            anyhow::anyhow!("--keyidx {idx}: the secret keyring has fewer keys (see `singlet key list --secret`)")
        })?;
        // A protected key is unlocked once here, so a wrong or missing passphrase is said
        // as such (and before the image is opened for writing).
        if secret.primary_key.secret_params().is_encrypted()
            && !matches!(secret.primary_key.unlock(&pw, |_, _| Ok(())), Ok(Ok(())))
        {
            bail!(
                "secret key {} is protected by a passphrase, and {}: give it with --passphrase \
                 or SINGLET_KEY_PASSPHRASE",
                keys::fingerprint(&secret.primary_key),
                if a.passphrase.as_deref().unwrap_or("").is_empty() {
                    "none was given"
                } else {
                    "the one given does not unlock it"
                }
            );
        }
        Signer::Pgp(&secret, &pw)
    };
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&a.image)
        .with_context(|| format!("open {}", a.image.display()))?;
    let mut img = SifImage::from_reader(f).with_context(|| format!("{}", a.image.display()))?;
    let groups = integrity::groups_to_sign(&img, a.group_id, a.sif_id)?;
    let ids = integrity::sign(&mut img, &groups, &signer, chrono::Utc::now().timestamp())
        .with_context(|| format!("sign {}", a.image.display()))?;
    if !quiet {
        let who = match &signer {
            Signer::Pgp(k, _) => format!("key {}", keys::fingerprint(&k.primary_key)),
            Signer::Dsse(_) => format!("{}", a.key.as_ref().expect("key").display()),
        };
        eprintln!(
            "Signature created and added to {} (object {}; group {}) with {who}",
            a.image.display(),
            join(&ids),
            join(&groups)
        );
    }
    Ok(0)
}

fn join(v: &[u32]) -> String {
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

/// `singlet verify`: exit 0 when every checked signature verifies and everything selected is
/// covered.
///
/// # Errors
/// Unreadable image or keys; a failed verification is reported and returned as an error.
pub fn verify(a: &VerifyArgs) -> Result<i32> {
    let mut keys = Keys {
        pgp: rings().public()?,
        pem: Vec::new(),
    };
    for f in &a.keyring {
        let b = keys::read_trusted(f)?
            .ok_or_else(|| anyhow::anyhow!("--keyring {}: no such file", f.display()))?;
        let mut k = integrity::parse_public_keys(&b, &format!("--keyring {}", f.display()))?;
        if k.is_empty() {
            bail!("--keyring {}: no OpenPGP public key in it", f.display());
        }
        keys.pgp.append(&mut k);
    }
    for f in &a.key {
        let text = std::fs::read_to_string(f).with_context(|| format!("--key {}", f.display()))?;
        let k = PemPublicKey::from_pem(&text, &format!("--key {}", f.display()))?;
        keys.pem.push((f.display().to_string(), k));
    }
    let mut img = SifImage::open(&a.image).with_context(|| format!("{}", a.image.display()))?;
    if let Some(url) = &a.url {
        let have: Vec<String> = keys
            .pgp
            .iter()
            .map(|k| keys::fingerprint(&k.primary_key))
            .collect();
        let mut wanted: Vec<String> = integrity::describe(&mut img)?
            .into_iter()
            .filter_map(|s| s.fingerprint)
            .filter(|f| !have.contains(f))
            .collect();
        wanted.sort();
        wanted.dedup();
        for fp in wanted {
            match keys::hkp_get(url, &fp) {
                Ok(text) => {
                    let got =
                        integrity::parse_public_keys(text.as_bytes(), &format!("{url} key {fp}"))?;
                    // Only the key asked for: a keyserver cannot slip in another signer.
                    keys.pgp.extend(
                        got.into_iter()
                            .filter(|k| keys::fingerprint(&k.primary_key) == fp),
                    );
                }
                Err(e) => tracing::warn!("{e}"),
            }
        }
    }
    let opts = VerifyOpts {
        group: a.group_id,
        object: a.sif_id,
        all: a.all,
        legacy: a.legacy_insecure,
    };
    let report = integrity::verify(&mut img, &opts, &keys)?;
    let ok = report.ok();
    if a.json {
        let v = serde_json::json!({
            "image": a.image.display().to_string(),
            "verified": ok,
            "signatures": report.signatures,
            "unsigned": report.unsigned,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        eprintln!("Verifying image: {}", a.image.display());
        for s in &report.signatures {
            let fmt = serde_json::to_value(s.format)?;
            let fmt = fmt.as_str().unwrap_or_default();
            match &s.error {
                None => eprintln!(
                    "[LOCAL]   signature {} ({fmt}, linked to {}): signed by {}; objects {}",
                    s.id,
                    s.linked,
                    s.signer.as_deref().unwrap_or("?"),
                    join(&s.objects)
                ),
                Some(e) => eprintln!(
                    "[FAILED]  signature {} ({fmt}, linked to {}{}): {e}",
                    s.id,
                    s.linked,
                    s.fingerprint
                        .as_ref()
                        .map(|f| format!(", fingerprint {f}"))
                        .unwrap_or_default()
                ),
            }
        }
        for u in &report.unsigned {
            eprintln!("[UNSIGNED] {u}");
        }
    }
    if ok {
        if !a.json {
            eprintln!("Container verified: {}", a.image.display());
        }
        return Ok(0);
    }
    // No signature object of the format asked for at all (`Report::signatures` lists every
    // one considered, verified or not).
    if report.signatures.is_empty() {
        bail!(
            "{}: not verified: no signatures found{}",
            a.image.display(),
            if a.legacy_insecure {
                ""
            } else {
                " (an image signed by Singularity < 3.6 needs --legacy-insecure)"
            }
        );
    }
    bail!("{}: not verified (see above)", a.image.display())
}

/// `singlet key …`.
///
/// # Errors
/// Keyring and key file errors, naming the file.
pub fn key(cmd: KeyCommand, quiet: bool) -> Result<i32> {
    let r = rings();
    match cmd {
        KeyCommand::Newpair {
            name,
            email,
            comment,
            password,
            bit_length,
        } => newpair(&r, &name, &email, &comment, password, bit_length, quiet),
        KeyCommand::List { secret } => {
            if secret {
                for (i, k) in r.secret()?.iter().enumerate() {
                    let pk = k.to_public_key();
                    println!(
                        "{i}) {}  {}",
                        keys::fingerprint(&pk.primary_key),
                        keys::user_id(&pk)
                    );
                }
            } else {
                for (i, k) in r.public()?.iter().enumerate() {
                    println!(
                        "{i}) {}  {}",
                        keys::fingerprint(&k.primary_key),
                        keys::user_id(k)
                    );
                }
            }
            Ok(0)
        }
        KeyCommand::Import { file } => import(&r, &file, quiet),
        KeyCommand::Export {
            secret,
            armor,
            fingerprint,
            file,
        } => export(&r, secret, armor, &fingerprint, &file),
        c @ (KeyCommand::Push { .. } | KeyCommand::Pull { .. } | KeyCommand::Search { .. }) => {
            keyserver(&r, c, quiet)
        }
        KeyCommand::Remove { fingerprint } => {
            let mut publics = r.public()?;
            let before = publics.len();
            publics.retain(|k| !keys::matches(&keys::fingerprint(&k.primary_key), &fingerprint));
            match before - publics.len() {
                0 => bail!("no public key matches {fingerprint}"),
                1 => {}
                n => bail!("{fingerprint} matches {n} keys: give the whole fingerprint"),
            }
            r.write_public(&publics)?;
            Ok(0)
        }
    }
}

fn newpair(
    r: &Keyrings,
    name: &str,
    email: &str,
    comment: &str,
    password: Option<String>,
    bit_length: u32,
    quiet: bool,
) -> Result<i32> {
    if !(2048..=8192).contains(&bit_length) {
        bail!("--bit-length {bit_length}: between 2048 and 8192");
    }
    let uid = if comment.is_empty() {
        format!("{name} <{email}>")
    } else {
        format!("{name} ({comment}) <{email}>")
    };
    let mut p = SecretKeyParamsBuilder::default();
    p.key_type(KeyType::Rsa(bit_length))
        .can_certify(true)
        .can_sign(true)
        .primary_user_id(uid.clone())
        .passphrase(password.clone());
    let params = p.build().context("key parameters")?;
    if !quiet {
        eprintln!("Generating an RSA {bit_length}-bit OpenPGP key pair for {uid} …");
    }
    let sk = params
        .generate(rand::thread_rng())
        .map_err(|e| anyhow::anyhow!("generate key: {e}"))?;
    let pk: SignedPublicKey = sk.to_public_key();
    let mut secrets = r.secret()?;
    let mut publics = r.public()?;
    secrets.push(sk);
    publics.push(pk.clone());
    r.write_secret(&secrets)?;
    r.write_public(&publics)?;
    println!("{}", keys::fingerprint(&pk.primary_key));
    Ok(0)
}

fn import(r: &Keyrings, file: &std::path::Path, quiet: bool) -> Result<i32> {
    let b = std::fs::read(file).with_context(|| format!("read {}", file.display()))?;
    let what = file.display().to_string();
    let secret = integrity::parse_secret_keys(&b, &what).unwrap_or_default();
    let public = if secret.is_empty() {
        integrity::parse_public_keys(&b, &what)?
    } else {
        secret.iter().map(|k| k.to_public_key()).collect()
    };
    if public.is_empty() {
        bail!("{what}: no OpenPGP key in it");
    }
    let mut publics = r.public()?;
    let mut added = 0;
    for k in public {
        let fp = keys::fingerprint(&k.primary_key);
        if publics
            .iter()
            .any(|p| keys::fingerprint(&p.primary_key) == fp)
        {
            eprintln!("key {fp} is already in the keyring");
            continue;
        }
        println!("{fp}  {}", keys::user_id(&k));
        publics.push(k);
        added += 1;
    }
    r.write_public(&publics)?;
    if !secret.is_empty() {
        let mut secrets = r.secret()?;
        for k in secret {
            let fp = keys::fingerprint(&k.primary_key);
            if !secrets
                .iter()
                .any(|s| keys::fingerprint(&s.primary_key) == fp)
            {
                secrets.push(k);
            }
        }
        r.write_secret(&secrets)?;
    }
    if !quiet {
        eprintln!("{added} key(s) imported");
    }
    Ok(0)
}

/// `key push|pull|search`.
fn keyserver(r: &Keyrings, cmd: KeyCommand, quiet: bool) -> Result<i32> {
    match cmd {
        KeyCommand::Push { url, fingerprint } => {
            use pgp::composed::ArmorOptions;
            let all = r.public()?;
            let k = all
                .iter()
                .find(|k| keys::matches(&keys::fingerprint(&k.primary_key), &fingerprint))
                .ok_or_else(|| anyhow::anyhow!("no public key matches {fingerprint}"))?;
            let armored = k.to_armored_string(ArmorOptions::default())?;
            keys::hkp_add(&url, &armored)?;
            if !quiet {
                eprintln!(
                    "public key {} sent to {url}",
                    keys::fingerprint(&k.primary_key)
                );
            }
            Ok(0)
        }
        KeyCommand::Pull { url, fingerprint } => {
            let text = keys::hkp_get(&url, &fingerprint)?;
            let got =
                integrity::parse_public_keys(text.as_bytes(), &format!("{url} key {fingerprint}"))?;
            let want = fingerprint.trim_start_matches("0x").to_ascii_uppercase();
            let Some(k) = got
                .into_iter()
                .find(|k| keys::fingerprint(&k.primary_key).ends_with(&want))
            else {
                bail!("{url} answered with a key that is not {fingerprint}");
            };
            let fp = keys::fingerprint(&k.primary_key);
            let mut publics = r.public()?;
            if publics
                .iter()
                .any(|p| keys::fingerprint(&p.primary_key) == fp)
            {
                eprintln!("key {fp} is already in the keyring");
                return Ok(0);
            }
            println!("{fp}  {}", keys::user_id(&k));
            publics.push(k);
            r.write_public(&publics)?;
            Ok(0)
        }
        KeyCommand::Search { url, query } => {
            let index = keys::hkp_index(&url, &query)?;
            for line in index.lines() {
                let f: Vec<&str> = line.split(':').collect();
                match f.first() {
                    Some(&"pub") => println!("key {}", f.get(1).unwrap_or(&"")),
                    Some(&"uid") => {
                        let uid = f.get(1).unwrap_or(&"");
                        println!(
                            "    {}",
                            percent_encoding::percent_decode_str(uid).decode_utf8_lossy()
                        );
                    }
                    _ => {}
                }
            }
            Ok(0)
        }
        _ => unreachable!("a keyserver verb"),
    }
}

fn export(r: &Keyrings, secret: bool, armor: bool, id: &str, file: &PathBuf) -> Result<i32> {
    use pgp::composed::ArmorOptions;
    use pgp::ser::Serialize as _;
    let data = if secret {
        let all = r.secret()?;
        let mut m = all
            .iter()
            .filter(|k| keys::matches(&keys::fingerprint(&k.primary_key), id));
        let k = m
            .next()
            .ok_or_else(|| anyhow::anyhow!("no secret key matches {id}"))?;
        if armor {
            k.to_armored_bytes(ArmorOptions::default())?
        } else {
            k.to_bytes()?
        }
    } else {
        let all = r.public()?;
        let mut m = all
            .iter()
            .filter(|k| keys::matches(&keys::fingerprint(&k.primary_key), id));
        let k = m
            .next()
            .ok_or_else(|| anyhow::anyhow!("no public key matches {id}"))?;
        if armor {
            k.to_armored_bytes(ArmorOptions::default())?
        } else {
            k.to_bytes()?
        }
    };
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if secret { 0o600 } else { 0o644 })
        .open(file)
        .with_context(|| format!("create {}", file.display()))?;
    f.write_all(&data)
        .with_context(|| format!("write {}", file.display()))?;
    Ok(0)
}
