//! SIF reader: header → descriptors → primary system partition → backhand superblock and
//! directory tree → read of /.singularity.d files. No input may panic, hang, allocate without
//! bound or read outside an object.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
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
        let r = img.object_reader(&p);
        if let Ok(fs) = SquashFs::open(r, "fuzz") {
            let _ = from_fs(&fs);
        }
    }
});
