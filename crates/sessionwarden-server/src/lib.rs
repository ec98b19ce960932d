//! The sessionwarden reference server: every capability of the library, end to end, behind
//! a fixed set of routes (sessions, CSRF, login, JWTs, health). Thin over the library crates.

pub mod account;
pub mod admin;
pub mod audit;
pub mod auth;
mod body;
pub mod caep;
pub mod cli;
pub mod display;
pub mod events;
pub mod flask;
pub mod http;
pub mod keys;
pub mod logging;
pub mod metrics;
pub mod risk;
mod routes;
pub mod stores;
pub mod tokens;
pub mod users;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use axum::Router;
use sessionwarden::keyring::Keyring;
use sessionwarden::maintenance::{Maintenance, in_batches};
use sessionwarden::store::AuditLog;
use sessionwarden::{
    Backend, Clock, CookieConfig, Events, ExpiredDeletion, Expiry, SessionIndex, SessionLayer, SessionStore,
    SystemClock, Timestamp,
};

use crate::cli::ServeArgs;

/// How often `serve` removes expired sessions from a server-side store.
pub const SESSION_SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// How often the key-age gauge is refreshed and histogram buffers drained, with metrics on.
pub const METRICS_UPKEEP_INTERVAL: Duration = Duration::from_secs(10);

/// Expired sessions removed per statement.
const SWEEP_BATCH: usize = 1000;

/// How often `serve` purges audit records older than `--audit-retention`.
pub const AUDIT_PURGE_INTERVAL: Duration = Duration::from_secs(3600);

/// Audit records removed per statement.
const AUDIT_PURGE_BATCH: usize = 1000;

/// How often the maintenance task looks at the clock for due jobs.
const MAINTENANCE_POLL: Duration = Duration::from_secs(1);

/// What the routes share.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The server-side store, if sessions are kept on the server.
    pub store: Option<Arc<dyn SessionStore>>,
    /// What `POST /logout-everywhere` can do about the user's sessions (decided at start-up).
    pub user_revocation: stores::UserRevocation,
    /// The keyring.
    pub keyring: Keyring,
    /// The security event hub.
    pub events: Events,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The demo users `POST /login` accepts.
    pub users: Arc<auth::Users>,
    /// JWT access and refresh tokens.
    pub tokens: Arc<tokens::Tokens>,
    /// Session values are Flask's typed JSON (a Flask store): `POST /session/data` checks the
    /// `$bytes`/`$tuple`/… markers before storing them.
    pub flask_values: bool,
    /// How recent a login or `POST /reauth` must be for ending sessions.
    pub reauth_window: Duration,
    /// Disabled accounts (`users disable`), or why the store keeps none.
    pub account_locks: Result<Arc<dyn sessionwarden::store::AccountLocks>, stores::Unsupported>,
    /// The risk rules (`--risk`, `--geoip-db`): the session layer's, and the token
    /// endpoint's for refresh-token reuse.
    pub risk: Arc<sessionwarden::risk::RiskRules>,
    /// The rate limits `POST /login` and `POST /reauth` count attempts against (the session
    /// layer holds the same one); `None` when every limit is off.
    pub throttle: Option<sessionwarden::throttle::Throttle>,
}

/// Everything [`App::router`] needs, built from the command line.
#[derive(Debug, Clone)]
pub struct App {
    /// Shared state.
    pub state: AppState,
    /// Session layer configuration.
    pub cookie: CookieConfig,
    /// Session lifetimes.
    pub expiry: Expiry,
    /// Largest stored size of one server-side session, in bytes.
    pub max_session_size: usize,
    /// Whose forwarding headers are believed, and how much of the address records keep.
    pub client: (sessionwarden::TrustedProxies, sessionwarden::client::AddressRetention),
    /// The backend.
    pub backend: Backend,
    /// CSRF protection (origin check and tokens), inside the session layer.
    pub csrf: sessionwarden::CsrfLayer,
    /// Flask interop (`--store flask-cookie` / `flask-redis`), if on.
    pub flask: Option<flask::FlaskMode>,
    /// Deletion of expired records, if the store needs a sweeper.
    pub expired_deletion: Option<Arc<dyn ExpiredDeletion>>,
    /// Listing and revocation of sessions (the admin API), or why the store has none.
    pub index: Result<Arc<dyn SessionIndex>, stores::Unsupported>,
    /// The store's audit records, or why it keeps none.
    pub audit: Result<Arc<dyn AuditLog>, stores::Unsupported>,
    /// How long audit records are kept.
    pub audit_retention: Duration,
    /// What renders the metrics for [`metrics::metrics_router`], when they are on.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    server_metrics: Option<metrics::ServerMetrics>,
    /// The per-user session cap (`--max-sessions-per-user`) and the store that decides it.
    pub session_limit:
        Option<(sessionwarden::store::SessionLimit, Arc<dyn sessionwarden::store::UserSessionCap>)>,
    /// The purge of expired rate-limit rows and one-time keys (SQL stores).
    pub capability_purge: Option<stores::CapabilityPurge>,
    /// Scheduled key rotation (`--rotate-every`), set by [`App::with_key_rotation`].
    key_rotation: Option<keys::KeyRotation>,
}

/// Everything the server is configured with, built from the command line by
/// [`cli::ServeArgs::settings`]: each module takes its own part.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where sessions and tokens are kept.
    pub store: stores::StoreSettings,
    /// JWT policy and keys.
    pub tokens: tokens::TokenSettings,
    /// CSRF origin checks.
    pub csrf: auth::CsrfSettings,
    /// Flask interop.
    pub flask: flask::FlaskSettings,
    /// Session cookie and lifetimes.
    pub session: SessionSettings,
    /// The demo users `POST /login` accepts.
    pub demo_users: Vec<auth::DemoUser>,
    /// The rate limits.
    pub throttle: sessionwarden::throttle::ThrottleConfig,
    /// How long audit records are kept.
    pub audit_retention: Duration,
    /// Metrics: when set, the store is instrumented and the events should come from
    /// [`metrics::ServerMetrics::events`]. Off by default.
    pub metrics: Option<metrics::ServerMetrics>,
    /// The risk rules and their GeoIP databases.
    pub risk: risk::RiskSettings,
}

/// The session cookie and lifetimes.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// Plain-http development cookies.
    pub insecure_cookies: bool,
    /// Idle timeout, seconds (0 = none).
    pub idle_timeout: u64,
    /// Absolute timeout, seconds (0 = none).
    pub absolute_timeout: u64,
    /// Persistent cookies.
    pub permanent: bool,
    /// Largest stored size of one server-side session, in bytes.
    pub max_session_size: usize,
    /// Whose forwarding headers are believed.
    pub trusted_proxies: sessionwarden::TrustedProxies,
    /// Keep full client addresses, not only prefixes.
    pub keep_client_address: bool,
    /// How recent a login or re-authentication must be for ending sessions.
    pub reauth_window: Duration,
    /// The per-user session cap, if any.
    pub session_limit: Option<sessionwarden::store::SessionLimit>,
}

impl App {
    /// Builds the application for `args` with `keyring`.
    ///
    /// # Errors
    /// When the store cannot be opened.
    pub async fn new(
        args: &ServeArgs,
        keyring: Keyring,
        events: Events,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        Self::with_settings(&args.settings(), keyring, events, clock).await
    }

    /// Builds the application for `settings` with `keyring`.
    ///
    /// # Errors
    /// When the store cannot be opened.
    pub async fn with_settings(
        settings: &Settings,
        keyring: Keyring,
        events: Events,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let stores = stores::open_instrumented(&settings.store, settings.metrics.as_ref()).await?;
        let user_revocation = stores.user_revocation();
        if let stores::UserRevocation::Unsupported(why) = &user_revocation {
            tracing::warn!(
                target: "sessionwarden::server",
                "POST /logout-everywhere is unavailable and answers 501: {why}"
            );
        }
        let args = &settings.session;
        // A cap the store cannot enforce is a configuration error, never a silent no-op.
        let session_limit = match (args.session_limit, &stores.session_cap) {
            (None, _) => None,
            (Some(limit), Ok(cap)) => Some((limit, cap.clone())),
            (Some(_), Err(why)) => {
                anyhow::bail!(
                    "--max-sessions-per-user is set, but {why}; pick another --store or drop the flag"
                )
            }
        };
        let mut cookie = CookieConfig::default();
        if args.insecure_cookies {
            cookie = cookie.insecure_allow_http();
        }
        let secs = |s: u64| (s > 0).then(|| Duration::from_secs(s));
        let expiry = Expiry::default()
            .with_idle_timeout(secs(args.idle_timeout))
            .with_absolute_timeout(secs(args.absolute_timeout))
            .persistent(args.permanent);
        let throttle = throttle(&settings.throttle, &stores.rate_limit, &events, &clock);
        let users = Arc::new(auth::Users::new(&settings.demo_users)?);
        let risk = Arc::new(risk::rules(&settings.risk)?);
        let csrf = auth::csrf_layer(&settings.csrf);
        // A Flask store brings Flask's cookie name, expiry, sid format and CSRF tokens.
        let flask = flask::FlaskMode::new(&settings.flask)?;
        let (cookie, expiry, csrf) = match &flask {
            Some(f) => (f.cookie(cookie), f.expiry(), f.csrf(csrf)),
            None => (cookie, expiry, csrf),
        };
        let token_stores = tokens::open_stores(&settings.store, &settings.tokens).await?;
        let tokens = Arc::new(tokens::build(
            &settings.tokens,
            keyring.clone(),
            clock.clone(),
            events.clone(),
            token_stores,
        )?);
        Ok(Self {
            state: AppState {
                store: stores.store,
                user_revocation,
                keyring,
                events,
                clock,
                users,
                tokens,
                flask_values: flask.is_some(),
                reauth_window: args.reauth_window,
                account_locks: stores.account_locks,
                risk,
                throttle,
            },
            cookie,
            expiry,
            max_session_size: args.max_session_size,
            client: (
                args.trusted_proxies.clone(),
                if args.keep_client_address {
                    sessionwarden::client::AddressRetention::FullAddress
                } else {
                    sessionwarden::client::AddressRetention::PrefixOnly
                },
            ),
            backend: stores.backend,
            csrf,
            flask,
            expired_deletion: stores.expired_deletion,
            index: stores.index,
            audit: stores.audit,
            audit_retention: settings.audit_retention,
            metrics: settings.metrics.as_ref().map(metrics::ServerMetrics::handle),
            server_metrics: settings.metrics.clone(),
            session_limit,
            capability_purge: stores.capability_purge,
            key_rotation: None,
        })
    }

    /// Rotates the keys from `source` every `every` (`--rotate-every`), as a job of
    /// [`App::maintenance`] on the application's clock. A key is retired once it stopped
    /// signing longer ago than [`App::longest_signed_lifetime`], so nothing it signed is still
    /// in use.
    ///
    /// # Errors
    /// When `every` is under an hour, the keys come from the environment, or sessions never
    /// expire (then no key could ever be retired without logging someone out).
    pub fn with_key_rotation(mut self, source: keys::KeySource, every: Duration) -> Result<Self> {
        if matches!(source, keys::KeySource::Env) {
            anyhow::bail!("--rotate-every cannot rotate keys given by SECRET_KEY / SECRET_KEY_FALLBACKS");
        }
        let Some(retire_after) = self.longest_signed_lifetime() else {
            anyhow::bail!(
                "--rotate-every needs sessions that expire: set --absolute-timeout or --idle-timeout, \
                 or no key could be retired without logging someone out"
            );
        };
        let schedule = sessionwarden::keyring::RotationSchedule::new(every, retire_after)?;
        self.key_rotation = Some(keys::KeyRotation { source, keyring: self.state.keyring.clone(), schedule });
        Ok(self)
    }

    /// The longest anything signed with a key lives: the session's absolute lifetime (else
    /// its idle timeout), the CSRF token lifetime, the JWT refresh-family and access-token
    /// lifetimes, plus the JWT clock leeway. `None` when sessions never expire.
    #[must_use]
    pub fn longest_signed_lifetime(&self) -> Option<Duration> {
        let session = self.expiry.absolute_timeout().or(self.expiry.idle_timeout())?;
        let tokens = &self.state.tokens;
        let refresh = tokens.refresh_config().family_ttl();
        let access = Duration::from_secs(tokens.config().access_ttl());
        let leeway = Duration::from_secs(tokens.config().leeway());
        Some(session.max(self.csrf.max_age()).max(refresh).max(access) + leeway)
    }

    /// The rotation schedule in force, if `--rotate-every` is set.
    #[must_use]
    pub fn rotation_schedule(&self) -> Option<sessionwarden::keyring::RotationSchedule> {
        self.key_rotation.as_ref().map(|r| r.schedule)
    }

    /// The periodic maintenance for this application: the session sweep (server-side stores)
    /// every [`SESSION_SWEEP_INTERVAL`], the purge of audit records older than
    /// [`App::audit_retention`] every [`AUDIT_PURGE_INTERVAL`] (stores that keep them), and
    /// the token purge every [`tokens::TOKEN_PURGE_INTERVAL`], off the application's clock.
    /// `serve` spawns it.
    pub fn maintenance(&self) -> Maintenance {
        let mut maintenance = Maintenance::new(self.state.clock.clone());
        // Only stores that need it: Flask-Session's records expire by TTL, with nothing to sweep.
        if let Some(store) = self.expired_deletion.clone() {
            maintenance = maintenance.with_job("session sweep", SESSION_SWEEP_INTERVAL, move |now| {
                let store = store.clone();
                // Small batches keep each statement short; stop when a batch comes back short.
                async move { in_batches(SWEEP_BATCH, || store.delete_expired(now, SWEEP_BATCH)).await }
            });
        }
        if let Ok(log) = self.audit.clone() {
            let retention = self.audit_retention;
            maintenance = maintenance.with_job("audit purge", AUDIT_PURGE_INTERVAL, move |now| {
                let log = log.clone();
                let before = Timestamp::from_unix(
                    now.unix().saturating_sub(i64::try_from(retention.as_secs()).unwrap_or(i64::MAX)),
                );
                async move { in_batches(AUDIT_PURGE_BATCH, || log.purge(before, AUDIT_PURGE_BATCH)).await }
            });
        }
        if let Some(purge) = self.capability_purge.clone() {
            // Expired rate-limit rows never change a decision; this only reclaims their space.
            maintenance = maintenance.with_job("rate-limit purge", SESSION_SWEEP_INTERVAL, move |now| {
                let purge = purge.clone();
                async move { in_batches(SWEEP_BATCH, || purge.run(now, SWEEP_BATCH)).await }
            });
        }
        if let Some(m) = self.server_metrics.clone() {
            maintenance = maintenance.with_job("metrics upkeep", METRICS_UPKEEP_INTERVAL, move |now| {
                m.upkeep(now);
                std::future::ready(Ok::<u64, std::convert::Infallible>(0))
            });
        }
        if let Some(rotation) = self.key_rotation.clone() {
            let events = self.state.events.clone();
            maintenance =
                maintenance.with_job("key rotation", keys::KEY_ROTATION_CHECK_INTERVAL, move |now| {
                    let (rotation, events) = (rotation.clone(), events.clone());
                    async move { rotation.run(now, &events).await }
                });
        }
        let tokens = self.state.tokens.clone();
        // Without it the SQL token tables only ever grow. The token stores do not count
        // what they purge, so the job reports 0.
        maintenance.with_job("token purge", tokens::TOKEN_PURGE_INTERVAL, move |now| {
            let tokens = tokens.clone();
            let now = u64::try_from(now.unix()).unwrap_or(0);
            async move { tokens.purge_expired_at(now).await.map(|()| 0) }
        })
    }

    /// The session layer this application uses.
    #[must_use]
    pub fn session_layer(&self) -> SessionLayer {
        let layer = SessionLayer::new(self.backend.clone(), self.state.keyring.clone())
            .with_cookie(self.cookie.clone())
            .with_expiry(self.expiry.clone())
            .with_max_session_size(self.max_session_size)
            .with_trusted_proxies(self.client.0.clone())
            .with_address_retention(self.client.1)
            .with_clock(self.state.clock.clone())
            .with_events(self.state.events.clone())
            .with_risk_rules((*self.state.risk).clone());
        let layer = match &self.session_limit {
            Some((limit, cap)) => layer.with_session_limit(*limit, cap.clone()),
            None => layer,
        };
        let layer = match &self.state.account_locks {
            Ok(locks) => layer.with_account_locks(locks.clone()),
            Err(_) => layer,
        };
        let layer = match &self.state.throttle {
            Some(throttle) => layer.with_throttle(throttle.clone()),
            None => layer,
        };
        match self.flask.as_ref().and_then(flask::FlaskMode::ids) {
            Some(ids) => layer.with_id_codec(ids),
            None => layer,
        }
    }

    /// The full router.
    pub fn router(&self) -> Router {
        // CSRF inside sessions: the token check reads the session's secret.
        routes::router(self.state.clone()).layer(self.csrf.clone()).layer(self.session_layer())
    }
}

/// The rate limits of `config`: shared through the store when it can host them, else this
/// process's own, said loudly at start-up (a fleet of N such servers allows N times each
/// limit). `None` when every limit is off.
fn throttle(
    config: &sessionwarden::throttle::ThrottleConfig,
    shared: &Result<Arc<dyn sessionwarden::store::RateLimitStore>, stores::Unsupported>,
    events: &Events,
    clock: &Arc<dyn Clock>,
) -> Option<sessionwarden::throttle::Throttle> {
    use sessionwarden::throttle::Throttle;
    if !config.any_on() {
        return None;
    }
    Some(match shared {
        Ok(store) => Throttle::shared(*config, store.clone(), events.clone(), clock.clone()),
        Err(why) => {
            tracing::warn!(
                target: "sessionwarden::server",
                "rate limits are counted in this process only: {why}; N servers allow N times each \
                 limit (--store redis, postgres or sqlite shares them across a fleet)"
            );
            Throttle::in_process(*config, events.clone(), clock.clone())
        }
    })
}

/// Runs the server until SIGTERM or Ctrl-C, then drains in-flight requests.
///
/// # Errors
/// When the keyring or store cannot be opened, or the address cannot be bound.
pub async fn serve(args: ServeArgs, keyring_path: std::path::PathBuf) -> Result<()> {
    // Checked before anything is opened: a refused admin listener stops the start-up.
    let admin =
        admin::AdminConfig::new(args.admin_listen, args.admin_token_file.as_deref(), &args.admin_token)?;
    let (audit_sink, audit_writer) = audit::AuditSink::channel(audit::AUDIT_QUEUE);
    let flask_mode = matches!(args.store, cli::StoreKind::FlaskCookie | cli::StoreKind::FlaskRedis);
    let key_settings = args.key_settings();
    let (keyring, source) =
        keys::open(&key_settings, &args.store_settings(), &keyring_path, flask_mode, SystemClock.now())
            .await?;
    // Metrics are served on the admin listener: they are kept only when there is one.
    let server_metrics = admin.as_ref().map(|_| metrics::ServerMetrics::new(&keyring, SystemClock.now()));
    let mut sinks: Vec<Arc<dyn sessionwarden::events::EventSink>> = vec![Arc::new(audit_sink)];
    if let Some(m) = &server_metrics {
        sinks.push(m.sink());
    }
    // Security event tokens for the risk rules' firings, signed and sent off the request path.
    let caep = args.caep_export.clone().map(|target| {
        let (sink, writer) = caep::CaepSink::channel(&args.jwt_issuer, args.keep_client_address, target);
        sinks.push(Arc::new(sink));
        writer
    });
    // The dashboard's events-per-minute chart, counted only when there is an admin listener.
    let event_rate = admin.as_ref().map(|_| admin::EventRate::default());
    if let Some(rate) = &event_rate {
        sinks.push(Arc::new(rate.clone()));
    }
    let events = Events::with_sinks(1024, sinks);
    match &source {
        keys::KeySource::File(path) => {
            keys::spawn_watcher(
                keyring.clone(),
                path.clone(),
                Duration::from_millis(args.keyring_poll_ms),
                events.clone(),
            );
        }
        keys::KeySource::Shared(shared) => {
            keys::spawn_shared_watcher(shared.clone(), keys::SHARED_KEYRING_POLL, events.clone());
        }
        keys::KeySource::Env => {}
    }
    let mut settings = args.settings();
    settings.metrics = server_metrics;
    let mut app = App::with_settings(&settings, keyring, events, Arc::new(SystemClock)).await?;
    if let Some(every) = key_settings.rotate_every {
        app = app.with_key_rotation(source.clone(), every)?;
    }
    // Without an audit log the writer is dropped and the sink discards what it is given.
    let _audit = app.audit.clone().ok().map(|log| audit_writer.spawn(log));
    let _maintenance = app.maintenance().spawn(MAINTENANCE_POLL);
    let _caep = caep.map(|writer| writer.spawn(app.state.tokens.clone()));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let admin_listener = match &admin {
        Some(config) => Some(
            tokio::net::TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("cannot listen on --admin-listen {}", config.listen))?,
        ),
        None => None,
    };
    let addr: SocketAddr = listener.local_addr()?;
    tracing::info!(target: "sessionwarden::server", %addr, store = ?args.store, "listening");
    // Tests and scripts read this line to find the port when listening on :0.
    println!("sessionwarden listening on http://{addr}");
    let limits = http::HttpLimits {
        header_timeout: args.header_timeout,
        body_timeout: args.body_timeout,
        idle_timeout: args.http_idle_timeout,
        max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let stop_on_signal = async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    };
    let wait_stop = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stopped| *stopped).await;
    };
    let admin_task = match (admin, admin_listener) {
        (Some(config), Some(listener)) => {
            let admin_addr = listener.local_addr()?;
            if config.token.is_none() {
                tracing::warn!(
                    target: "sessionwarden::admin",
                    addr = %admin_addr,
                    "the admin API and dashboard have no token: every user of this host can use them (set --admin-token-file)"
                );
            }
            tracing::info!(target: "sessionwarden::admin", addr = %admin_addr, "admin listening");
            println!("sessionwarden admin listening on http://{admin_addr}");
            let mut state = admin::AdminState::new(&app, source.clone());
            if let Some(rate) = event_rate {
                state = state.with_event_rate(rate);
            }
            let router = admin::admin_router(state, config.token);
            Some(tokio::spawn(http::serve(listener, router, limits, wait_stop(stopped.clone()))))
        }
        _ => None,
    };
    tokio::spawn(stop_on_signal);
    http::serve(listener, app.router(), limits, wait_stop(stopped)).await?;
    if let Some(task) = admin_task {
        let _ = task.await;
    }
    if let keys::KeySource::Shared(shared) = &source {
        // Another server takes the rotation over at once instead of when the lease expires.
        let _ = shared.release_lease().await;
    }
    tracing::info!(target: "sessionwarden::server", "stopped");
    Ok(())
}

/// Runs a `users` subcommand against the stores `args` configure (sessions, token stores and
/// the keyring at `keyring_path`, as `serve` would open them).
///
/// # Errors
/// When the keyring or a store cannot be opened, or the command fails.
pub async fn run_users(
    cmd: &cli::UsersCommand,
    args: ServeArgs,
    keyring_path: std::path::PathBuf,
    out: &mut impl std::io::Write,
) -> Result<()> {
    // Refused before connecting to anything, naming the store and why.
    if let Some(why) = stores::missing_policy(args.store) {
        return Err(users::UsersError::Unsupported(why).into());
    }
    let mut args = args;
    // Through the cache on Redis, so ended sessions are published to the servers' caches.
    if matches!(args.store, cli::StoreKind::Redis) && args.local_cache == 0 {
        args.local_cache = 1;
    }
    let flask_mode = matches!(args.store, cli::StoreKind::FlaskCookie | cli::StoreKind::FlaskRedis);
    let (keyring, _) = keys::open(
        &args.key_settings(),
        &args.store_settings(),
        &keyring_path,
        flask_mode,
        SystemClock.now(),
    )
    .await?;
    let app = App::new(&args, keyring, Events::default(), Arc::new(SystemClock)).await?;
    users::run(cmd, &app.state, out).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!(target: "sessionwarden::server", "shutting down");
}
