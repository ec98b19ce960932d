//! The manual: why sessionwarden is built the way it is.
//!
//! These chapters hold the design decisions that the code alone does not tell: the
//! invariants every part keeps, the wire formats, the threat model, and the reasons behind
//! the less obvious choices. They are part of the crate's documentation so that
//! `cargo doc -D warnings` checks every link in them against the code.
//!
//! 1. [`_01_invariants`]: the seven rules that hold across every crate, and what enforces each.
//! 2. [`_02_defaults`]: the secure defaults and where they come from.
//! 3. [`_03_threat_model`]: who we defend against, how, and what is out of reach.
//! 4. [`_04_envelope`]: the sealed cookie format.
//! 5. [`_05_keyring`]: keys, rotation, retirement, purpose-separated subkeys, the file format.
//! 6. [`_06_stores`]: the store contract, capabilities, and why the cookie store is not a
//!    server-side store.
//! 7. [`_07_concurrency`]: versioned saves, merging, and the group commit.
//! 8. [`_08_backends`]: the decisions per backend and integration (SQL, Redis, the local cache,
//!    CSRF, codecs, client metadata, JWT, maintenance).
//!
//! What each crate owns is in that crate's own documentation.

pub mod _01_invariants;
pub mod _02_defaults;
pub mod _03_threat_model;
pub mod _04_envelope;
pub mod _05_keyring;
pub mod _06_stores;
pub mod _07_concurrency;
pub mod _08_backends;
