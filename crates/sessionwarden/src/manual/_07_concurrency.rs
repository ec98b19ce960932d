//! # Concurrent requests on one session
//!
//! A page that fires several requests at once, or a client that retries, makes concurrent
//! writes to one session the normal case, not an edge case. Three mechanisms keep every
//! write that was acknowledged.
//!
//! **Change sets, not records.** A request keeps what it changed (keys set or removed,
//! `clear`, user, persistence) apart from the record it loaded. Its save is a
//! compare-and-set on the record's `version` ([`SaveOutcome`]). When another request saved
//! first, the store answers with the newer record; the change set is replayed onto it and
//! the save retried (jittered backoff, a 3 s budget, then [`Error::Contention`](crate::Error::Contention)
//! and a 503). Writes to different keys are never lost; writes to the same key: the last
//! save wins. A record that vanished (destroyed, revoked, expired) is never resurrected.
//!
//! **Group commit in the process.** The first writer of a session becomes its leader; writers
//! that arrive while it saves leave their change sets in a queue and wait. When the leader's
//! save is done it hands the lead, with the record it saved, to the first waiter, which
//! replays every queued change set onto that record and saves them in one compare-and-set,
//! then answers each waiter. One session carries about one batch per store round trip however
//! many writers it has, and no save starts from a record the process knows to be stale. A
//! write is acknowledged only after the save that carries it succeeded. The lead travels as
//! an owned value inside the hand-off message, so a leader whose request is cancelled passes
//! the lead on when dropped; a session's queue always has a leader or is closed.
//!
//! **Across processes** the compare-and-set settles races, as above: the group commit only
//! removes the waste inside one process.
//!
//! **Renewal** of the idle deadline is itself a write, so it is throttled
//! ([`Expiry::with_renew_after`](crate::Expiry::with_renew_after)); it goes through the same
//! path and never overwrites a concurrent change.
//!
//! [`SaveOutcome`]: crate::SaveOutcome
