//! Definition files: build-argument templates, the stage splitter, the parser and the helpers
//! that split `%labels` and `%files` bodies and make scripts of sections. Any text must give a result or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use singlet::image::deffile;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = deffile::looks_like_deffile(text);
    let given = std::collections::BTreeMap::from([("A".to_string(), "{{ A }}".to_string())]);
    if let Ok((t, _)) = deffile::template("fuzz.def", text, &given) {
        if let Ok(stages) = deffile::parse_stages("fuzz.def", &t) {
            for d in &stages {
                for f in &d.files {
                    let _ = deffile::files(&f.body);
                }
            }
        }
    }
    if let Ok(d) = deffile::parse("fuzz.def", text) {
        for s in d.sections.values() {
            let _ = deffile::script(s);
            let _ = deffile::labels(&s.body);
            let _ = deffile::files(&s.body);
        }
        for secs in d.apps.values() {
            for s in secs.values() {
                let _ = deffile::script(s);
            }
        }
    }
});
