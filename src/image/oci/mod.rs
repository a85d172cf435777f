//! OCI images: references, fetching through skopeo's image proxy, applying layers, and
//! writing the result as a squashfs (docs/reference/apptainer.md §7.2, docs/reference/design.md decision 8).

pub mod fetch;
pub mod layer;
pub mod reference;
pub mod squash;
