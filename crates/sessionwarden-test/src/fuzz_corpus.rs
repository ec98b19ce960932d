//! The fuzz targets' seed corpus (`fuzz/corpus/<target>/`), checked in the ordinary test suite
//! without cargo-fuzz: every seed a crate's generator makes is accepted (`valid-*`) or rejected
//! (`hostile-*`) as its name says, and every file in the corpus runs through its target
//! without breaking an invariant (the targets assert them).
//!
//! Each crate with fuzz targets mounts both checks over its `__fuzzing` module with
//! [`fuzz_corpus_tests!`](crate::fuzz_corpus_tests); `SESSIONWARDEN_WRITE_FUZZ_CORPUS=1` on
//! that test regenerates the crate's seeds.

use std::path::{Path, PathBuf};

/// A fuzz target: its name (the corpus directory) and its run function, which returns whether
/// the input was accepted.
pub type Target = (&'static str, fn(&[u8]) -> bool);

/// A seed: its target, its file name (`valid-…` or `hostile-…`) and its bytes.
pub type Seed = (&'static str, String, Vec<u8>);

const WRITE: &str = "SESSIONWARDEN_WRITE_FUZZ_CORPUS";

fn corpus_dir(workspace: &Path, target: &str) -> PathBuf {
    workspace.join("fuzz/corpus").join(target)
}

/// Every target has seeds; each seed is accepted exactly when its name says `valid-`. Under
/// `SESSIONWARDEN_WRITE_FUZZ_CORPUS` the seeds are written to the corpus too.
///
/// # Panics
/// On a seed judged against its name, or one for an unknown target.
pub fn seeds_are_accepted_or_rejected_as_named(workspace: &Path, targets: &[Target], seeds: Vec<Seed>) {
    let write = std::env::var_os(WRITE).is_some();
    for (target, _) in targets {
        assert!(seeds.iter().any(|(t, _, _)| t == target), "{target} has no seeds");
    }
    for (target, name, bytes) in seeds {
        let (_, run) = targets.iter().find(|(t, _)| *t == target).expect("seed for a known target");
        assert_eq!(run(&bytes), name.starts_with("valid-"), "{target}/{name}");
        if write {
            let dir = corpus_dir(workspace, target);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(&name), &bytes).unwrap();
        }
    }
}

/// Every file of every target's corpus directory runs through the target; `valid-*` files are
/// still accepted and `hostile-*` ones still rejected (files the fuzzer added may go either
/// way, as long as no invariant breaks).
///
/// # Panics
/// On a missing corpus directory, an empty corpus, or a file judged against its name.
pub fn corpus_files_keep_the_invariants(workspace: &Path, targets: &[Target]) {
    if std::env::var_os(WRITE).is_some() {
        // The other check is writing the corpus right now.
        eprintln!("SKIPPED: the corpus is being regenerated");
        return;
    }
    let mut files = 0;
    for (target, run) in targets {
        let Ok(entries) = std::fs::read_dir(corpus_dir(workspace, target)) else {
            panic!("fuzz/corpus/{target} is missing: regenerate it ({WRITE}=1 on this test)");
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

/// Mounts both corpus checks over a crate's `__fuzzing` module (its `targets()` and
/// `seeds()`), for a crate two levels below the workspace root:
/// `sessionwarden_test::fuzz_corpus_tests!(sessionwarden_jwt::__fuzzing);`.
#[macro_export]
macro_rules! fuzz_corpus_tests {
    ($fuzzing:path) => {
        fn workspace() -> ::std::path::PathBuf {
            ::std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
        }

        #[test]
        fn seeds_are_accepted_or_rejected_as_named() {
            use $fuzzing as fuzzing;
            $crate::fuzz_corpus::seeds_are_accepted_or_rejected_as_named(
                &workspace(),
                &fuzzing::targets(),
                fuzzing::seeds(),
            );
        }

        #[test]
        fn corpus_files_keep_the_invariants() {
            use $fuzzing as fuzzing;
            $crate::fuzz_corpus::corpus_files_keep_the_invariants(&workspace(), &fuzzing::targets());
        }
    };
}
