//! Audit records: the security events worth keeping, written to the store's
//! [`AuditLog`] off the request path, and purged after `--audit-retention`.
//!
//! [`AuditSink`] is an [`EventSink`]: the event hub calls it synchronously on the request
//! path, so it only turns the event into an [`AuditEntry`] and offers it to a bounded channel
//! (`try_send`, never waiting). A background task ([`AuditWriter::spawn`]) appends the
//! entries to the store. When the channel is full (the store is slow or down) the entry is
//! dropped and counted ([`AuditSink::dropped`]), with a warning that carries the count: a
//! request is never slowed down or failed for the sake of its audit record.
//!
//! What is kept: every event that ends a session (logout, revocation, expiry, and whatever
//! later variants end one, such as eviction or a disabled user) and every refusal or attack
//! signal. Session creation and rotation, re-sealed cookies and store outages are not kept
//! (they are frequent, and an outage cannot be written to the store that is out).
//!
//! An entry names its session by [`SessionHandle`] only. It is built from the event's serde
//! form, which by the event contract carries no id, cookie value, token or key material.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use sessionwarden::events::EventSink;
use sessionwarden::events::RequestContext;
use sessionwarden::store::{AuditEntry, AuditLog};
use sessionwarden::{SecurityEvent, SessionHandle, Timestamp};
use tokio::sync::mpsc;

/// Entries waiting to be written before new ones are dropped.
pub const AUDIT_QUEUE: usize = 1024;

/// The event kinds not kept in the audit log.
const NOT_AUDITED: &[&str] = &["session_created", "session_rotated", "cookie_resealed", "store_unavailable"];

/// The [`EventSink`] that queues audit entries for an [`AuditWriter`].
#[derive(Debug, Clone)]
pub struct AuditSink {
    tx: mpsc::Sender<AuditEntry>,
    dropped: Arc<AtomicU64>,
}

/// The receiving end of an [`AuditSink`]: spawn it with the store's audit log.
#[derive(Debug)]
#[must_use = "an AuditWriter writes nothing until spawned"]
pub struct AuditWriter {
    rx: mpsc::Receiver<AuditEntry>,
}

impl AuditSink {
    /// A sink queueing at most `capacity` entries, and the writer that drains it.
    ///
    /// ```
    /// use sessionwarden_server::audit::AuditSink;
    /// let (sink, writer) = AuditSink::channel(16);
    /// assert_eq!(sink.dropped(), 0);
    /// drop(writer); // without a writer (no audit log), entries are discarded uncounted
    /// ```
    pub fn channel(capacity: usize) -> (Self, AuditWriter) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Self { tx, dropped: Arc::new(AtomicU64::new(0)) }, AuditWriter { rx })
    }

    /// How many entries were dropped because the queue was full.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Queues `entry` without waiting.
    fn offer(&self, entry: AuditEntry) {
        match self.tx.try_send(entry) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(entry)) => {
                let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                // One line at the first drop and at every power of two after it: a store that
                // stays down must not turn each event into a log line of its own.
                if n.is_power_of_two() {
                    tracing::warn!(
                        target: "sessionwarden::audit",
                        dropped = n,
                        kind = %entry.kind,
                        "audit queue full: audit records dropped"
                    );
                }
            }
            // No writer: the store keeps no audit log (the admin API says so with 501).
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

impl EventSink for AuditSink {
    fn record(&self, at: Timestamp, event: &SecurityEvent) {
        self.record_in(at, event, None);
    }

    fn record_in(&self, at: Timestamp, event: &SecurityEvent, context: Option<&RequestContext>) {
        if let Some(entry) = entry_for(at, event) {
            self.offer(with_context(entry, context));
        }
    }
}

/// The request an event happened in, as an audit record keeps it: the user and session
/// when the event names none, and `request` with the method, path, request id, the
/// client's network (its /24 or /48, never the full address) and device.
fn with_context(mut entry: AuditEntry, context: Option<&RequestContext>) -> AuditEntry {
    let Some(ctx) = context else { return entry };
    if entry.user.is_none()
        && let Some(user) = &ctx.user
    {
        entry = entry.with_user(user.clone());
    }
    if entry.handle.is_none()
        && let Some(handle) = &ctx.session
    {
        entry = entry.with_handle(handle.clone());
    }
    let mut request = serde_json::Map::new();
    request.insert("method".into(), ctx.method.clone().into());
    request.insert("path".into(), ctx.path.clone().into());
    if let Some(ip) = ctx.client_ip {
        request.insert("client_network".into(), sessionwarden::IpPrefix::from_addr(ip).to_string().into());
    }
    if let Some(id) = &ctx.request_id {
        request.insert("request_id".into(), id.clone().into());
    }
    if let Some(device) = &ctx.device {
        request.insert("device".into(), serde_json::to_value(device).unwrap_or(Value::Null));
    }
    entry.with_detail("request", Value::Object(request))
}

impl AuditWriter {
    /// Appends queued entries to `log` until every [`AuditSink`] is dropped. A failed
    /// append is logged (kind only) and the entry dropped.
    pub fn spawn(mut self, log: Arc<dyn AuditLog>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            while let Some(entry) = self.rx.recv().await {
                if let Err(e) = log.append(&entry).await {
                    tracing::warn!(
                        target: "sessionwarden::audit",
                        kind = %entry.kind,
                        error = %e,
                        "audit record not written"
                    );
                }
            }
        })
    }
}

/// The audit entry for `event`, if its kind is kept.
///
/// Built from the event's serde form (`{"kind": …, fields…}`): a `session` field becomes the
/// entry's handle, a `user` field its user, everything else its detail. New event variants
/// flow through without changes here.
#[must_use]
pub fn entry_for(at: Timestamp, event: &SecurityEvent) -> Option<AuditEntry> {
    let kind = event.kind();
    if NOT_AUDITED.contains(&kind) {
        return None;
    }
    let mut entry = AuditEntry::new(at, kind);
    let Ok(Value::Object(fields)) = serde_json::to_value(event) else {
        return Some(entry);
    };
    for (name, value) in fields {
        match (name.as_str(), value) {
            ("kind", _) => {}
            ("session", Value::String(s)) => {
                // Not a handle's shape: never copied anywhere.
                if let Some(h) = SessionHandle::parse(&s) {
                    entry = entry.with_handle(h);
                }
            }
            ("user", Value::String(u)) => entry = entry.with_user(u),
            ("user", Value::Null) => {}
            (_, value) => entry = entry.with_detail(name, value),
        }
    }
    Some(entry)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use async_trait::async_trait;
    use sessionwarden::StoreError;
    use sessionwarden::store::AuditQuery;

    use super::*;

    #[test]
    fn entries_name_sessions_by_handle_and_skip_lifecycle_noise() {
        let handle = SessionHandle::parse("AAAAAAAAAAAAAAAAAAAAAA").unwrap();
        let at = Timestamp::from_unix(7);
        let e = entry_for(at, &SecurityEvent::SessionRevoked { session: handle.clone() }).unwrap();
        assert_eq!(
            (e.kind.as_str(), e.handle.as_ref(), e.detail.len()),
            ("session_revoked", Some(&handle), 0)
        );
        let e =
            entry_for(at, &SecurityEvent::SessionsRevoked { user: Some("ann".into()), sessions: 3 }).unwrap();
        assert_eq!(e.user.as_deref(), Some("ann"));
        assert_eq!(e.detail["sessions"], 3);
        let e = entry_for(at, &SecurityEvent::AdminAuthFailed { reason: "mismatch" }).unwrap();
        assert_eq!(e.detail["reason"], "mismatch");
        assert!(entry_for(at, &SecurityEvent::SessionCreated { session: handle }).is_none());
    }

    /// An audit log whose appends never finish: a store that hangs.
    #[derive(Debug, Default)]
    struct Hanging(AtomicBool);

    #[async_trait]
    impl AuditLog for Hanging {
        async fn append(&self, _: &AuditEntry) -> Result<(), StoreError> {
            self.0.store(true, Ordering::SeqCst);
            std::future::pending().await
        }
        async fn query(&self, _: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
            Ok(Vec::new())
        }
        async fn purge(&self, _: Timestamp, _: usize) -> Result<u64, StoreError> {
            Ok(0)
        }
    }

    /// A hanging store never blocks `record`: past the queue, entries are dropped and counted.
    #[tokio::test]
    async fn a_hanging_store_drops_and_counts_instead_of_blocking() {
        let (sink, writer) = AuditSink::channel(4);
        let log = Arc::new(Hanging::default());
        let _task = writer.spawn(log.clone());
        let events = sessionwarden::Events::with_sinks(0, vec![Arc::new(sink.clone())]);
        // Let the writer take the first entry and hang on it.
        events.record(Timestamp::from_unix(1), SecurityEvent::AdminAuthFailed { reason: "missing" });
        while !log.0.load(Ordering::SeqCst) {
            tokio::task::yield_now().await;
        }
        for _ in 0..10 {
            events.record(Timestamp::from_unix(1), SecurityEvent::AdminAuthFailed { reason: "missing" });
        }
        // 4 wait in the queue, the other 6 are dropped: all 10 calls returned.
        assert_eq!(sink.dropped(), 6);
    }
}
