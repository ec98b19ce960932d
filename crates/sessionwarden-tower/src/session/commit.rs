//! Group commit: concurrent writes of one session in this process are saved together.
//!
//! Requests that change the same session at the same time (a page firing several XHRs, a
//! client retrying) used to take turns on a per-session lock, each paying a full store round
//! trip, and the first save of each turn usually lost the compare-and-set to the writer before
//! it (its record was loaded before it queued). On a remote store that capped one session at
//! about one write per three round trips.
//!
//! Now the first writer of a session becomes its *leader*; writers that arrive while it saves
//! leave their change sets in a queue and wait. When the leader's save is done it hands the
//! lead, together with the record it saved, to the first waiter, which takes **every** change
//! set queued by then, replays them in arrival order onto that record and saves them in one
//! compare-and-set, then answers each waiter with the saved record. So one session carries
//! about one batch per round trip, however many writers it has, and no save starts from a
//! record this process already knows to be stale.
//!
//! What it does not change: the compare-and-set still settles races with other processes
//! (merge and retry, as before), a waiter's result is exactly what a save of its own would
//! have produced (its changes applied on top of the newest record), and a write is
//! acknowledged only after the save that carries it succeeded. If the leader's request is
//! cancelled mid-save, its waiters see the hand-off channel close and queue again with their
//! own copy of their changes, so nothing is lost or applied twice in a way that matters (the
//! changes are absolute values: applying one twice gives the same record).
//!
//! The lead itself travels as an owned [`Leader`] inside the hand-off message: if the writer
//! it was sent to is cancelled before it reads the message, dropping the message drops the
//! `Leader`, which passes the lead on again. A session's queue therefore always has a leader
//! or is closed; it cannot be left with waiters and nobody to save for them.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::Changes;
use crate::error::StoreError;
use crate::id::StoreKey;
use crate::record::Record;

/// How a batch's save ended, as told to each waiter of the batch.
#[derive(Clone)]
// large_enum_variant: one outcome per batch, matched at once; a box would only add an
// allocation to every save.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Outcome {
    /// Saved; the record as stored (every change of the batch applied).
    Saved(Record),
    /// The session was deleted or revoked meanwhile.
    Missing,
    /// The store failed: `operation`, and the driver's message.
    Unavailable(&'static str, String),
    /// The store reported a corrupt record.
    Corrupt(&'static str),
    /// Other processes kept winning the compare-and-set for the whole retry budget.
    Contention(u32),
}

impl Outcome {
    pub(crate) fn from_error(e: &StoreError) -> Self {
        match e {
            StoreError::Unavailable { operation, source } => Self::Unavailable(operation, source.to_string()),
            StoreError::Corrupt { reason } => Self::Corrupt(reason),
            // A kind of failure this version does not know: fail closed, as for an outage.
            other => Self::Unavailable("store", other.to_string()),
        }
    }
}

/// What a waiting writer is told.
pub(crate) enum Turn {
    /// A leader saved this writer's changes (or failed to).
    Done(Outcome),
    /// The writer leads the next batch (`Leader::latest`: the record the previous leader
    /// saved, if it did).
    Lead(Leader),
}

/// A queued writer's changes, handed to the leader that takes it.
pub(crate) struct Waiter {
    pub(crate) changes: Changes,
    reply: oneshot::Sender<Turn>,
}

impl Waiter {
    /// Answers the writer; a writer that went away (its request was cancelled) is skipped.
    pub(crate) fn answer(self, outcome: Outcome) {
        let _ = self.reply.send(Turn::Done(outcome));
    }
}

/// The sessions being written in one stripe, each with its waiting writers.
type Stripe = Mutex<HashMap<StoreKey, Vec<Waiter>>>;

/// One queue per session being written, in striped maps (a session's stripe is chosen by its
/// store key, whose bytes are uniformly random).
pub(crate) struct SaveQueues {
    stripes: Box<[Stripe]>,
}

impl std::fmt::Debug for SaveQueues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaveQueues").field("stripes", &self.stripes.len()).finish()
    }
}

/// Either this writer leads (saves now), or it waits for a leader.
// large_enum_variant: made and matched once per save; the leader is the common case.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Join {
    Lead(Leader),
    Wait(oneshot::Receiver<Turn>),
}

impl SaveQueues {
    pub(crate) fn new(stripes: usize) -> Self {
        Self { stripes: (0..stripes.max(1)).map(|_| Mutex::new(HashMap::new())).collect() }
    }

    fn stripe(&self, key: &StoreKey) -> &Stripe {
        &self.stripes[usize::from(key.as_bytes()[0]) % self.stripes.len()]
    }

    /// Leads the session's next save if nobody is saving it, or queues `changes` (a copy:
    /// the writer keeps its own in case the leader goes away).
    pub(crate) fn join(self: &Arc<Self>, key: StoreKey, changes: &Changes) -> Join {
        let mut map = self.stripe(&key).lock();
        match map.get_mut(&key) {
            None => {
                map.insert(key, Vec::new());
                Join::Lead(Leader { queues: Some(self.clone()), key, latest: None })
            }
            Some(waiters) => {
                let (reply, rx) = oneshot::channel();
                waiters.push(Waiter { changes: changes.clone(), reply });
                Join::Wait(rx)
            }
        }
    }
}

/// The right to save one session now. Dropping it (after the save, when the request is
/// cancelled, or unread inside a hand-off message) hands the lead to the first writer still
/// waiting, or closes the queue.
pub(crate) struct Leader {
    /// `None` once disarmed (a hand-off that could not be delivered): dropping does nothing.
    queues: Option<Arc<SaveQueues>>,
    key: StoreKey,
    /// The record the previous leader saved (on receipt), or this one saved (before drop).
    pub(crate) latest: Option<Record>,
}

impl Leader {
    /// Takes every change set queued so far, in arrival order.
    pub(crate) fn take_batch(&self) -> Vec<Waiter> {
        let Some(queues) = &self.queues else { return Vec::new() };
        let mut map = queues.stripe(&self.key).lock();
        map.get_mut(&self.key).map(std::mem::take).unwrap_or_default()
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        let Some(queues) = self.queues.take() else { return };
        let mut map = queues.stripe(&self.key).lock();
        let Some(waiters) = map.get_mut(&self.key) else { return };
        let mut latest = self.latest.take();
        while !waiters.is_empty() {
            let next = waiters.remove(0);
            let lead = Leader { queues: Some(queues.clone()), key: self.key, latest };
            match next.reply.send(Turn::Lead(lead)) {
                Ok(()) => return,
                // That writer went away before the hand-off: its changes go with it (its
                // request got no answer). Take the lead back, disarmed, and try the next one.
                Err(Turn::Lead(mut back)) => {
                    back.queues = None;
                    latest = back.latest.take();
                }
                Err(Turn::Done(_)) => latest = None,
            }
        }
        map.remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn key(b: u8) -> StoreKey {
        StoreKey::from_bytes([b; 32])
    }

    fn queues(stripes: usize) -> Arc<SaveQueues> {
        Arc::new(SaveQueues::new(stripes))
    }

    #[test]
    fn first_writer_leads_and_its_batch_is_everyone_queued() {
        let q = queues(4);
        let changes = Changes::default();
        let Join::Lead(leader) = q.join(key(1), &changes) else { panic!("first writer must lead") };
        let Join::Wait(mut second) = q.join(key(1), &changes) else { panic!("second must wait") };
        let Join::Wait(mut third) = q.join(key(1), &changes) else { panic!("third must wait") };
        // Another session is independent.
        assert!(matches!(q.join(key(2), &changes), Join::Lead(_)));

        let batch = leader.take_batch();
        assert_eq!(batch.len(), 2);
        let mut batch = batch.into_iter();
        batch.next().unwrap().answer(Outcome::Missing);
        drop(batch);
        drop(leader);
        // The second writer was answered; the third was in the batch too and its sender was
        // dropped unanswered, so it queues again. Nobody is left in the queue: closed.
        assert!(matches!(second.try_recv(), Ok(Turn::Done(Outcome::Missing))));
        assert!(third.try_recv().is_err());
        assert!(matches!(q.join(key(1), &changes), Join::Lead(_)));
    }

    #[test]
    fn lead_skips_writers_that_went_away() {
        let q = queues(1);
        let changes = Changes::default();
        let Join::Lead(leader) = q.join(key(7), &changes) else { panic!() };
        let Join::Wait(gone) = q.join(key(7), &changes) else { panic!() };
        let Join::Wait(mut next) = q.join(key(7), &changes) else { panic!() };
        drop(gone);
        drop(leader);
        let Ok(Turn::Lead(lead)) = next.try_recv() else { panic!("the live waiter must lead") };
        // `next` leads now: a newcomer waits behind it, and is in its batch.
        assert!(matches!(q.join(key(7), &changes), Join::Wait(_)));
        assert_eq!(lead.take_batch().len(), 1);
    }

    #[test]
    fn a_hand_off_nobody_reads_passes_the_lead_on() {
        let q = queues(2);
        let changes = Changes::default();
        let Join::Lead(leader) = q.join(key(3), &changes) else { panic!() };
        let Join::Wait(b) = q.join(key(3), &changes) else { panic!() };
        let Join::Wait(mut c) = q.join(key(3), &changes) else { panic!() };
        // The lead is sent to `b` while `b` is still waiting...
        drop(leader);
        // ...and `b` is cancelled before it reads it: the lead must reach `c`.
        drop(b);
        let Ok(Turn::Lead(lead)) = c.try_recv() else { panic!("the lead was lost with b's message") };
        drop(lead);
        // With nobody left the queue closes: the next writer leads at once.
        assert!(matches!(q.join(key(3), &changes), Join::Lead(_)));
    }
}
