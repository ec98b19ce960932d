//! `--caep-export`: the risk rules' firings as OpenID CAEP Security Event Tokens (RFC 8417
//! SETs, event types of the OpenID Continuous Access Evaluation Profile 1.0), off the
//! request path.
//!
//! [`CaepSink`] is an [`EventSink`]: on the request path it only turns a
//! `RiskDetected` event into SET claims and offers them to a bounded queue (dropped and
//! counted when full, as the audit sink does). [`CaepWriter::spawn`] signs each SET with the
//! server's current JWT key (header `typ: secevent+jwt`; receivers verify with
//! `/.well-known/jwks.json` under `--jwt-alg EdDSA` or `ES256`) and delivers it: one line
//! per SET on standard output (`--caep-export stdout`), or an RFC 8935 push (`POST`,
//! `Content-Type: application/secevent+jwt`) to `--caep-export http://127.0.0.1:PORT/path`.
//! Webhooks are plain HTTP to a loopback address only: this build carries no TLS client, so
//! a remote receiver sits behind a local relay.
//!
//! Which event type:
//!
//! | rule fired | action | CAEP event type |
//! |---|---|---|
//! | any | revoke | `session-revoked` |
//! | `refresh_token_reuse` | any | `credential-change` (`credential_type` `refresh-token`, `change_type` `revoke`; and `session-revoked` too under revoke) |
//! | a network or device rule | monitor, step-up | `session-presented` (the client's address in `ips` only with `--keep-client-address`) |
//!
//! Every SET has `iss` (`--jwt-issuer`), `iat`, a random `jti`, and `sub_id` in the complex
//! format: the session by its handle (`opaque`), never its id, and the user (`opaque`). The
//! reason is in `reason_admin` (`{"en": …}`) with `initiating_entity: "policy"`.

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value, json};
use sessionwarden::events::{EventSink, RequestContext};
use sessionwarden::risk::{RiskAction, RiskEvidence, RiskRule};
use sessionwarden::{SecurityEvent, SessionHandle, Timestamp};
use tokio::io::AsyncWriteExt as _;
use tokio::sync::mpsc;

use crate::tokens::Tokens;

/// SETs waiting to be signed and sent before new ones are dropped.
pub const CAEP_QUEUE: usize = 256;

/// The base of CAEP event type URIs.
const CAEP: &str = "https://schemas.openid.net/secevent/caep/event-type/";

/// Where SETs go.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CaepTarget {
    /// One compact SET per line on standard output.
    Stdout,
    /// `POST` to an HTTP receiver on a loopback address.
    Webhook {
        /// The receiver.
        addr: SocketAddr,
        /// The `Host` header (as written in the URL).
        host: String,
        /// The path and query.
        path: String,
    },
}

impl FromStr for CaepTarget {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "stdout" {
            return Ok(Self::Stdout);
        }
        let refuse = || {
            format!(
                "{s:?}: expected `stdout` or an http:// URL on a loopback address (e.g. \
                 http://127.0.0.1:9000/caep); webhooks have no TLS here, put a relay on loopback"
            )
        };
        let rest = s.strip_prefix("http://").ok_or_else(refuse)?;
        let (host, path) = rest.find('/').map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
        let addr = match host.strip_prefix("localhost:") {
            Some(port) => SocketAddr::from(([127, 0, 0, 1], port.parse().map_err(|_| refuse())?)),
            None => host.parse::<SocketAddr>().map_err(|_| refuse())?,
        };
        if !addr.ip().is_loopback() {
            return Err(refuse());
        }
        Ok(Self::Webhook { addr, host: host.to_owned(), path: path.to_owned() })
    }
}

/// The [`EventSink`] that queues SET claims for a [`CaepWriter`].
#[derive(Debug, Clone)]
pub struct CaepSink {
    tx: mpsc::Sender<Value>,
    issuer: String,
    include_addresses: bool,
    dropped: Arc<AtomicU64>,
}

/// Signs and delivers what a [`CaepSink`] queued: spawn it.
#[derive(Debug)]
#[must_use = "a CaepWriter sends nothing until spawned"]
pub struct CaepWriter {
    rx: mpsc::Receiver<Value>,
    target: CaepTarget,
}

impl CaepSink {
    /// A sink naming `issuer` as `iss` (with the client's address in `ips` only when
    /// `include_addresses`), and the writer delivering to `target`.
    pub fn channel(issuer: &str, include_addresses: bool, target: CaepTarget) -> (Self, CaepWriter) {
        let (tx, rx) = mpsc::channel(CAEP_QUEUE);
        let sink =
            Self { tx, issuer: issuer.to_owned(), include_addresses, dropped: Arc::new(AtomicU64::new(0)) };
        (sink, CaepWriter { rx, target })
    }

    /// How many SETs were dropped because the queue was full.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn offer(&self, claims: Value) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(claims) {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(target: "sessionwarden::caep", dropped = n, "CAEP queue full: security event tokens dropped");
            }
        }
    }
}

impl EventSink for CaepSink {
    fn record(&self, at: Timestamp, event: &SecurityEvent) {
        self.record_in(at, event, None);
    }

    fn record_in(&self, at: Timestamp, event: &SecurityEvent, context: Option<&RequestContext>) {
        let SecurityEvent::RiskDetected { rule, action, session, user, evidence } = event else { return };
        let client_ip = context.and_then(|c| c.client_ip).filter(|_| self.include_addresses);
        for (kind, body) in event_bodies(*rule, *action, evidence, client_ip) {
            match set_claims(&self.issuer, at, session.as_ref(), user.as_deref(), kind, body) {
                Some(claims) => self.offer(claims),
                None => {
                    tracing::warn!(target: "sessionwarden::caep", "no randomness for a SET jti: not exported")
                }
            }
        }
    }
}

/// The reason, for people: the rule, the action and what it compared.
fn reason(rule: RiskRule, action: RiskAction, e: &RiskEvidence) -> String {
    let mut text = format!("risk rule {rule} ({action})");
    if let (Some(a), Some(b)) = (&e.from_network, &e.to_network) {
        text.push_str(&format!(": network {a} -> {b}"));
    }
    if let (Some(a), Some(b)) = (&e.from_country, &e.to_country) {
        text.push_str(&format!(", country {a} -> {b}"));
    }
    if let (Some(a), Some(b)) = (e.from_asn, e.to_asn) {
        text.push_str(&format!(", AS{a} -> AS{b}"));
    }
    if let Some(kmh) = e.speed_kmh {
        text.push_str(&format!(", {kmh} km/h"));
    }
    if let (Some(a), Some(b)) = (&e.from_device, &e.to_device) {
        let name = |d: &sessionwarden::DeviceSummary| {
            format!("{} on {}", d.browser().unwrap_or("unknown"), d.os().unwrap_or("unknown"))
        };
        text.push_str(&format!(": device {} -> {}", name(a), name(b)));
    }
    text
}

/// The CAEP events (type, body) one firing becomes: one SET each (RFC 8417 §2.2: one
/// logical event per SET).
fn event_bodies(
    rule: RiskRule,
    action: RiskAction,
    evidence: &RiskEvidence,
    client_ip: Option<std::net::IpAddr>,
) -> Vec<(&'static str, Map<String, Value>)> {
    let mut common = Map::new();
    common.insert("initiating_entity".into(), "policy".into());
    common.insert("reason_admin".into(), json!({"en": reason(rule, action, evidence)}));
    let mut out = Vec::new();
    if rule == RiskRule::RefreshTokenReuse {
        let mut body = common.clone();
        body.insert("credential_type".into(), "refresh-token".into());
        body.insert("change_type".into(), "revoke".into());
        out.push(("credential-change", body));
    } else if action != RiskAction::Revoke {
        let mut body = common.clone();
        if let Some(ip) = client_ip {
            body.insert("ips".into(), json!([ip.to_string()]));
        }
        out.push(("session-presented", body));
    }
    if action == RiskAction::Revoke {
        out.push(("session-revoked", common));
    }
    out
}

/// A SET's claims: `iss`, `iat`, `jti`, `sub_id` (session handle and user, opaque), and the
/// one event. `None` only if the OS has no randomness for the `jti`.
fn set_claims(
    issuer: &str,
    at: Timestamp,
    session: Option<&SessionHandle>,
    user: Option<&str>,
    kind: &str,
    mut body: Map<String, Value>,
) -> Option<Value> {
    body.insert("event_timestamp".into(), at.unix().into());
    let jti = sessionwarden::SessionId::try_generate().ok()?.store_key().handle().as_str().to_owned();
    let mut sub_id = Map::new();
    sub_id.insert("format".into(), "complex".into());
    if let Some(h) = session {
        sub_id.insert("session".into(), json!({"format": "opaque", "id": h.as_str()}));
    }
    if let Some(u) = user {
        sub_id.insert("user".into(), json!({"format": "opaque", "id": u}));
    }
    let mut events = Map::new();
    events.insert(format!("{CAEP}{kind}"), Value::Object(body));
    Some(json!({
        "iss": issuer,
        "iat": at.unix(),
        "jti": jti,
        "sub_id": Value::Object(sub_id),
        "events": Value::Object(events),
    }))
}

impl CaepWriter {
    /// Signs each queued SET with `tokens`' current key and delivers it, until every sink is
    /// dropped. A failed signature or delivery is logged (never the token) and the SET dropped.
    pub fn spawn(mut self, tokens: Arc<Tokens>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            while let Some(claims) = self.rx.recv().await {
                let set = match tokens.sign_security_event(&claims) {
                    Ok(set) => set,
                    Err(e) => {
                        tracing::warn!(target: "sessionwarden::caep", error = %e, "security event token not signed");
                        continue;
                    }
                };
                if let Err(e) = deliver(&self.target, &set).await {
                    tracing::warn!(target: "sessionwarden::caep", error = %e, "security event token not delivered");
                }
            }
        })
    }
}

/// Writes `set` to the target.
async fn deliver(target: &CaepTarget, set: &str) -> Result<(), String> {
    match target {
        CaepTarget::Stdout => {
            let mut out = tokio::io::stdout();
            let line = format!("{set}\n");
            out.write_all(line.as_bytes()).await.map_err(|e| e.to_string())?;
            out.flush().await.map_err(|e| e.to_string())
        }
        CaepTarget::Webhook { addr, host, path } => post(*addr, host, path, set).await,
    }
}

/// RFC 8935 push: `POST` the SET; the receiver answers 202 (any 2xx is taken).
async fn post(addr: SocketAddr, host: &str, path: &str, set: &str) -> Result<(), String> {
    use http_body_util::BodyExt as _;
    const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let req = axum::http::Request::post(path)
            .header("host", host)
            .header("content-type", "application/secevent+jwt")
            .header("accept", "application/json")
            .body(http_body_util::Full::new(axum::body::Bytes::from(set.to_owned())))
            .map_err(|e| e.to_string())?;
        let res = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = res.status();
        let _ = res.into_body().collect().await;
        if status.is_success() { Ok(()) } else { Err(format!("receiver answered {status}")) }
    };
    tokio::time::timeout(TIMEOUT, exchange).await.map_err(|_| "receiver timed out".to_owned())?
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let cases: [(&str, bool); 7] = [
            ("stdout", true),
            ("http://127.0.0.1:9000/caep", true),
            ("http://[::1]:9000/", true),
            ("http://localhost:9000/x?y=1", true),
            ("https://receiver.example/caep", false),
            ("http://192.0.2.1:80/caep", false),
            ("ftp://127.0.0.1/", false),
        ];
        for (text, ok) in cases {
            assert_eq!(text.parse::<CaepTarget>().is_ok(), ok, "{text}");
        }
    }

    #[test]
    fn event_types_follow_the_table() {
        let e = RiskEvidence::default();
        let kinds = |rule, action| -> Vec<&str> {
            event_bodies(rule, action, &e, None).into_iter().map(|(k, _)| k).collect()
        };
        assert_eq!(kinds(RiskRule::NetworkChange, RiskAction::Monitor), ["session-presented"]);
        assert_eq!(kinds(RiskRule::DeviceChange, RiskAction::StepUp), ["session-presented"]);
        assert_eq!(kinds(RiskRule::CountryChange, RiskAction::Revoke), ["session-revoked"]);
        assert_eq!(kinds(RiskRule::RefreshTokenReuse, RiskAction::Monitor), ["credential-change"]);
        assert_eq!(
            kinds(RiskRule::RefreshTokenReuse, RiskAction::Revoke),
            ["credential-change", "session-revoked"]
        );
    }
}
