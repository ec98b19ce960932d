//! Command-line interface: `sessionwarden serve`, `keys …`, `sessions …`, `events`.

// Doc comments here are also the `--help` text, where `<data-dir>` and the like are meant
// literally, not as HTML.
#![allow(rustdoc::invalid_html_tags)]

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// sessionwarden: secure sessions, a reference server and its admin CLI.
#[derive(Debug, Parser)]
#[command(name = "sessionwarden", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// Directory for the keyring and the embedded store.
    #[arg(long, global = true, env = "SESSIONWARDEN_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Keyring file [default: <data-dir>/keyring.json].
    #[arg(long, global = true, env = "SESSIONWARDEN_KEYRING")]
    pub keyring: Option<PathBuf>,

    /// Log format.
    #[arg(long, global = true, env = "SESSIONWARDEN_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// `serve` options, accepted without the subcommand too (`sessionwarden --insecure-cookies`).
    #[command(flatten)]
    pub serve: ServeArgs,
}

impl Cli {
    /// The keyring file's path.
    #[must_use]
    pub fn keyring_path(&self) -> PathBuf {
        self.keyring.clone().unwrap_or_else(|| self.data_dir.join("keyring.json"))
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Subcommands.
// large_enum_variant: parsed once at startup; boxing `ServeArgs` would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the reference server.
    Serve(ServeArgs),
    /// Manage the keyring: the file, or the shared keyring with `--keyring-store`.
    Keys {
        /// What to do.
        #[command(subcommand)]
        command: KeysCommand,
        /// The store of a shared keyring (`--keyring-store`): the same options (and
        /// environment) as `serve`.
        #[command(flatten)]
        store: Box<ServeArgs>,
    },
    /// List and revoke sessions in the configured store.
    Sessions {
        /// What to do.
        #[command(subcommand)]
        command: SessionsCommand,
        /// The store to act on: the same options (and environment) as `serve`.
        #[command(flatten)]
        store: Box<ServeArgs>,
    },
    /// Show the store's audit records (security events, revocations), newest first.
    Events {
        /// Filters and output.
        #[command(flatten)]
        args: EventsArgs,
        /// The store to read: the same options (and environment) as `serve`.
        #[command(flatten)]
        store: Box<ServeArgs>,
    },
    /// Disable and enable users in the configured store (OWASP ASVS 7.4.2).
    Users {
        /// What to do.
        #[command(subcommand)]
        command: UsersCommand,
        /// The store to act on: the same options (and environment) as `serve`.
        #[command(flatten)]
        store: Box<ServeArgs>,
    },
}

/// User administration commands.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// End every session and JWT refresh family of a user at once and refuse their logins
    /// (answered like a wrong password) until `enable`.
    Disable {
        /// The user.
        user: String,
    },
    /// Let a disabled user log in again.
    Enable {
        /// The user.
        user: String,
    },
    /// List disabled users.
    List {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// What a login does when the user has `--max-sessions-per-user` live sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum SessionLimitPolicyArg {
    /// The login succeeds; the user's oldest sessions beyond the cap end.
    #[default]
    EvictOldest,
    /// The login is refused with 409 `{"error": "too_many_sessions"}`.
    RefuseNew,
}

impl SessionLimitPolicyArg {
    /// The library's policy.
    #[must_use]
    pub fn policy(self) -> sessionwarden::store::LimitPolicy {
        match self {
            Self::EvictOldest => sessionwarden::store::LimitPolicy::EvictOldest,
            Self::RefuseNew => sessionwarden::store::LimitPolicy::RefuseNew,
        }
    }
}

/// Session administration commands.
#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// List live sessions, a page at a time in handle order (handle, user, created, last
    /// seen, expiry, client; never ids or data).
    List {
        /// Only this user's sessions.
        #[arg(long)]
        user: Option<String>,
        /// Print a JSON array instead of a table (the "more sessions" note goes to stderr).
        #[arg(long)]
        json: bool,
        /// Sessions per page.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: u32,
        /// Start after this handle: the one the previous page's "more sessions" note gave.
        #[arg(long, allow_hyphen_values = true)]
        cursor: Option<String>,
        /// Also count every matching session (a scan of the whole store on SQL).
        #[arg(long)]
        count: bool,
    },
    /// Show one session's metadata (never its id or data).
    Show {
        /// The handle, as `list` prints it. Handles are base64url and may begin with `-`.
        #[arg(allow_hyphen_values = true)]
        handle: String,
        /// Print a JSON object instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Revoke one session by its handle.
    Revoke {
        /// The handle, as `list` prints it. Handles are base64url and may begin with `-`.
        #[arg(allow_hyphen_values = true)]
        handle: String,
    },
    /// Revoke every session of a user ("log out everywhere").
    RevokeUser {
        /// The user.
        user: String,
    },
    /// Revoke every session in the store (everyone is logged out). Refused without `--yes`.
    RevokeAll {
        /// Yes, end every session.
        #[arg(long)]
        yes: bool,
    },
}

/// `events`: the store's audit records.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only records of this type (`session_revoked`, `csrf_rejected`, ...).
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// Only records naming this user.
    #[arg(long)]
    pub user: Option<String>,
    /// Only records at or after this time: RFC 3339 (`2026-12-03T18:00:00Z`) or a duration
    /// ago (`30m`, `2h`, `2d`).
    #[arg(long)]
    pub since: Option<String>,
    /// Only records before this time (same forms as `--since`).
    #[arg(long)]
    pub until: Option<String>,
    /// At most this many records (the newest).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub limit: u32,
    /// Print JSON (an array; with `--follow`, one object per line).
    #[arg(long)]
    pub json: bool,
    /// Keep printing new records as they arrive until Ctrl-C.
    #[arg(long)]
    pub follow: bool,
    /// With `--follow`: how often to poll the store (`500ms`, `2s`; 100ms to 60s).
    #[arg(long, default_value = "1s", value_parser = parse_poll)]
    pub poll: std::time::Duration,
}

/// `--poll`: a duration between 100 ms and 60 s.
fn parse_poll(s: &str) -> Result<std::time::Duration, String> {
    let d = parse_duration(s)?;
    if d < std::time::Duration::from_millis(100) || d > std::time::Duration::from_secs(60) {
        return Err(format!("{s:?} is outside 100ms..60s"));
    }
    Ok(d)
}

/// Keyring commands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List keys (ids, states, creation times; never key material).
    List {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Add a new primary key; the old primary becomes verify-only.
    Rotate,
    /// Retire a verify-only key: what it still seals is rejected.
    Retire {
        /// The key id.
        kid: u32,
    },
    /// Re-wrap the shared keyring's secrets under a new key-encryption key (`--keyring-store`
    /// only); then restart every server with the new key.
    Rewrap {
        /// The file holding the new key-encryption key (mode 0600).
        #[arg(long)]
        new_kek_file: PathBuf,
    },
}

/// The forwarding header trusted proxies write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ForwardingHeaderArg {
    /// `X-Forwarded-For: client, proxy1, proxy2`.
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    Forwarded,
}

impl ForwardingHeaderArg {
    fn header(self) -> sessionwarden::client::ForwardingHeader {
        match self {
            Self::XForwardedFor => sessionwarden::client::ForwardingHeader::XForwardedFor,
            Self::Forwarded => sessionwarden::client::ForwardingHeader::Forwarded,
        }
    }
}

/// Where sessions are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// An SQLite file in the data directory (the embedded default; durable, no service).
    Sqlite,
    /// In this process's memory (lost on restart).
    Memory,
    /// Sealed into the cookie itself.
    Cookie,
    /// PostgreSQL at `--database-url`.
    Postgres,
    /// Redis or Redis Cluster at `--redis-url`.
    Redis,
    /// Flask's own signed `session` cookie, shared with a Flask app (`SECRET_KEY`,
    /// `SECRET_KEY_FALLBACKS`, `PERMANENT_SESSION_LIFETIME`, `SESSION_COOKIE_NAME`).
    FlaskCookie,
    /// Flask-Session 0.8's Redis records at `--redis-url`, shared with a Flask app
    /// (`SESSION_KEY_PREFIX`, `SESSION_USE_SIGNER` and the settings of `flask-cookie`).
    FlaskRedis,
}

/// The signing algorithm, `--jwt-alg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum JwtAlg {
    /// HMAC-SHA256 with the keyring's JWT subkey (or `JWT_SECRET_KEY`). Nothing to publish.
    #[value(name = "HS256")]
    Hs256,
    /// Ed25519, keys derived from the keyring and published at `/.well-known/jwks.json`.
    #[value(name = "EdDSA")]
    EdDsa,
    /// ECDSA P-256, keys derived from the keyring and published at `/.well-known/jwks.json`.
    #[value(name = "ES256")]
    Es256,
}

impl JwtAlg {
    /// The JWT crate's algorithm.
    #[must_use]
    pub fn algorithm(self) -> sessionwarden_jwt::JwtAlgorithm {
        match self {
            Self::Hs256 => sessionwarden_jwt::JwtAlgorithm::Hs256,
            Self::EdDsa => sessionwarden_jwt::JwtAlgorithm::EdDsa,
            Self::Es256 => sessionwarden_jwt::JwtAlgorithm::Es256,
        }
    }
}

/// `serve` options.
#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SESSIONWARDEN_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,

    /// Session store.
    #[arg(long, env = "SESSIONWARDEN_STORE", value_enum, default_value_t = StoreKind::Sqlite)]
    pub store: StoreKind,

    /// PostgreSQL URL for `--store postgres` (SQLite: a file path or `sqlite:` URL, default
    /// `<data-dir>/sessions.db`).
    #[arg(long, env = "SESSIONWARDEN_DATABASE_URL")]
    pub database_url: Option<String>,

    /// Redis URL for `--store redis`; several comma-separated URLs, or `redis+cluster://`,
    /// connect to a Redis Cluster.
    #[arg(long, env = "SESSIONWARDEN_REDIS_URL", default_value = "redis://127.0.0.1:6379/")]
    pub redis_url: String,

    /// Key prefix in Redis (Flask-Session's default).
    #[arg(long, env = "SESSION_KEY_PREFIX", default_value = "session:")]
    pub redis_prefix: String,

    /// `--store redis` / `flask-redis`: key prefix of the JWT refresh tokens and revocations
    /// kept in the same Redis (their own key space, see `sessionwarden_redis::tokens`).
    #[arg(long, env = "SESSIONWARDEN_REDIS_TOKEN_PREFIX", default_value = sessionwarden_redis::DEFAULT_TOKEN_PREFIX)]
    pub redis_token_prefix: String,

    /// `--store redis`: cache up to N sessions in this process, invalidated across the fleet
    /// over Redis pub/sub (`<prefix>invalidate`); 0 turns it off. Off by default: on Redis
    /// Cluster a cached session can outlive its master's reachability for up to 5 s (see
    /// `sessionwarden::store::CachedStore`).
    #[arg(long, env = "SESSIONWARDEN_LOCAL_CACHE", default_value_t = 0)]
    pub local_cache: u64,

    /// Flask stores: Flask's `PERMANENT_SESSION_LIFETIME` in seconds (cookie max age, Redis
    /// TTL, sliding on every write).
    #[arg(long, env = "PERMANENT_SESSION_LIFETIME", default_value_t = 2_678_400,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub permanent_session_lifetime: u64,

    /// Flask stores: the cookie's name, Flask's `SESSION_COOKIE_NAME` (both apps must use
    /// the same one).
    #[arg(long, env = "SESSION_COOKIE_NAME", default_value = "session")]
    pub session_cookie_name: String,

    /// `--store flask-redis`: Flask-Session's deprecated `SESSION_USE_SIGNER` (signed sids).
    #[arg(long, env = "SESSION_USE_SIGNER")]
    pub session_use_signer: bool,

    /// Flask stores: `SECRET_KEY`, `SECRET_KEY_FALLBACKS` (comma-separated, Flask's list
    /// order) and `WTF_CSRF_SECRET_KEY`, from the environment only (never flags: `ps` shows
    /// flags).
    #[arg(skip = crate::flask::FlaskSecrets::from_env())]
    pub flask_secrets: crate::flask::FlaskSecrets,

    /// The data directory (set from the global `--data-dir`).
    #[arg(skip)]
    pub data_dir: std::path::PathBuf,

    /// Plain-http development: cookies without `Secure` and without the `__Host-` prefix.
    #[arg(long, env = "SESSIONWARDEN_INSECURE_COOKIES")]
    pub insecure_cookies: bool,

    /// Encrypt cookie-store sessions (XChaCha20-Poly1305) instead of only signing them.
    #[arg(long, env = "SESSIONWARDEN_ENCRYPT_COOKIES")]
    pub encrypt_cookies: bool,

    /// Idle timeout in seconds (0 = none).
    #[arg(long, env = "SESSIONWARDEN_IDLE_TIMEOUT", default_value_t = 1800)]
    pub idle_timeout: u64,

    /// Absolute timeout in seconds (0 = none).
    #[arg(long, env = "SESSIONWARDEN_ABSOLUTE_TIMEOUT", default_value_t = 43_200)]
    pub absolute_timeout: u64,

    /// Persistent cookies (Flask's SESSION_PERMANENT) instead of browser-session cookies.
    #[arg(long, env = "SESSIONWARDEN_PERMANENT")]
    pub permanent: bool,

    /// Time for a request's headers to arrive, and for an idle kept-alive connection to send
    /// its next request (`10s`, `500ms`, `2m`; a bare number is seconds).
    #[arg(long, env = "SESSIONWARDEN_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub header_timeout: std::time::Duration,

    /// Time for a request's whole body to arrive after its headers; later, the request gets
    /// 408 and the connection is closed.
    #[arg(long, env = "SESSIONWARDEN_BODY_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub body_timeout: std::time::Duration,

    /// Close a connection on which no byte moves either way for this long while no handler
    /// runs on it (a client that stops reading). Not the session idle timeout
    /// (`--idle-timeout`).
    #[arg(long, env = "SESSIONWARDEN_HTTP_IDLE_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub http_idle_timeout: std::time::Duration,

    /// Connections served at once; more wait in the accept queue until one closes. Keep it
    /// below the process's file-descriptor limit (`ulimit -n`) minus what the stores use.
    #[arg(long, env = "SESSIONWARDEN_MAX_CONNECTIONS", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Largest stored size of one server-side session, in bytes; a write past it is refused
    /// whole with 413 (cookie-store sessions are bounded by the browser's 4 KB).
    #[arg(long, env = "SESSIONWARDEN_MAX_SESSION_SIZE", default_value_t = sessionwarden::DEFAULT_MAX_SESSION_SIZE as u64,
          value_parser = clap::value_parser!(u64).range(256..))]
    pub max_session_size: u64,

    /// At most this many live sessions per user (OWASP ASVS 7.1.2); no cap when unset. Needs
    /// a store that can count a user's sessions (memory, sqlite, postgres, redis).
    #[arg(long, env = "SESSIONWARDEN_MAX_SESSIONS_PER_USER")]
    pub max_sessions_per_user: Option<std::num::NonZeroU32>,

    /// What a login over `--max-sessions-per-user` does.
    #[arg(long, env = "SESSIONWARDEN_SESSION_LIMIT_POLICY", value_enum, default_value_t = SessionLimitPolicyArg::EvictOldest)]
    pub session_limit_policy: SessionLimitPolicyArg,

    /// A proxy whose forwarding header is believed, as an address or CIDR (repeatable, or
    /// comma-separated in the environment). The client address is then the right-most hop
    /// that is not a trusted proxy; from any other peer the headers are ignored.
    #[arg(long, env = "SESSIONWARDEN_TRUSTED_PROXY", value_delimiter = ',',
          value_parser = sessionwarden::client::parse_cidr)]
    pub trusted_proxy: Vec<ipnet::IpNet>,

    /// The header trusted proxies write the client address into.
    #[arg(long, env = "SESSIONWARDEN_FORWARDING_HEADER", value_enum, default_value_t = ForwardingHeaderArg::XForwardedFor)]
    pub forwarding_header: ForwardingHeaderArg,

    /// Keep each session's full client address, not only its /24 (IPv4) or /48 (IPv6).
    /// A full address is personal data: say so in your privacy notice.
    #[arg(long, env = "SESSIONWARDEN_KEEP_CLIENT_ADDRESS")]
    pub keep_client_address: bool,

    /// Rate limits (see the README's "Rate limits"): `enforce` answers 429 with `Retry-After`
    /// past a limit, `monitor` only records a `throttled` security event, `off` counts
    /// nothing. Shared by every server on the same redis, postgres or sqlite store; the
    /// memory and cookie stores count in this process only.
    #[arg(long, env = "SESSIONWARDEN_THROTTLE_MODE", default_value = "enforce",
          value_parser = parse_throttle_mode)]
    pub throttle_mode: sessionwarden::throttle::Mode,

    /// Forged, unknown or expired session cookies per client (its /24 or /48), as
    /// `N/PERIOD[,block=DURATION]` (`20/min,block=15m`) or `off`. Past it: 429, and for the
    /// block window every request of the client that carries a session cookie.
    #[arg(long, env = "SESSIONWARDEN_LIMIT_ID_GUESSING",
          default_value = sessionwarden::throttle::DEFAULT_ID_GUESSING, value_parser = parse_limit)]
    pub limit_id_guessing: LimitArg,

    /// New sessions per client: past it the request gets 429 and nothing is stored.
    #[arg(long, env = "SESSIONWARDEN_LIMIT_NEW_SESSIONS",
          default_value = sessionwarden::throttle::DEFAULT_NEW_SESSIONS, value_parser = parse_limit)]
    pub limit_new_sessions: LimitArg,

    /// `POST /login` and `POST /reauth` attempts per client, counted before the password is
    /// checked.
    #[arg(long, env = "SESSIONWARDEN_LIMIT_LOGIN_PER_CLIENT",
          default_value = sessionwarden::throttle::DEFAULT_LOGIN_PER_CLIENT, value_parser = parse_limit)]
    pub limit_login_per_client: LimitArg,

    /// `POST /login` and `POST /reauth` attempts per user name, from any client (no block
    /// window by default, so nobody can lock an account out for longer than the rate).
    #[arg(long, env = "SESSIONWARDEN_LIMIT_LOGIN_PER_USER",
          default_value = sessionwarden::throttle::DEFAULT_LOGIN_PER_USER, value_parser = parse_limit)]
    pub limit_login_per_user: LimitArg,

    /// How recent a login or `POST /reauth` must be for ending sessions (e.g. `5m`).
    #[arg(long, env = "SESSIONWARDEN_REAUTH_WINDOW", default_value = "5m", value_parser = parse_duration)]
    pub reauth_window: std::time::Duration,
    /// A risk rule's action, `RULE=ACTION` (repeatable, or comma-separated in the
    /// environment), over the defaults: rules `network-change`, `asn-change`,
    /// `country-change`, `impossible-travel`, `device-change`, `concurrent-use`,
    /// `refresh-token-reuse`; actions `off`, `monitor`, `step-up`, `revoke`.
    #[arg(long = "risk", env = "SESSIONWARDEN_RISK", value_delimiter = ',', value_name = "RULE=ACTION")]
    pub risk: Vec<sessionwarden::risk::RuleSetting>,

    /// Turn every risk rule off (no comparison on the request path at all).
    #[arg(long, env = "SESSIONWARDEN_RISK_OFF")]
    pub risk_off: bool,

    /// The window of the `concurrent-use` rule: two networks within it (e.g. `60s`, `5m`).
    #[arg(long, env = "SESSIONWARDEN_RISK_CONCURRENT_WINDOW", default_value = "60s", value_parser = parse_retention)]
    pub risk_concurrent_window: std::time::Duration,

    /// The speed, in km/h, past which the `impossible-travel` rule fires.
    #[arg(long, env = "SESSIONWARDEN_RISK_MAX_SPEED", default_value_t = sessionwarden::risk::DEFAULT_MAX_SPEED_KMH)]
    pub risk_max_speed: f64,

    /// An offline MaxMind-format GeoIP database (`.mmdb`: GeoLite2/GeoIP2 City, Country or
    /// ASN), for the `asn-change`, `country-change` and `impossible-travel` rules
    /// (repeatable, or comma-separated in the environment: a City and an ASN file together).
    #[arg(long, env = "SESSIONWARDEN_GEOIP_DB", value_delimiter = ',')]
    pub geoip_db: Vec<PathBuf>,

    /// Export risk rule firings as OpenID CAEP Security Event Tokens: `stdout` (one per
    /// line), or an `http://` URL on a loopback address (RFC 8935 push). Off unless set.
    #[arg(long, env = "SESSIONWARDEN_CAEP_EXPORT", value_name = "stdout|URL")]
    pub caep_export: Option<crate::caep::CaepTarget>,

    /// Serve the admin API (sessions, audit records, keys, its OpenAPI document), `/metrics`
    /// and the admin dashboard (`/admin`, for browsers) on this address; off unless set.
    /// Anything but a loopback address needs an admin token.
    #[arg(long, env = "SESSIONWARDEN_ADMIN_LISTEN")]
    pub admin_listen: Option<SocketAddr>,

    /// A file holding the admin token: the API's bearer token and the dashboard's sign-in (at
    /// least 32 bytes; surrounding whitespace is ignored). Or set `SESSIONWARDEN_ADMIN_TOKEN`
    /// in the environment.
    #[arg(long, env = "SESSIONWARDEN_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,

    /// `SESSIONWARDEN_ADMIN_TOKEN`, from the environment only (never a flag: `ps` shows flags).
    #[arg(skip = crate::admin::TokenSecret::from_env())]
    pub admin_token: crate::admin::TokenSecret,

    /// How long audit records are kept in the store (`90d`, `12h`, `30m`), purged hourly.
    #[arg(long, env = "SESSIONWARDEN_AUDIT_RETENTION", default_value = "90d", value_parser = parse_retention)]
    pub audit_retention: std::time::Duration,

    /// Maximum number of sessions the memory store holds.
    #[arg(long, env = "SESSIONWARDEN_MEMORY_CAPACITY", default_value_t = 100_000)]
    pub memory_capacity: usize,

    /// How often the keyring file is checked for changes, in milliseconds.
    #[arg(long, env = "SESSIONWARDEN_KEYRING_POLL_MS", default_value_t = 1000)]
    pub keyring_poll_ms: u64,

    /// The site's own origin for CSRF checks, exactly, e.g. `https://app.example`
    /// [default: the request's Host with https, or http under --insecure-cookies].
    #[arg(long, env = "SESSIONWARDEN_PUBLIC_ORIGIN", value_parser = sessionwarden::csrf::Origin::parse)]
    pub public_origin: Option<sessionwarden::csrf::Origin>,

    /// Another origin allowed to send state-changing requests (repeatable; exact match, no
    /// patterns).
    #[arg(long, value_parser = sessionwarden::csrf::Origin::parse)]
    pub trusted_origin: Vec<sessionwarden::csrf::Origin>,

    /// A demo user for `POST /login`, NAME:PASSWORD (repeatable). The password is hashed
    /// with argon2 as it is parsed and never kept.
    #[arg(long, value_parser = crate::auth::DemoUser::parse)]
    pub demo_user: Vec<crate::auth::DemoUser>,

    /// Refuse state-changing requests that carry neither `Sec-Fetch-Site` nor `Origin`
    /// (non-browser clients).
    #[arg(long, env = "SESSIONWARDEN_CSRF_STRICT")]
    pub csrf_strict: bool,

    /// JWT signing algorithm: HS256 with the keyring's JWT subkey, or EdDSA / ES256 with keys
    /// derived from the keyring and published at `/.well-known/jwks.json`.
    #[arg(long, env = "SESSIONWARDEN_JWT_ALG", value_enum, default_value_t = JwtAlg::Hs256)]
    pub jwt_alg: JwtAlg,

    /// The `iss` of issued tokens, required of verified ones.
    #[arg(long, env = "SESSIONWARDEN_JWT_ISSUER", default_value = "sessionwarden")]
    pub jwt_issuer: String,

    /// The `aud` of issued tokens, required of verified ones.
    #[arg(long, env = "SESSIONWARDEN_JWT_AUDIENCE", default_value = "sessionwarden")]
    pub jwt_audience: String,

    /// Clock-skew leeway for `exp`, `nbf` and `iat`, in seconds (at most 60).
    #[arg(long, env = "SESSIONWARDEN_JWT_LEEWAY", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=60))]
    pub jwt_leeway: u64,

    /// Access-token lifetime in seconds.
    #[arg(long, env = "SESSIONWARDEN_JWT_ACCESS_TTL", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub jwt_access_ttl: u64,

    /// Seconds in which a retried refresh gets the same successor instead of counting as reuse
    /// (0 = strict; at most 60).
    #[arg(long, env = "SESSIONWARDEN_JWT_REFRESH_GRACE", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(0..=60))]
    pub jwt_refresh_grace: u64,

    /// Key id of tokens signed with `JWT_SECRET_KEY`; tokens with any other id are refused.
    #[arg(long, env = "JWT_SECRET_KEY_ID", default_value = "static")]
    pub jwt_secret_key_id: String,

    /// `JWT_SECRET_KEY` (environment only, never a flag: `ps` shows flags): an explicit HS256
    /// secret, shared with other verifiers, instead of the keyring's derived one.
    #[arg(skip = crate::tokens::JwtSecret::from_env())]
    pub jwt_secret_key: Option<crate::tokens::JwtSecret>,

    /// Rotate the primary key once it is this old (`30d`, `12h`, `1w`; at least an hour). A
    /// key is retired once it stopped signing longer ago than the longest of the session's
    /// absolute lifetime, the CSRF token lifetime and the JWT refresh lifetime (so nobody is
    /// logged out), and its secret is erased. With `--keyring-store`, one server does it for
    /// the fleet.
    #[arg(long, env = "SESSIONWARDEN_ROTATE_EVERY", value_parser = parse_rotation)]
    pub rotate_every: Option<std::time::Duration>,

    /// Keep the keyring in the session store (`postgres`, `redis`, `sqlite`), shared by every
    /// server using it, instead of the keyring file (which seeds it on first use, if present).
    /// Its secrets are wrapped under the key-encryption key (`--kek-file` or `SESSIONWARDEN_KEK`).
    #[arg(long, env = "SESSIONWARDEN_KEYRING_STORE")]
    pub keyring_store: bool,

    /// The shared keyring's name in the store (one store may hold several).
    #[arg(long, env = "SESSIONWARDEN_KEYRING_NAME", default_value = "default", value_parser = parse_keyring_name)]
    pub keyring_name: String,

    /// A file (mode 0600) holding the key-encryption key of `--keyring-store`: base64 of 32
    /// random bytes (`openssl rand -base64 32`). Or set `SESSIONWARDEN_KEK`.
    #[arg(long, env = "SESSIONWARDEN_KEK_FILE")]
    pub kek_file: Option<PathBuf>,

    /// `SESSIONWARDEN_KEK`, from the environment only (never a flag: `ps` shows flags).
    #[arg(skip = crate::keys::KekText::from_env())]
    pub kek: crate::keys::KekText,
}

/// `--rotate-every`: humantime's syntax (`30d`, `12h`, `1w`), at least an hour.
fn parse_rotation(s: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("{s:?} is not a duration like 30d or 12h: {e}"))?;
    if d < sessionwarden::keyring::MIN_ROTATION_INTERVAL {
        return Err("rotating more often than hourly only grows the keyring: give at least 1h".into());
    }
    Ok(d)
}

/// `--keyring-name`: 1 to 64 characters of `[A-Za-z0-9_.-]`.
fn parse_keyring_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok { Ok(s.to_owned()) } else { Err(format!("{s:?} is not 1 to 64 characters of [A-Za-z0-9_.-]")) }
}

/// Parses `10s`, `500ms`, `2m` or a bare number of seconds; zero is refused (a zero timeout
/// would refuse every request).
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (digits, scale_ms) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60_000)
    } else {
        (s, 1000)
    };
    let n: u64 =
        digits.trim().parse().map_err(|_| format!("{s:?} is not a duration like 10s, 500ms or 2m"))?;
    let ms = n.checked_mul(scale_ms).ok_or_else(|| format!("{s:?} is too long"))?;
    if ms == 0 {
        return Err("a timeout of zero would refuse every request".into());
    }
    Ok(std::time::Duration::from_millis(ms))
}

/// A rate limit flag: a limit, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitArg(pub Option<sessionwarden::throttle::Limit>);

/// `--limit-*`: `N/PERIOD[,block=DURATION]` or `off`.
fn parse_limit(s: &str) -> Result<LimitArg, String> {
    if s.trim() == "off" {
        return Ok(LimitArg(None));
    }
    s.parse().map(|l| LimitArg(Some(l))).map_err(|e: sessionwarden::throttle::LimitParseError| e.to_string())
}

/// `--throttle-mode`.
fn parse_throttle_mode(s: &str) -> Result<sessionwarden::throttle::Mode, String> {
    s.parse().map_err(|e: sessionwarden::throttle::LimitParseError| e.to_string())
}

/// Parses a retention such as `90d`, `12h` or `1w 2d` (humantime's syntax); at least a
/// second.
fn parse_retention(s: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("{s:?} is not a duration like 90d or 12h: {e}"))?;
    if d < std::time::Duration::from_secs(1) {
        return Err("a retention under a second would purge every record at once".into());
    }
    Ok(d)
}

/// The settings each part of the server takes: this is the one place that reads `ServeArgs`.
impl ServeArgs {
    /// Everything [`crate::App`] needs.
    #[must_use]
    pub fn settings(&self) -> crate::Settings {
        crate::Settings {
            store: self.store_settings(),
            tokens: self.token_settings(),
            csrf: self.csrf_settings(),
            flask: self.flask_settings(),
            session: crate::SessionSettings {
                insecure_cookies: self.insecure_cookies,
                idle_timeout: self.idle_timeout,
                absolute_timeout: self.absolute_timeout,
                permanent: self.permanent,
                max_session_size: usize::try_from(self.max_session_size).unwrap_or(usize::MAX),
                trusted_proxies: self
                    .trusted_proxy
                    .iter()
                    .fold(sessionwarden::TrustedProxies::default(), |proxies, net| proxies.with_network(*net))
                    .with_header(self.forwarding_header.header()),
                keep_client_address: self.keep_client_address,
                reauth_window: self.reauth_window,
                session_limit: self.max_sessions_per_user.map(|max| {
                    sessionwarden::store::SessionLimit::new(max, self.session_limit_policy.policy())
                }),
            },
            demo_users: self.demo_user.clone(),
            throttle: self.throttle_config(),
            audit_retention: self.audit_retention,
            risk: crate::risk::RiskSettings {
                rules: self.risk.clone(),
                off: self.risk_off,
                concurrent_window: Some(self.risk_concurrent_window),
                max_speed_kmh: Some(self.risk_max_speed),
                geoip_db: self.geoip_db.clone(),
            },
            // Turned on by whoever serves `/metrics` (see `crate::metrics`).
            metrics: None,
        }
    }

    /// The rate limits: each `--limit-*` in `--throttle-mode`, `off` ones off.
    #[must_use]
    pub fn throttle_config(&self) -> sessionwarden::throttle::ThrottleConfig {
        use sessionwarden::throttle::{Mode, Rule, ThrottleConfig};
        let mut config = ThrottleConfig::default();
        let pairs = [
            (&mut config.id_guessing, self.limit_id_guessing),
            (&mut config.new_sessions, self.limit_new_sessions),
            (&mut config.login_per_client, self.limit_login_per_client),
            (&mut config.login_per_user, self.limit_login_per_user),
        ];
        for (rule, LimitArg(limit)) in pairs {
            *rule = match limit {
                Some(limit) => Rule { limit, mode: self.throttle_mode },
                None => Rule { limit: rule.limit, mode: Mode::Off },
            };
        }
        config
    }

    /// Where sessions, refresh tokens and revocations are kept.
    #[must_use]
    pub fn store_settings(&self) -> crate::stores::StoreSettings {
        crate::stores::StoreSettings {
            store: self.store,
            database_url: self.database_url.clone(),
            redis_url: self.redis_url.clone(),
            redis_prefix: self.redis_prefix.clone(),
            redis_token_prefix: self.redis_token_prefix.clone(),
            local_cache: self.local_cache,
            memory_capacity: self.memory_capacity,
            encrypt_cookies: self.encrypt_cookies,
            data_dir: self.data_dir.clone(),
            permanent_session_lifetime: self.permanent_session_lifetime,
            flask_secrets: self.flask_secrets.clone(),
        }
    }

    /// The JWT policy, algorithm and explicit secret.
    #[must_use]
    pub fn token_settings(&self) -> crate::tokens::TokenSettings {
        crate::tokens::TokenSettings {
            algorithm: self.jwt_alg.algorithm(),
            issuer: self.jwt_issuer.clone(),
            audience: self.jwt_audience.clone(),
            leeway: self.jwt_leeway,
            access_ttl: self.jwt_access_ttl,
            refresh_grace: self.jwt_refresh_grace,
            secret_key: self.jwt_secret_key.clone(),
            secret_key_id: self.jwt_secret_key_id.clone(),
        }
    }

    /// Where keys come from and how they rotate.
    #[must_use]
    pub fn key_settings(&self) -> crate::keys::KeySettings {
        crate::keys::KeySettings {
            rotate_every: self.rotate_every,
            keyring_store: self.keyring_store,
            keyring_name: self.keyring_name.clone(),
            kek_file: self.kek_file.clone(),
            kek: self.kek.clone(),
        }
    }

    /// The CSRF origin checks.
    #[must_use]
    pub fn csrf_settings(&self) -> crate::auth::CsrfSettings {
        crate::auth::CsrfSettings {
            csrf_strict: self.csrf_strict,
            public_origin: self.public_origin.clone(),
            insecure_cookies: self.insecure_cookies,
            trusted_origin: self.trusted_origin.clone(),
        }
    }

    /// Flask interop.
    #[must_use]
    pub fn flask_settings(&self) -> crate::flask::FlaskSettings {
        crate::flask::FlaskSettings {
            store: self.store,
            session_use_signer: self.session_use_signer,
            session_cookie_name: self.session_cookie_name.clone(),
            permanent_session_lifetime: self.permanent_session_lifetime,
            permanent: self.permanent,
            flask_secrets: self.flask_secrets.clone(),
        }
    }
}

impl Default for ServeArgs {
    fn default() -> Self {
        // invariant: the empty argument list is valid (every option has a default)
        Cli::parse_from(["sessionwarden"]).serve
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser;

    /// A handle is base64url, so one in 32 begins with `-`: it is still a value, not a flag.
    #[test]
    fn handles_beginning_with_a_hyphen_are_values() {
        for argv in [
            &["sessionwarden", "sessions", "show", "-R8xq", "--json"][..],
            &["sessionwarden", "sessions", "revoke", "-R8xq"],
            &["sessionwarden", "sessions", "list", "--cursor", "-R8xq"],
        ] {
            let cli = super::Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
            assert!(format!("{:?}", cli.command).contains("\"-R8xq\""), "{argv:?}");
        }
    }

    #[test]
    fn durations() {
        let cases: [(&str, Option<Duration>); 9] = [
            ("10s", Some(Duration::from_secs(10))),
            ("10", Some(Duration::from_secs(10))),
            ("500ms", Some(Duration::from_millis(500))),
            ("2m", Some(Duration::from_secs(120))),
            (" 1s ", Some(Duration::from_secs(1))),
            ("0s", None),
            ("-1s", None),
            ("1h", None),
            ("s", None),
        ];
        for (text, want) in cases {
            assert_eq!(super::parse_duration(text).ok(), want, "{text:?}");
        }
    }

    #[test]
    fn throttle_flags() {
        use sessionwarden::throttle::{Mode, ThrottleConfig};
        let defaults = super::ServeArgs::default().throttle_config();
        assert_eq!(defaults, ThrottleConfig::default(), "the flags' defaults are the library's");
        let cli = super::Cli::try_parse_from([
            "sessionwarden",
            "--throttle-mode",
            "monitor",
            "--limit-login-per-user",
            "3/10m",
            "--limit-new-sessions",
            "off",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let c = cli.serve.throttle_config();
        assert_eq!(c.login_per_user.limit.to_string(), "3/600s");
        assert_eq!(
            (c.login_per_user.mode, c.new_sessions.mode, c.id_guessing.mode),
            (Mode::Monitor, Mode::Off, Mode::Monitor)
        );
        for bad in
            [["--limit-id-guessing", "0/min"], ["--limit-login-per-client", "ten"], ["--throttle-mode", "on"]]
        {
            assert!(super::Cli::try_parse_from(["sessionwarden", bad[0], bad[1]]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn retentions() {
        let day = 86_400;
        let cases: [(&str, Option<u64>); 7] = [
            ("90d", Some(90 * day)),
            ("12h", Some(12 * 3600)),
            ("1w 2d", Some(9 * day)),
            (" 30m ", Some(1800)),
            ("0s", None),
            ("90", None),
            ("forever", None),
        ];
        for (text, want) in cases {
            assert_eq!(super::parse_retention(text).ok().map(|d| d.as_secs()), want, "{text:?}");
        }
        assert_eq!(super::ServeArgs::default().audit_retention.as_secs(), 90 * day);
    }

    #[test]
    fn rotation_intervals_and_keyring_names() {
        let day = 86_400;
        let cases: [(&str, Option<u64>); 5] = [
            ("30d", Some(30 * day)),
            ("1h", Some(3600)),
            (" 1w ", Some(7 * day)),
            ("59m", None),
            ("30", None),
        ];
        for (text, want) in cases {
            assert_eq!(super::parse_rotation(text).ok().map(|d| d.as_secs()), want, "{text:?}");
        }
        for (name, ok) in
            [("default", true), ("shop.prod-2", true), ("", false), ("a{b}", false), ("a b", false)]
        {
            assert_eq!(super::parse_keyring_name(name).is_ok(), ok, "{name:?}");
        }
        assert!(super::parse_keyring_name(&"x".repeat(65)).is_err());
    }
}
