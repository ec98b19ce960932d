//! The sessionwarden reference server: every capability of the library, end to end, behind
//! the routes of the contract in `ARCHITECTURE.md`. Thin over the library crates.

pub mod auth;
mod body;
pub mod cli;
pub mod flask;
pub mod http;
pub mod keys;
mod routes;
pub mod stores;
pub mod tokens;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use axum::Router;
use sessionwarden::keyring::Keyring;
use sessionwarden::{
    Backend, Clock, CookieConfig, Events, ExpiredDeletion, Expiry, SessionLayer, SessionStore, SystemClock,
};

use crate::cli::ServeArgs;

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
    /// The backend.
    pub backend: Backend,
    /// CSRF protection (origin check and tokens), inside the session layer.
    pub csrf: sessionwarden::CsrfLayer,
    /// Flask interop (`--store flask-cookie` / `flask-redis`), if on.
    pub flask: Option<flask::FlaskMode>,
    /// Deletion of expired records, if the store needs a sweeper.
    pub expired_deletion: Option<Arc<dyn ExpiredDeletion>>,
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
        let stores = stores::open(args).await?;
        let user_revocation = stores.user_revocation();
        if let stores::UserRevocation::Unsupported(why) = &user_revocation {
            tracing::warn!(
                target: "sessionwarden::server",
                "POST /logout-everywhere is unavailable and answers 501: {why}"
            );
        }
        let mut cookie = CookieConfig::default();
        if args.insecure_cookies {
            cookie = cookie.insecure_allow_http();
        }
        let secs = |s: u64| (s > 0).then(|| Duration::from_secs(s));
        let expiry = Expiry::default()
            .with_idle_timeout(secs(args.idle_timeout))
            .with_absolute_timeout(secs(args.absolute_timeout))
            .persistent(args.permanent);
        let users = Arc::new(auth::Users::new(&args.demo_user)?);
        let csrf = auth::csrf_layer(args);
        // A Flask store brings Flask's cookie name, expiry, sid format and CSRF tokens.
        let flask = flask::FlaskMode::new(args)?;
        let (cookie, expiry, csrf) = match &flask {
            Some(f) => (f.cookie(cookie), f.expiry(), f.csrf(csrf)),
            None => (cookie, expiry, csrf),
        };
        let token_stores = tokens::TokenStores::open(args).await?;
        let tokens = Arc::new(tokens::Tokens::new(
            args,
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
            },
            cookie,
            expiry,
            backend: stores.backend,
            csrf,
            flask,
            expired_deletion: stores.expired_deletion,
        })
    }

    /// The session layer this application uses.
    #[must_use]
    pub fn session_layer(&self) -> SessionLayer {
        let layer = SessionLayer::new(self.backend.clone(), self.state.keyring.clone())
            .with_cookie(self.cookie.clone())
            .with_expiry(self.expiry.clone())
            .with_clock(self.state.clock.clone())
            .with_events(self.state.events.clone());
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

/// Runs the server until SIGTERM or Ctrl-C, then drains in-flight requests.
///
/// # Errors
/// When the keyring or store cannot be opened, or the address cannot be bound.
pub async fn serve(args: ServeArgs, keyring_path: std::path::PathBuf) -> Result<()> {
    let events = Events::default();
    let flask_mode = matches!(args.store, cli::StoreKind::FlaskCookie | cli::StoreKind::FlaskRedis);
    let (keyring, source) = keys::load(&keyring_path, flask_mode)?;
    if let keys::KeySource::File(path) = &source {
        keys::spawn_watcher(
            keyring.clone(),
            path.clone(),
            Duration::from_millis(args.keyring_poll_ms),
            events.clone(),
        );
    }
    let app = App::new(&args, keyring, events, Arc::new(SystemClock)).await?;
    // Only stores that need it: Flask-Session's records expire by TTL, with nothing to sweep.
    if let Some(store) = app.expired_deletion.clone() {
        spawn_sweeper(store, app.state.clock.clone());
    }
    spawn_token_purger(app.state.tokens.clone());
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
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
    http::serve(listener, app.router(), limits, shutdown_signal()).await?;
    tracing::info!(target: "sessionwarden::server", "stopped");
    Ok(())
}

/// Removes expired sessions in bounded batches, once a minute.
fn spawn_sweeper(store: Arc<dyn ExpiredDeletion>, clock: Arc<dyn Clock>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            // Small batches keep each statement short; stop when a batch comes back short.
            loop {
                match store.delete_expired(clock.now(), 1000).await {
                    Ok(n) if n >= 1000 => tokio::task::yield_now().await,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(target: "sessionwarden::server", error = %e, "sweep failed");
                        break;
                    }
                }
            }
        }
    });
}

/// Removes expired refresh-token families and denylist entries every
/// [`tokens::TOKEN_PURGE_INTERVAL`]; without it the SQL token tables only ever grow.
fn spawn_token_purger(tokens: Arc<tokens::Tokens>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(tokens::TOKEN_PURGE_INTERVAL);
        loop {
            tick.tick().await;
            if let Err(e) = tokens.purge_expired().await {
                // The error names the operation and the driver's message: no token, no user.
                let source = std::error::Error::source(&e).map(ToString::to_string).unwrap_or_default();
                tracing::warn!(target: "sessionwarden::server", error = %e, source, "token purge failed");
            }
        }
    });
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
