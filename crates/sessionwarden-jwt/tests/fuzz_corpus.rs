//! The fuzz targets' seed corpus (`fuzz/corpus/<target>/`): every seed the generator makes is
//! accepted (`valid-*`) or rejected (`hostile-*`) as its name says, and every file in the
//! corpus runs through its target without breaking an invariant. This runs the targets'
//! assertions in the ordinary test suite, without cargo-fuzz.
//!
//! Regenerate the seeds: `SESSIONWARDEN_WRITE_FUZZ_CORPUS=1 cargo test -p sessionwarden-jwt --test fuzz_corpus`.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use sessionwarden_jwt::__fuzzing::{seeds, targets};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target)
}

#[test]
fn seeds_are_accepted_or_rejected_as_named() {
    let targets = targets();
    let write = std::env::var_os("SESSIONWARDEN_WRITE_FUZZ_CORPUS").is_some();
    let seeds = seeds();
    for (target, _) in &targets {
        assert!(seeds.iter().any(|(t, _, _)| t == target), "{target} has no seeds");
    }
    for (target, name, bytes) in seeds {
        let (_, run) = targets.iter().find(|(t, _)| *t == target).expect("seed for a known target");
        let accepted = run(&bytes);
        assert_eq!(accepted, name.starts_with("valid-"), "{target}/{name}");
        if write {
            let dir = corpus_dir(target);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(&name), &bytes).unwrap();
        }
    }
}

#[test]
fn corpus_files_keep_the_invariants() {
    if std::env::var_os("SESSIONWARDEN_WRITE_FUZZ_CORPUS").is_some() {
        // The other test is writing the corpus right now.
        eprintln!("SKIPPED: the corpus is being regenerated");
        return;
    }
    let mut files = 0;
    for (target, run) in targets() {
        let Ok(entries) = std::fs::read_dir(corpus_dir(target)) else {
            panic!("fuzz/corpus/{target} is missing: regenerate it (see this file's header)");
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let accepted = run(&std::fs::read(&path).unwrap());
            if name.starts_with("valid-") {
                assert!(accepted, "{target}/{name} is no longer accepted");
            } else if name.starts_with("hostile-") {
                assert!(!accepted, "{target}/{name} is now accepted");
            }
            files += 1;
        }
    }
    assert!(files > 0);
}
