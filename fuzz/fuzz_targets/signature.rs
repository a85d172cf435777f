//! SIF signatures: a whole image through `sif::integrity::verify` (signature objects decoded
//! as clear-signed PGP, legacy or DSSE; signed metadata JSON compared with the image), in
//! current and legacy modes, and OpenPGP keyring parsing. First byte: 0 keyring, else image.
#![no_main]

use libfuzzer_sys::fuzz_target;
use singlet::sif::integrity::{self, Keys, VerifyOpts};

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    if *mode == 0 {
        let _ = integrity::parse_public_keys(rest, "fuzz");
        let _ = integrity::parse_secret_keys(rest, "fuzz");
        return;
    }
    let Ok(mut img) = singlet::sif::SifImage::from_reader(std::io::Cursor::new(rest)) else {
        return;
    };
    let keys = Keys::default();
    for legacy in [false, true] {
        let opts = VerifyOpts {
            legacy,
            all: mode & 1 == 1,
            ..VerifyOpts::default()
        };
        let _ = integrity::verify(&mut img, &opts, &keys);
    }
});
