//! `singlet push` and `singlet registry login|logout|list`: sharing SIFs through OCI registries
//! (`image::oras`) and the registry credentials pulls and pushes read (`image::auth`).

use std::io::{IsTerminal as _, Read as _};
use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};

use super::image::RegistryFlags;
use crate::image::auth;
use crate::image::library;
use crate::image::oci::fetch::Credentials;
use crate::image::oras::{self, OrasRef};

/// Examples of `push`.
pub const PUSH_EXAMPLES: &str = "\
Examples:
  singlet push image.sif oras://ghcr.io/me/image:1.0
  singlet push --no-https image.sif oras://127.0.0.1:5000/test/image:latest
  singlet registry login --username me oras://ghcr.io   (credentials for later pushes)
  singlet push image.sif library://me/tools/image:1.0,latest   (the remote in use; signed)
  singlet push -U -D 'first try' image.sif library://me/tools/image:dev";

// `doc` only under rustdoc: see "Deferred verbs" in `cli/mod.rs`.
#[cfg_attr(doc, doc = "`push` arguments.")]
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Registry flags.
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// Print the result as JSON (digests, bytes sent)
    #[arg(long)]
    pub json: bool,
    /// library://: push an image that carries no signature (Apptainer refuses those)
    #[arg(short = 'U', long)]
    pub allow_unsigned: bool,
    /// library://: description of the image
    #[arg(short = 'D', long, default_value = "")]
    pub description: String,
    /// library://: the library endpoint (instead of the remote in use)
    #[arg(long, value_name = "URL")]
    pub library: Option<String>,
    /// The SIF to push
    pub image: PathBuf,
    /// Where: oras://REGISTRY/REPOSITORY[:TAG] or library://ENTITY/COLLECTION/CONTAINER[:TAG]
    pub uri: String,
}

fn push_library(a: &PushArgs, quiet: bool) -> Result<i32> {
    let r = library::LibraryRef::parse(&a.uri)?;
    let mut img = crate::sif::SifImage::open(&a.image)
        .with_context(|| format!("{}: not a SIF image", a.image.display()))?;
    let signed = img
        .descriptors()
        .any(|d| d.data_type() == crate::sif::DataType::Signature);
    let arch = img
        .primary_system_partition()
        .ok()
        .and_then(|d| d.partition())
        .map(|p| p.arch.go_name().to_string())
        .unwrap_or_else(|| crate::image::oci::fetch::host_arch().to_string());
    drop(img);
    if !signed && !a.allow_unsigned {
        bail!(
            "{}: the image is not signed; sign it first (singlet sign) or push with \
             --allow-unsigned",
            a.image.display()
        );
    }
    let host = r.host.as_ref().map(|h| format!("https://{h}"));
    let ep = library::endpoint(a.library.as_deref().or(host.as_deref()))?;
    let progress = !quiet && std::io::stderr().is_terminal();
    let p = library::push(&ep, &a.image, &r, &arch, &a.description, progress)?;
    if a.json {
        println!("{}", serde_json::to_string(&p)?);
    } else if !quiet {
        if p.uploaded == 0 {
            eprintln!(
                "{:<8} The library has this image already; tags set",
                "INFO:"
            );
        }
        eprintln!(
            "{:<8} Pushed {} to {} ({})",
            "INFO:",
            a.image.display(),
            a.uri,
            p.hash
        );
    }
    Ok(0)
}

/// `push`: the SIF as an OCI artifact with Apptainer's media types; a blob the registry has
/// already is not sent again.
///
/// # Errors
/// A bad URI, a file that is not a SIF, registry errors.
pub fn push(a: &PushArgs, quiet: bool) -> Result<i32> {
    if a.uri.starts_with("library://") {
        return push_library(a, quiet);
    }
    if !a.uri.starts_with("oras://") {
        bail!(
            "{}: push takes an oras://REGISTRY/REPOSITORY[:TAG] or a \
             library://ENTITY/COLLECTION/CONTAINER[:TAG] destination",
            a.uri
        );
    }
    let r = OrasRef::parse(&a.uri)?;
    let fetch = super::image::site_registries(a.registry.fetch_opts(None, quiet)?)?;
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

// `doc` only under rustdoc: see "Deferred verbs" in `cli/mod.rs`.
#[cfg_attr(doc, doc = "`registry` verbs.")]
#[derive(Debug, Subcommand)]
#[command(defer = true)]
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
            let fetch = super::image::site_registries(fetch)?;
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

// `doc` only under rustdoc: see "Deferred verbs" in `cli/mod.rs`.
#[cfg_attr(doc, doc = "`search` arguments.")]
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The library endpoint (instead of the remote in use)
    #[arg(long, value_name = "URL")]
    pub library: Option<String>,
    /// Only images of this architecture
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// Print the library's answer as JSON
    #[arg(long)]
    pub json: bool,
    /// Text to look for (3 characters or more)
    pub query: String,
}

fn library_uri(v: &serde_json::Value, parts: &[&str]) -> String {
    let p: Vec<&str> = parts
        .iter()
        .filter_map(|k| v[*k].as_str())
        .filter(|s| !s.is_empty())
        .collect();
    format!("library://{}", p.join("/"))
}

/// `search`: entities, collections and containers of the library matching the query.
///
/// # Errors
/// No endpoint, a short query, the library's errors.
pub fn search(a: &SearchArgs) -> Result<i32> {
    let ep = library::endpoint(a.library.as_deref())?;
    let d = library::search(&ep, &a.query, a.arch.as_deref())?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(0);
    }
    let list = |k: &str| d[k].as_array().cloned().unwrap_or_default();
    let q = &a.query;
    for (what, key, parts) in [
        ("users", "entity", &["name"][..]),
        ("collections", "collection", &["entityName", "name"][..]),
        (
            "containers",
            "container",
            &["entityName", "collectionName", "name"][..],
        ),
    ] {
        let items = list(key);
        if items.is_empty() {
            println!("No {what} found for '{q}'\n");
            continue;
        }
        println!("Found {} {what} for '{q}'", items.len());
        for i in &items {
            println!("\t{}", library_uri(i, parts));
            if key == "container" {
                let mut tags: Vec<String> = i["archTags"]
                    .as_object()
                    .map(|m| {
                        m.values()
                            .filter_map(|t| t.as_object())
                            .flat_map(|t| t.keys().cloned())
                            .collect()
                    })
                    .unwrap_or_default();
                if let Some(t) = i["imageTags"].as_object() {
                    tags.extend(t.keys().cloned());
                }
                tags.sort();
                tags.dedup();
                println!("\t\tTags: {}", tags.join(" "));
            }
        }
        println!();
    }
    Ok(0)
}

// `doc` only under rustdoc: see "Deferred verbs" in `cli/mod.rs`.
#[cfg_attr(doc, doc = "`remote` verbs (library endpoints).")]
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum RemoteCommand {
    /// Add a library endpoint (a service root URL), and use it when it is the first
    #[command(
        after_help = "Examples:\n  singlet remote add mylib https://library.example.org\n  singlet remote add --no-login lab http://127.0.0.1:8080"
    )]
    Add {
        /// Do not ask for a token now
        #[arg(long)]
        no_login: bool,
        /// Name of the remote
        name: String,
        /// The service root, https://HOST[:PORT] (http:// for a test server)
        uri: String,
    },
    /// Use this remote for library:// from now on
    #[command(after_help = "Examples:\n  singlet remote use mylib")]
    Use {
        /// Name of the remote
        name: String,
    },
    /// List the remotes (the one in use is marked)
    #[command(after_help = "Examples:\n  singlet remote list\n  singlet remote list --json")]
    List {
        /// Print JSON (tokens are never shown)
        #[arg(long)]
        json: bool,
    },
    /// Remove a remote
    #[command(after_help = "Examples:\n  singlet remote remove mylib")]
    Remove {
        /// Name of the remote
        name: String,
    },
    /// Store an access token for a remote (checked with the library first)
    #[command(
        after_help = "Examples:\n  singlet remote login mylib            (asks for the token)\n  singlet remote login --tokenfile ~/.lib-token mylib"
    )]
    Login {
        /// Read the token from this file (default: standard input or the terminal)
        #[arg(long, value_name = "FILE")]
        tokenfile: Option<PathBuf>,
        /// Name of the remote (default: the one in use)
        name: Option<String>,
    },
    /// Forget the token of a remote
    #[command(after_help = "Examples:\n  singlet remote logout\n  singlet remote logout mylib")]
    Logout {
        /// Name of the remote (default: the one in use)
        name: Option<String>,
    },
    /// Show a remote's library API, its version, and whether the token is accepted
    #[command(after_help = "Examples:\n  singlet remote status\n  singlet remote status mylib")]
    Status {
        /// Name of the remote (default: the one in use)
        name: Option<String>,
    },
}

fn remote_name(remotes: &library::Remotes, name: Option<String>) -> Result<String> {
    let n = name
        .or_else(|| remotes.active.clone())
        .context("no remote in use: name one, or `singlet remote use NAME`")?;
    if !remotes.remotes.contains_key(&n) {
        bail!("no remote named {n} (singlet remote list)");
    }
    Ok(n)
}

fn read_token(tokenfile: Option<&PathBuf>) -> Result<String> {
    let t = match tokenfile {
        Some(f) => std::fs::read_to_string(f).with_context(|| format!("read {}", f.display()))?,
        None if std::io::stdin().is_terminal() => super::image::prompt("Access token: ", false)?,
        None => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("read the token from standard input")?;
            s
        }
    };
    let t = t.trim().to_string();
    if t.is_empty() {
        bail!("empty access token");
    }
    Ok(t)
}

fn endpoint_of(remotes: &library::Remotes, name: &str) -> Result<library::Endpoint> {
    let e = &remotes.remotes[name];
    Ok(library::Endpoint {
        api: library::endpoint(Some(&e.uri))?.api,
        token: e.token.clone(),
        name: name.to_string(),
    })
}

/// `remote list`: a table (with the `remote.yaml` files the remotes were imported from, on
/// stderr), or JSON rows with `--json`.
fn list_remotes(remotes: &library::Remotes, json: bool, quiet: bool) -> Result<()> {
    let say = |m: String| {
        if !quiet {
            eprintln!("{:<8} {m}", "INFO:");
        }
    };
    let rows: Vec<serde_json::Value> = remotes
        .remotes
        .iter()
        .map(|(n, r)| {
            serde_json::json!({
                "name": n,
                "uri": r.uri,
                "active": remotes.active.as_deref() == Some(n.as_str()),
                "logged_in": r.token.is_some(),
            })
        })
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    for f in &remotes.imported_from {
        say(format!(
            "Imported from {} (singlet has no remotes file yet; `singlet remote` changes \
             write {})",
            f.display(),
            library::Remotes::path().display()
        ));
    }
    println!("{:<16} {:<40} {:<6} LOGGED IN", "NAME", "URI", "ACTIVE");
    for r in rows {
        println!(
            "{:<16} {:<40} {:<6} {}",
            r["name"].as_str().unwrap_or(""),
            r["uri"].as_str().unwrap_or(""),
            if r["active"] == true { "YES" } else { "NO" },
            if r["logged_in"] == true { "YES" } else { "NO" },
        );
    }
    Ok(())
}

/// `remote …`.
///
/// # Errors
/// Unknown remotes, bad URLs, a refused token, the remotes file.
pub fn remote(cmd: RemoteCommand, quiet: bool) -> Result<i32> {
    let mut remotes = library::Remotes::load()?;
    let say = |m: String| {
        if !quiet {
            eprintln!("{:<8} {m}", "INFO:");
        }
    };
    match cmd {
        RemoteCommand::Add {
            no_login,
            name,
            uri,
        } => {
            if remotes.remotes.contains_key(&name) {
                bail!("a remote named {name} exists (singlet remote remove {name} first)");
            }
            let uri = library::normalize_uri(&uri)?;
            remotes.remotes.insert(
                name.clone(),
                library::RemoteEntry {
                    uri: uri.clone(),
                    token: None,
                },
            );
            if remotes.active.is_none() {
                remotes.active = Some(name.clone());
            }
            remotes.save()?;
            say(format!("Remote {name} added ({uri})"));
            if !no_login && std::io::stdin().is_terminal() {
                return remote(
                    RemoteCommand::Login {
                        tokenfile: None,
                        name: Some(name),
                    },
                    quiet,
                );
            }
        }
        RemoteCommand::Use { name } => {
            let name = remote_name(&remotes, Some(name))?;
            remotes.active = Some(name.clone());
            remotes.save()?;
            say(format!("Remote {name} now in use"));
        }
        RemoteCommand::List { json } => list_remotes(&remotes, json, quiet)?,
        RemoteCommand::Remove { name } => {
            let name = remote_name(&remotes, Some(name))?;
            remotes.remotes.remove(&name);
            if remotes.active.as_deref() == Some(name.as_str()) {
                remotes.active = None;
            }
            remotes.save()?;
            say(format!("Remote {name} removed"));
        }
        RemoteCommand::Login { tokenfile, name } => {
            let name = remote_name(&remotes, name)?;
            let token = read_token(tokenfile.as_ref())?;
            let mut ep = endpoint_of(&remotes, &name)?;
            ep.token = Some(token.clone());
            let who = library::check_token(&ep).map_err(|e| {
                let e = e.to_string();
                if e.contains("refused") {
                    anyhow::anyhow!("{name}: the library refused this token; nothing was stored")
                } else {
                    anyhow::anyhow!("{e}; the token was not stored")
                }
            })?;
            if let Some(r) = remotes.remotes.get_mut(&name) {
                r.token = Some(token);
            }
            remotes.save()?;
            let user = who["username"].as_str().unwrap_or("");
            say(format!(
                "Token for {name} stored{}",
                if user.is_empty() {
                    String::new()
                } else {
                    format!(" (user {user})")
                }
            ));
        }
        RemoteCommand::Logout { name } => {
            let name = remote_name(&remotes, name)?;
            if let Some(r) = remotes.remotes.get_mut(&name) {
                r.token = None;
            }
            remotes.save()?;
            say(format!("Token for {name} removed"));
        }
        RemoteCommand::Status { name } => {
            let name = remote_name(&remotes, name)?;
            let ep = endpoint_of(&remotes, &name)?;
            let v = library::version(&ep)?;
            println!("Remote:      {name} ({})", remotes.remotes[&name].uri);
            println!("Library API: {}", ep.api);
            println!(
                "Version:     {} (API {})",
                v["version"].as_str().unwrap_or("?"),
                v["apiVersion"].as_str().unwrap_or("?")
            );
            let login = match &ep.token {
                None => "not logged in".to_string(),
                Some(_) => match library::check_token(&ep) {
                    Ok(w) => format!(
                        "token accepted{}",
                        w["username"]
                            .as_str()
                            .map(|u| format!(" (user {u})"))
                            .unwrap_or_default()
                    ),
                    Err(e) => format!("token refused: {e}"),
                },
            };
            println!("Login:       {login}");
        }
    }
    Ok(0)
}

// `doc` only under rustdoc: see "Deferred verbs" in `cli/mod.rs`.
#[cfg_attr(doc, doc = "`delete` arguments.")]
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Architecture of the image to delete (default: this host's)
    #[arg(short = 'A', long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// Do not ask for confirmation (needed when not on a terminal)
    #[arg(short = 'F', long)]
    pub force: bool,
    /// The library endpoint (instead of the remote in use)
    #[arg(long, value_name = "URL")]
    pub library: Option<String>,
    /// The image: library://ENTITY/COLLECTION/CONTAINER:TAG
    pub uri: String,
}

/// `delete`: removes an image from a library endpoint.
///
/// # Errors
/// A bad URI, no confirmation, the library's errors.
pub fn delete(a: &DeleteArgs, quiet: bool) -> Result<i32> {
    if !a.uri.starts_with("library://") {
        bail!("{}: delete takes a library:// image", a.uri);
    }
    let r = library::LibraryRef::parse(&a.uri)?;
    if !a.force {
        if !std::io::stdin().is_terminal() {
            bail!("{}: not on a terminal to confirm; give --force", a.uri);
        }
        let answer = super::image::prompt(&format!("Delete {} [N/y]? ", a.uri), true)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            bail!("{}: not deleted", a.uri);
        }
    }
    let host = r.host.as_ref().map(|h| format!("https://{h}"));
    let ep = library::endpoint(a.library.as_deref().or(host.as_deref()))?;
    let arch = a
        .arch
        .clone()
        .unwrap_or_else(|| crate::image::oci::fetch::host_arch().to_string());
    library::delete(&ep, &r, &arch)?;
    if !quiet {
        eprintln!("{:<8} Deleted {} ({arch})", "INFO:", a.uri);
    }
    Ok(0)
}
