//! The capability suites (audit log, rate limits, one-time keys, session policy, keyrings) on the in-process store.
//! Clones of one `MemoryStore` share its state, so they stand in for two "nodes" of one process.
#![allow(clippy::unwrap_used, missing_docs)]

use sessionwarden_tower::MemoryStore;

async fn two_clones() -> (MemoryStore, MemoryStore) {
    let store = MemoryStore::default();
    (store.clone(), store)
}

sessionwarden_test::audit_conformance!(audit_memory, || async { MemoryStore::default() }, nodes: two_clones);
sessionwarden_test::rate_limit_conformance!(rate_limit_memory, || async { MemoryStore::default() }, nodes: two_clones);
sessionwarden_test::one_time_conformance!(one_time_memory, || async { MemoryStore::default() }, nodes: two_clones);
sessionwarden_test::session_policy_conformance!(policy_memory, || async { MemoryStore::default() }, nodes: two_clones);
sessionwarden_test::keyring_store_conformance!(keyring_memory, || async { MemoryStore::default() }, nodes: two_clones);
