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

use std::collections::HashMap;

use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::Changes;
use crate::error::StoreError;
use crate::id::StoreKey;
use crate::record::Record;

/// How a batch's save ended, as told to each waiter of the batch.
#[derive(Clone)]
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
        }
    }
}

/// What a waiting writer is told.
pub(crate) enum Turn {
    /// A leader saved this writer's changes (or failed to).
    Done(Outcome),
    /// The writer leads the next batch; the record the previous leader saved, if it did.
    Lead(Option<Record>),
}

struct Waiter {
    changes: Changes,
    reply: oneshot::Sender<Turn>,
}

/// A queued writer's changes, handed to the leader that takes it.
pub(crate) struct Queued {
    pub(crate) changes: Changes,
    reply: oneshot::Sender<Turn>,
}

impl Queued {
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
pub(crate) enum Join<'a> {
    Lead(Leader<'a>),
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
    pub(crate) fn join(&self, key: StoreKey, changes: &Changes) -> Join<'_> {
        let mut map = self.stripe(&key).lock();
        match map.get_mut(&key) {
            None => {
                map.insert(key, Vec::new());
                Join::Lead(Leader { queues: self, key, latest: None })
            }
            Some(waiters) => {
                let (reply, rx) = oneshot::channel();
                waiters.push(Waiter { changes: changes.clone(), reply });
                Join::Wait(rx)
            }
        }
    }

    /// The lead handed over by a previous leader: the session's queue entry is already there.
    pub(crate) fn resume(&self, key: StoreKey) -> Leader<'_> {
        Leader { queues: self, key, latest: None }
    }
}

/// The right to save one session now. Dropping it (after the save, or when the request is
/// cancelled) hands the lead to the first writer still waiting, or closes the queue.
pub(crate) struct Leader<'a> {
    queues: &'a SaveQueues,
    key: StoreKey,
    /// The record this leader saved, handed to the next leader so it starts from it.
    pub(crate) latest: Option<Record>,
}

impl Leader<'_> {
    /// Takes every change set queued so far, in arrival order.
    pub(crate) fn take_batch(&self) -> Vec<Queued> {
        let mut map = self.queues.stripe(&self.key).lock();
        map.get_mut(&self.key)
            .map(std::mem::take)
            .unwrap_or_default()
            .into_iter()
            .map(|w| Queued { changes: w.changes, reply: w.reply })
            .collect()
    }
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        let mut map = self.queues.stripe(&self.key).lock();
        let Some(waiters) = map.get_mut(&self.key) else { return };
        let mut latest = self.latest.take();
        while !waiters.is_empty() {
            let next = waiters.remove(0);
            match next.reply.send(Turn::Lead(latest)) {
                Ok(()) => return,
                // That writer went away: its changes go with it (its request got no answer).
                Err(Turn::Lead(back)) => latest = back,
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

    #[test]
    fn first_writer_leads_and_hands_over_to_the_next_waiter() {
        let q = SaveQueues::new(4);
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
        // The second writer was answered by the batch; the third was in it too and its
        // sender was dropped, so it would queue again. Nobody is left in the queue: closed.
        assert!(matches!(second.try_recv(), Ok(Turn::Done(Outcome::Missing))));
        assert!(third.try_recv().is_err());
        assert!(matches!(q.join(key(1), &changes), Join::Lead(_)));
    }

    #[test]
    fn lead_skips_writers_that_went_away() {
        let q = SaveQueues::new(1);
        let changes = Changes::default();
        let Join::Lead(mut leader) = q.join(key(7), &changes) else { panic!() };
        let Join::Wait(gone) = q.join(key(7), &changes) else { panic!() };
        let Join::Wait(mut next) = q.join(key(7), &changes) else { panic!() };
        drop(gone);
        leader.latest = None;
        drop(leader);
        assert!(matches!(next.try_recv(), Ok(Turn::Lead(None))));
        // `next` leads now: a newcomer waits behind it.
        assert!(matches!(q.join(key(7), &changes), Join::Wait(_)));
        let resumed = q.resume(key(7));
        assert_eq!(resumed.take_batch().len(), 1);
    }
}
