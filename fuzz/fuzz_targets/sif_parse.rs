//! SIF reader: header → descriptors → primary system partition → backhand superblock and
//! directory tree → read of /.singularity.d files; the same reads through the lazy lookup
//! (singlet::image::lookup). (On valid images the two are compared entry by entry in the
//! lookup's unit tests; a hostile image may legitimately be read differently, e.g. with
//! duplicate names in a directory.) No input may panic, hang, allocate without
//! bound or read outside an object.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use singlet::image::lookup::SquashLookup;
use singlet::image::metadata::{from_fs, sif_objects};
use singlet::image::squashfs::SquashFs;
use singlet::sif::{siftool, SifImage};

fuzz_target!(|data: &[u8]| {
    let Ok(mut img) = SifImage::from_reader(Cursor::new(data.to_vec())) else {
        return;
    };
    let ds: Vec<_> = img.descriptors().collect();
    let _ = siftool::list(ds.iter());
    let _ = siftool::header(img.header());
    for d in &ds {
        let _ = siftool::info(d);
        if d.size() < 1 << 20 {
            if let Ok(v) = img.read_object(d) {
                assert_eq!(v.len() as u64, d.size());
            }
        }
    }
    let _ = sif_objects(&mut img);
    if let Ok(p) = img.primary_system_partition() {
        if let Ok(fs) = SquashFs::open(img.object_reader(&p), "fuzz") {
            let _ = from_fs(&fs);
        }
        if let Ok(lazy) = SquashLookup::open(img.object_reader(&p), "fuzz") {
            let _ = from_fs(&lazy);
            let _ = lazy.read(std::path::Path::new("/bin/sh"));
        }
    }
});
