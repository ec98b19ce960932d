//! Prometheus metrics: the recorder the server's instruments register with, and the
//! `GET /metrics` router that serves it.
//!
//! Every instrument (the event sink, the store wrapper, the cache and memory-store counters)
//! is registered with *this* server's recorder when it is built, through
//! [`ServerMetrics::register`], and never looked up by name afterwards: two servers in one
//! process (tests) keep separate counts, and a request pays only for atomic increments.
//!
//! The seam for the admin listener is [`metrics_router`]: mount it where `/metrics` should be
//! served (behind the admin token), with [`App::metrics`](crate::App::metrics).
//!
//! ```
//! # use std::sync::Arc;
//! # use sessionwarden::keyring::{KeySet, Keyring};
//! # use sessionwarden::{SystemClock, Timestamp};
//! # use sessionwarden_server::{App, cli::{ServeArgs, StoreKind}, metrics::{ServerMetrics, metrics_router}};
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> anyhow::Result<()> {
//! let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0))?);
//! let metrics = ServerMetrics::new(&keyring, Timestamp::from_unix(0));
//! let args = ServeArgs { store: StoreKind::Memory, ..ServeArgs::default() };
//! let mut settings = args.settings();
//! settings.metrics = Some(metrics.clone());
//! let app = App::with_settings(&settings, keyring, metrics.events(1024), Arc::new(SystemClock)).await?;
//! let admin = metrics_router(app.metrics.clone().expect("metrics are on"));
//! # drop(admin);
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use sessionwarden::events::EventSink;
use sessionwarden::keyring::Keyring;
use sessionwarden::metrics::{MetricsSink, STORE_DURATION, STORE_DURATION_BUCKETS, describe};
use sessionwarden::{Events, Timestamp};

/// The content type of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// This server's metrics: its recorder, the handle that renders it, and the event sink.
/// Clones share them.
#[derive(Clone)]
pub struct ServerMetrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
    sink: Arc<MetricsSink>,
}

impl fmt::Debug for ServerMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerMetrics").finish_non_exhaustive()
    }
}

impl ServerMetrics {
    /// A fresh recorder, store latencies as Prometheus histograms, and the event sink (which
    /// follows `keyring`'s primary key, observed at `now`).
    ///
    /// # Panics
    /// Never in practice: the bucket list is a non-empty constant.
    #[must_use]
    pub fn new(keyring: &Keyring, now: Timestamp) -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(STORE_DURATION.to_owned()), STORE_DURATION_BUCKETS)
            // invariant: STORE_DURATION_BUCKETS is a non-empty constant, the only error case.
            .expect("non-empty buckets")
            .build_recorder();
        let handle = recorder.handle();
        let sink = ::metrics::with_local_recorder(&recorder, || {
            describe();
            Arc::new(MetricsSink::new().with_keyring(keyring.clone(), now))
        });
        Self { recorder: Arc::new(recorder), handle, sink }
    }

    /// Runs `f` with this server's recorder current, so the instruments `f` builds register
    /// with it.
    pub fn register<T>(&self, f: impl FnOnce() -> T) -> T {
        ::metrics::with_local_recorder(&*self.recorder, f)
    }

    /// An event hub keeping the last `capacity` events that also counts them here.
    #[must_use]
    pub fn events(&self, capacity: usize) -> Events {
        Events::with_sinks(capacity, vec![self.sink.clone() as Arc<dyn EventSink>])
    }

    /// The event sink that counts security events here, for an event hub with other sinks.
    #[must_use]
    pub fn sink(&self) -> Arc<dyn EventSink> {
        self.sink.clone()
    }

    /// What renders the metrics (for [`metrics_router`]).
    #[must_use]
    pub fn handle(&self) -> PrometheusHandle {
        self.handle.clone()
    }

    /// Periodic upkeep: refreshes the key-age gauge and drains histogram buffers (which
    /// otherwise grow until the next scrape).
    pub fn upkeep(&self, now: Timestamp) {
        self.sink.observe_keyring(now);
        self.handle.run_upkeep();
    }
}

/// `GET /metrics`: the Prometheus text exposition of `handle`'s recorder.
///
/// Carries no secret and nothing from a request (label values come from fixed sets), but
/// reveals traffic and attack rates: serve it on the admin listener, not the public one.
pub fn metrics_router(handle: PrometheusHandle) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move { ([(header::CONTENT_TYPE, CONTENT_TYPE)], handle.render()).into_response() }
        }),
    )
}
