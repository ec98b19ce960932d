//! `sessionwarden events`: the configured store's audit records ([`AuditLog`]), filtered,
//! as a table or JSON, once or followed.

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use sessionwarden::store::{AuditEntry, AuditLog, AuditQuery};
use sessionwarden::{Clock as _, MemoryStore, SystemClock, Timestamp};
use sessionwarden_redis::RedisStore;
use sessionwarden_sql::{PostgresStore, SqliteStore};

use crate::cli::{EventsArgs, StoreKind};
use crate::display;
use crate::stores::{StoreSettings, Unsupported, store_name};

/// Why `kind` keeps no audit records, if it keeps none: known from the kind alone, so
/// `events` refuses before connecting to anything.
#[must_use]
pub fn missing_audit(kind: StoreKind) -> Option<Unsupported> {
    let reason = match kind {
        StoreKind::Sqlite | StoreKind::Memory | StoreKind::Postgres | StoreKind::Redis => return None,
        StoreKind::Cookie | StoreKind::FlaskCookie => {
            "keeps nothing on the server: it has no audit log (the server's log has its security events)"
        }
        StoreKind::FlaskRedis => "has no audit log: Flask-Session's layout keeps session records only",
    };
    Some(Unsupported { store: store_name(kind), reason })
}

/// The audit log of the store `args` configure.
///
/// # Errors
/// When the store keeps none, or cannot be opened or reached.
pub async fn open_audit(args: &StoreSettings) -> Result<Arc<dyn AuditLog>> {
    Ok(match args.store {
        StoreKind::Memory => Arc::new(MemoryStore::with_capacity(args.memory_capacity)),
        StoreKind::Sqlite => {
            let path = match args.database_url.as_deref() {
                Some(url) => {
                    url.strip_prefix("sqlite://").or(url.strip_prefix("sqlite:")).unwrap_or(url).into()
                }
                None => args.data_dir.join("sessions.db"),
            };
            Arc::new(
                SqliteStore::open(&path).await.with_context(|| format!("SQLite store {}", path.display()))?,
            )
        }
        StoreKind::Postgres => {
            let url = args
                .database_url
                .as_deref()
                .context("--store postgres needs --database-url (or SESSIONWARDEN_DATABASE_URL)")?;
            Arc::new(PostgresStore::connect(url).await.context("PostgreSQL store")?)
        }
        StoreKind::Redis => {
            let store = RedisStore::connect_any(&args.redis_url).await.context("Redis store")?;
            Arc::new(store.try_with_prefix(args.redis_prefix.clone()).map_err(|e| anyhow::anyhow!("{e}"))?)
        }
        StoreKind::Cookie | StoreKind::FlaskCookie | StoreKind::FlaskRedis => {
            let why = missing_audit(args.store)
                .unwrap_or(Unsupported { store: store_name(args.store), reason: "has no audit log" });
            return Err(why.into());
        }
    })
}

/// Runs `events` against the store `settings` configure, writing to `out`.
///
/// # Errors
/// When the store keeps no audit log (before it is opened), cannot be reached, or a time
/// does not parse.
pub async fn run(args: &EventsArgs, settings: &StoreSettings, out: &mut impl std::io::Write) -> Result<()> {
    // Refused before anything else, naming the store and why.
    if let Some(why) = missing_audit(settings.store) {
        return Err(why.into());
    }
    let now = SystemClock.now();
    let mut query = AuditQuery::newest(args.limit as usize);
    query.kind.clone_from(&args.kind);
    query.user.clone_from(&args.user);
    query.since =
        args.since.as_deref().map(|s| display::parse_time(s, now)).transpose().context("--since")?;
    query.until =
        args.until.as_deref().map(|s| display::parse_time(s, now)).transpose().context("--until")?;
    let log = open_audit(settings).await?;
    let entries = log.query(&query).await?;
    if !args.follow {
        if args.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&entries)?)?;
        } else {
            writeln!(out, "{}", table(&entries, now))?;
            writeln!(out, "{} record(s)", entries.len())?;
        }
        return Ok(());
    }
    follow(&*log, query, entries, args, out).await
}

/// Prints what is there, oldest first, then polls for records newer than the last printed
/// until Ctrl-C.
async fn follow(
    log: &dyn AuditLog,
    mut query: AuditQuery,
    first: Vec<AuditEntry>,
    args: &EventsArgs,
    out: &mut impl std::io::Write,
) -> Result<()> {
    // Records of the newest second already printed: a poll from that second returns them again.
    let mut last_second: Option<Timestamp> = None;
    let mut printed: HashSet<String> = HashSet::new();
    let mut batch = first;
    let mut header = !args.json;
    let mut tick = tokio::time::interval(args.poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        batch.reverse(); // oldest first
        let mut fresh = Vec::new();
        for e in batch {
            let id = serde_json::to_string(&e)?;
            if last_second == Some(e.at) && printed.contains(&id) {
                continue;
            }
            if last_second != Some(e.at) {
                last_second = Some(e.at);
                printed.clear();
            }
            printed.insert(id);
            fresh.push(e);
        }
        let now = SystemClock.now();
        if args.json {
            for e in &fresh {
                writeln!(out, "{}", serde_json::to_string(e)?)?;
            }
        } else if !fresh.is_empty() || header {
            let t = table(&fresh, now);
            let mut lines = t.lines();
            let head = lines.next().unwrap_or_default();
            if header {
                writeln!(out, "{head}")?;
                header = false;
            }
            for l in lines {
                writeln!(out, "{l}")?;
            }
        }
        out.flush()?;
        tokio::select! {
            _ = tick.tick() => {}
            r = &mut ctrl_c => { r.context("waiting for Ctrl-C")?; return Ok(()); }
        }
        if let Some(at) = last_second {
            query.since = Some(at);
        }
        batch = log.query(&query).await?;
    }
}

fn table(entries: &[AuditEntry], now: Timestamp) -> String {
    let rows = entries.iter().map(|e| {
        vec![
            display::when(e.at, now),
            e.kind.clone(),
            e.user.clone().unwrap_or_else(|| "-".into()),
            e.handle.as_ref().map_or_else(|| "-".into(), ToString::to_string),
            if e.detail.is_empty() {
                "-".into()
            } else {
                serde_json::Value::Object(e.detail.clone()).to_string()
            },
        ]
    });
    display::table(&["AT", "TYPE", "USER", "SESSION", "DETAIL"], rows)
}
