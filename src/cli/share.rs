//! `singlet push` and `singlet registry login|logout|list`: sharing SIFs through OCI registries
//! (`image::oras`) and the registry credentials pulls and pushes read (`image::auth`).

use std::io::{IsTerminal as _, Read as _};
use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};

use super::image::RegistryFlags;
use crate::image::auth;
use crate::image::oci::fetch::Credentials;
use crate::image::oras::{self, OrasRef};

/// Examples of `push`.
pub const PUSH_EXAMPLES: &str = "\
Examples:
  singlet push image.sif oras://ghcr.io/me/image:1.0
  singlet push --no-https image.sif oras://127.0.0.1:5000/test/image:latest
  singlet registry login --username me oras://ghcr.io   (credentials for later pushes)";

/// `push` arguments.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Registry flags.
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// Print the result as JSON (manifest and SIF digests, bytes sent)
    #[arg(long)]
    pub json: bool,
    /// The SIF to push
    pub image: PathBuf,
    /// Where: oras://REGISTRY/REPOSITORY[:TAG]
    pub uri: String,
}

/// `push`: the SIF as an OCI artifact with Apptainer's media types; a blob the registry has
/// already is not sent again.
///
/// # Errors
/// A bad URI, a file that is not a SIF, registry errors.
pub fn push(a: &PushArgs, quiet: bool) -> Result<i32> {
    if a.uri.starts_with("library://") {
        bail!(
            "{}: library:// pushes need a library endpoint, which singlet does not speak yet; \
             push to an OCI registry with oras://",
            a.uri
        );
    }
    if !a.uri.starts_with("oras://") {
        bail!(
            "{}: push takes an oras://REGISTRY/REPOSITORY[:TAG] destination",
            a.uri
        );
    }
    let r = OrasRef::parse(&a.uri)?;
    let fetch = a.registry.fetch_opts(None, quiet)?;
    let t = oras::push(&a.image, &r, &fetch, fetch.progress)?;
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "uri": a.uri,
                "manifest": t.manifest_digest,
                "layer": t.layer_digest,
                "size": t.size,
                "uploaded": t.moved,
            })
        );
    } else if !quiet {
        if t.moved == 0 {
            eprintln!(
                "{:<8} The registry had {} already; only the manifest was sent",
                "INFO:", t.layer_digest
            );
        }
        eprintln!(
            "{:<8} Pushed {} to {} ({})",
            "INFO:",
            a.image.display(),
            a.uri,
            t.manifest_digest
        );
    }
    Ok(0)
}

/// `registry` verbs.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Store credentials for a registry (checked with the registry first)
    #[command(
        after_help = "Examples:\n  singlet registry login --username me docker://ghcr.io\n  \
                      echo \"$TOKEN\" | singlet registry login -u me --password-stdin oras://ghcr.io\n  \
                      singlet registry login --no-https -u alice oras://127.0.0.1:5000"
    )]
    Login {
        /// User name (asked on the terminal when missing)
        #[arg(short = 'u', long)]
        username: Option<String>,
        /// Password or token (visible to other users in the process list: prefer
        /// --password-stdin)
        #[arg(short = 'p', long, conflicts_with = "password_stdin")]
        password: Option<String>,
        /// Read the password or token from standard input
        #[arg(long)]
        password_stdin: bool,
        /// Plain HTTP (and no TLS verification) to check the login
        #[arg(long = "no-https", alias = "nohttps")]
        no_https: bool,
        /// The containers auth.json to write (default: $REGISTRY_AUTH_FILE or
        /// ~/.config/containers/auth.json, which Podman and skopeo read too)
        #[arg(long, value_name = "FILE")]
        authfile: Option<PathBuf>,
        /// The registry: docker://HOST[:PORT], oras://HOST[:PORT] or HOST[:PORT]
        uri: String,
    },
    /// Remove the stored credentials of a registry
    #[command(after_help = "Examples:\n  singlet registry logout docker://ghcr.io")]
    Logout {
        /// The containers auth.json to change (default as for login)
        #[arg(long, value_name = "FILE")]
        authfile: Option<PathBuf>,
        /// Remove every login of the file
        #[arg(short = 'a', long, conflicts_with = "uri")]
        all: bool,
        /// The registry
        #[arg(required_unless_present = "all")]
        uri: Option<String>,
    },
    /// List the stored logins (user names, never passwords), from every file read
    #[command(after_help = "Examples:\n  singlet registry list\n  singlet registry list --json")]
    List {
        /// Read only this auth file
        #[arg(long, value_name = "FILE")]
        authfile: Option<PathBuf>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

fn read_password(stdin: bool, given: Option<String>) -> Result<String> {
    if let Some(p) = given {
        return Ok(p);
    }
    if stdin {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("read the password from standard input")?;
        return Ok(s.trim_end_matches(['\n', '\r']).to_string());
    }
    if !std::io::stdin().is_terminal() {
        bail!("no password: give --password-stdin (or --password), or run on a terminal");
    }
    super::image::prompt("Password: ", false)
}

/// `registry …`.
///
/// # Errors
/// A bad registry, a refused login, an auth file that is not the caller's or not JSON.
pub fn registry(cmd: RegistryCommand, quiet: bool) -> Result<i32> {
    match cmd {
        RegistryCommand::Login {
            username,
            password,
            password_stdin,
            no_https,
            authfile,
            uri,
        } => {
            let key = auth::registry_key(&uri)?;
            let username = match username {
                Some(u) => u,
                None if std::io::stdin().is_terminal() && !password_stdin => {
                    super::image::prompt("Username: ", true)?
                }
                None => bail!("registry login: --username is required"),
            };
            let password = read_password(password_stdin, password)?;
            let creds = Credentials { username, password };
            let host = key.split('/').next().unwrap_or(&key).to_string();
            let fetch = RegistryFlags {
                no_https,
                ..Default::default()
            }
            .fetch_opts(None, true)?;
            let fetch = crate::image::oci::fetch::FetchOpts {
                credentials: Some(creds.clone()),
                ..fetch
            };
            oras::check_login(&host, &fetch)?;
            let path = auth::write_path(authfile.as_deref());
            auth::login(&path, &key, &creds)?;
            if !quiet {
                eprintln!(
                    "{:<8} Login to {key} as {} stored in {}",
                    "INFO:",
                    creds.username,
                    path.display()
                );
            }
            Ok(0)
        }
        RegistryCommand::Logout { authfile, all, uri } => {
            let path = auth::write_path(authfile.as_deref());
            let key = match (&uri, all) {
                (Some(u), false) => Some(auth::registry_key(u)?),
                _ => None,
            };
            let n = auth::logout(&path, key.as_deref())?;
            if n == 0 {
                bail!(
                    "{}: no login for {} there",
                    path.display(),
                    key.as_deref().unwrap_or("any registry")
                );
            }
            if !quiet {
                eprintln!(
                    "{:<8} Removed {n} login(s) from {}",
                    "INFO:",
                    path.display()
                );
            }
            Ok(0)
        }
        RegistryCommand::List { authfile, json } => {
            let logins = auth::list(authfile.as_deref())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&logins)?);
                return Ok(0);
            }
            println!("{:<32} {:<20} FILE", "REGISTRY", "USER");
            for l in logins {
                println!("{:<32} {:<20} {}", l.registry, l.username, l.file.display());
            }
            Ok(0)
        }
    }
}
