//! The fuzz targets' seed corpus (`fuzz/corpus/<target>/`) in the ordinary test suite: see
//! `sessionwarden_test::fuzz_corpus`.
//!
//! Regenerate the seeds: `SESSIONWARDEN_WRITE_FUZZ_CORPUS=1 cargo test -p sessionwarden-tower --test fuzz_corpus`.

sessionwarden_test::fuzz_corpus_tests!(sessionwarden_tower::__fuzzing);
