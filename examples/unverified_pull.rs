//! A measuring tool for `bench/pull.sh oras`, not part of singlet: the blob transfer of
//! `singlet pull --disable-cache oras://…` without the SHA-256 check, to show what the check
//! costs.
//!
//! It does what `src/image/oras.rs` does for a fresh download (oci-client over plain HTTP, a
//! current-thread tokio runtime, one `GET /v2/` probe, a ranged blob request from byte 0,
//! chunks handed through a channel of 8 to a writer thread, `sys::mem::ReusedHeap` while the
//! transfer runs) and leaves out the hasher thread, the manifest request and the SIF checks.
//! Never use its output: nothing checks it.
//!
//! Usage: `unverified_pull REGISTRY REPOSITORY DIGEST SIZE OUT`, e.g.
//! `unverified_pull 127.0.0.1:5000 test/debian-sif sha256:3310… 59826176 /tmp/x.sif`.

use std::io::Write as _;

use futures_util::StreamExt as _;
use oci_client::client::{BlobResponse, ClientConfig, ClientProtocol};
use oci_client::manifest::OciDescriptor;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [registry, repository, digest, size, out] = args.as_slice() else {
        anyhow::bail!("usage: unverified_pull REGISTRY REPOSITORY DIGEST SIZE OUT");
    };
    let layer = OciDescriptor {
        media_type: singlet::image::oras::SIF_LAYER_MEDIA_TYPE.to_string(),
        digest: digest.clone(),
        size: size.parse()?,
        ..Default::default()
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = Client::try_from(ClientConfig {
        protocol: ClientProtocol::Http,
        accept_invalid_certificates: true,
        ..Default::default()
    })?;
    let reference = Reference::with_digest(registry.clone(), repository.clone(), digest.clone());
    let mut file = std::fs::File::create(out)?;
    rt.block_on(async {
        client
            .auth(
                &reference,
                &RegistryAuth::Anonymous,
                RegistryOperation::Pull,
            )
            .await?;
        let mut stream = match client
            .pull_blob_stream_partial(&reference, &layer, 0, None)
            .await?
        {
            BlobResponse::Partial(s) | BlobResponse::Full(s) => s,
        };
        let _heap = singlet::sys::mem::ReusedHeap::begin();
        let (to_writer, chunks) = std::sync::mpsc::sync_channel::<bytes::Bytes>(8);
        let writer = std::thread::spawn(move || -> std::io::Result<()> {
            for chunk in chunks {
                file.write_all(&chunk)?;
            }
            Ok(())
        });
        while let Some(chunk) = stream.next().await {
            if to_writer.send(chunk?).is_err() {
                break;
            }
        }
        drop(to_writer);
        writer
            .join()
            .map_err(|_| anyhow::anyhow!("the writer panicked"))??;
        anyhow::Ok(())
    })
}
