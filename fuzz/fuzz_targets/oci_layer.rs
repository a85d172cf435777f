//! OCI layer applier and image reference parser: any bytes as a layer blob (plain, gzip or
//! zstd tar) applied to an empty directory, then the same bytes as a reference string. No
//! input may panic, hang, or create anything outside the target directory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use singlet::image::oci::fetch::Layer;
use singlet::image::oci::layer::Tree;
use singlet::image::oci::reference::ImageReference;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("tempdir");
    let blob = dir.path().join("blob");
    std::fs::write(&blob, data).expect("write blob");
    let root = dir.path().join("rootfs");
    std::fs::create_dir(&root).expect("mkdir");
    let digest = format!(
        "sha256:{}",
        Sha256::digest(data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let layer = Layer {
        path: blob,
        digest,
        media_type: "application/vnd.oci.image.layer.v1.tar".into(),
        size: data.len() as u64,
    };
    let mut tree = Tree::new(&root).expect("tree");
    let _ = tree.apply(&layer);
    // Nothing may appear beside the rootfs but the blob (when it was not removed).
    for e in std::fs::read_dir(dir.path()).expect("read") {
        let n = e.expect("entry").file_name();
        assert!(n == "rootfs" || n == "blob", "escaped: {n:?}");
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(r) = ImageReference::parse(&format!("docker://{s}")) {
            let _ = r.skopeo();
            let _ = r.deffile();
        }
    }
});
