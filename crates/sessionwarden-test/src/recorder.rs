//! An [`EventSink`] that keeps every event, for assertions.

use std::sync::Arc;

use parking_lot::Mutex;
use sessionwarden_tower::events::{EventSink, Events};
use sessionwarden_tower::{SecurityEvent, Timestamp};

/// Records every security event it sees. Clones share one list.
#[derive(Clone, Default, Debug)]
pub struct Recorder {
    events: Arc<Mutex<Vec<SecurityEvent>>>,
}

impl EventSink for Recorder {
    fn record(&self, _at: Timestamp, event: &SecurityEvent) {
        self.events.lock().push(event.clone());
    }
}

impl Recorder {
    /// A recorder and an event hub that feeds it.
    #[must_use]
    pub fn hub() -> (Self, Events) {
        let rec = Self::default();
        let events = Events::with_sinks(1024, vec![Arc::new(rec.clone())]);
        (rec, events)
    }

    /// Every event so far.
    #[must_use]
    pub fn events(&self) -> Vec<SecurityEvent> {
        self.events.lock().clone()
    }

    /// Forgets every event so far.
    pub fn clear(&self) {
        self.events.lock().clear();
    }

    /// The reasons of events of `kind`, in order.
    #[must_use]
    pub fn reasons(&self, kind: &str) -> Vec<String> {
        self.events
            .lock()
            .iter()
            .filter(|e| e.kind() == kind)
            .map(|e| e.reason().unwrap_or("").to_owned())
            .collect()
    }

    /// How many events of `kind` were seen.
    #[must_use]
    pub fn count(&self, kind: &str) -> usize {
        self.events.lock().iter().filter(|e| e.kind() == kind).count()
    }
}
