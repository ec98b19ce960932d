//! JWT refresh tokens and access-token revocations in SQL (schema version 2): `sessionwarden-jwt`'s
//! [`RefreshStore`] and [`Revocations`] for SQLite and PostgreSQL.
//!
//! Both backends run the same statements (`$n` placeholders, 0/1 integers for booleans); only
//! "the larger of two" is spelled differently (`max` / `GREATEST`). The one operation that must
//! be atomic, [`RefreshStore::rotate`], is a single guarded `UPDATE … WHERE successor IS NULL`
//! in a transaction with the successor's `INSERT`: of two concurrent rotations of one token,
//! exactly one updates a row.
//!
//! [`Revocations::check`] is one indexed `SELECT` answering "jti denied, session revoked, or
//! issued before the user's cutoff?". Put a
//! [`CachedRevocations`](sessionwarden_jwt::CachedRevocations) in front of it on every node.

use std::fmt;
#[cfg(feature = "sqlite")]
use std::path::Path;
#[cfg(feature = "postgres")]
use std::str::FromStr as _;
#[cfg(feature = "sqlite")]
use std::sync::Arc;

use async_trait::async_trait;
use sessionwarden_core::StoreError;
use sessionwarden_jwt::{
    FamilyId, FamilyRecord, JwtError, RefreshStore, RevocationQuery, Revocations, RevokedBy, TokenHash,
    TokenRecord, TokenState,
};
use sqlx::Row as _;
#[cfg(feature = "postgres")]
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
#[cfg(feature = "sqlite")]
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::columns::OPERATION_TIMEOUT;
#[cfg(feature = "sqlite")]
use crate::columns::bounded;

fn db(operation: &'static str) -> impl FnOnce(sqlx::Error) -> JwtError {
    move |e| JwtError::store(operation, e)
}

/// Runs one operation under the store-wide timeout, failing closed.
async fn timed<T>(
    operation: &'static str,
    fut: impl Future<Output = Result<T, JwtError>>,
) -> Result<T, JwtError> {
    match tokio::time::timeout(OPERATION_TIMEOUT, fut).await {
        Ok(result) => result,
        Err(_) => Err(JwtError::store(
            operation,
            std::io::Error::new(std::io::ErrorKind::TimedOut, "database did not answer in time"),
        )),
    }
}

fn int(v: u64) -> i64 {
    // Times are unix seconds; anything past i64 is a broken clock, clamp rather than wrap.
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn uint(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn hash_of(bytes: &[u8], operation: &'static str) -> Result<TokenHash, JwtError> {
    let arr: [u8; 32] =
        bytes.try_into().map_err(|_| JwtError::store(operation, "stored token hash is not 32 bytes"))?;
    Ok(TokenHash::from_bytes(arr))
}

const LOOKUP: &str = "SELECT t.family, t.issued_at, t.successor, t.rotated_at, f.sub, f.sid, f.created_at, \
     f.expires_at, f.revoked FROM sessionwarden_refresh_tokens t \
     JOIN sessionwarden_refresh_families f ON f.id = t.family WHERE t.hash = $1";
const INSERT_FAMILY: &str = "INSERT INTO sessionwarden_refresh_families (id, sub, sid, created_at, expires_at, revoked) \
     VALUES ($1, $2, $3, $4, $5, 0)";
const INSERT_TOKEN: &str =
    "INSERT INTO sessionwarden_refresh_tokens (hash, family, issued_at) VALUES ($1, $2, $3)";
const ROTATE: &str = "UPDATE sessionwarden_refresh_tokens SET successor = $1, rotated_at = $2 \
     WHERE hash = $3 AND successor IS NULL AND family = $4 AND EXISTS \
     (SELECT 1 FROM sessionwarden_refresh_families f WHERE f.id = $4 AND f.revoked = 0)";
const CHECK: &str = "SELECT kind FROM sessionwarden_revocations WHERE \
     (kind = 'jti' AND value = $1 AND until > $4) OR (kind = 'sid' AND value = $2 AND until > $4) \
     OR (kind = 'user' AND value = $3 AND until > $5) ORDER BY kind LIMIT 1";

/// Implements the two traits for a store type with a `writer` and `reader` pool of one driver.
macro_rules! token_store {
    ($ty:ident, $greatest:literal) => {
        impl $ty {
            async fn revoke_kind(&self, kind: &'static str, value: &str, until: u64) -> Result<(), JwtError> {
                let sql = concat!(
                    "INSERT INTO sessionwarden_revocations (kind, value, until) VALUES ($1, $2, $3) ",
                    "ON CONFLICT (kind, value) DO UPDATE SET until = ",
                    $greatest,
                    "(sessionwarden_revocations.until, excluded.until)"
                );
                timed("revoke", async {
                    sqlx::query(sql)
                        .bind(kind)
                        .bind(value)
                        .bind(int(until))
                        .execute(&self.writer)
                        .await
                        .map_err(db("revoke"))?;
                    Ok(())
                })
                .await
            }

            async fn revoke_families(&self, column: &'static str, value: &str) -> Result<usize, JwtError> {
                let sql = match column {
                    "sid" => {
                        "UPDATE sessionwarden_refresh_families SET revoked = 1 WHERE sid = $1 AND revoked = 0"
                    }
                    _ => {
                        "UPDATE sessionwarden_refresh_families SET revoked = 1 WHERE sub = $1 AND revoked = 0"
                    }
                };
                timed("revoke_families", async {
                    let done = sqlx::query(sql)
                        .bind(value)
                        .execute(&self.writer)
                        .await
                        .map_err(db("revoke_families"))?;
                    Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
                })
                .await
            }
        }

        #[async_trait]
        impl RefreshStore for $ty {
            async fn create_family(&self, family: FamilyRecord, first: TokenRecord) -> Result<(), JwtError> {
                timed("create_family", async {
                    let mut tx = self.writer.begin().await.map_err(db("create_family"))?;
                    sqlx::query(INSERT_FAMILY)
                        .bind(family.id.as_str())
                        .bind(&family.sub)
                        .bind(family.sid.as_deref())
                        .bind(int(family.created_at))
                        .bind(int(family.expires_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(db("create_family"))?;
                    sqlx::query(INSERT_TOKEN)
                        .bind(&first.hash.as_bytes()[..])
                        .bind(family.id.as_str())
                        .bind(int(first.issued_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(db("create_family"))?;
                    tx.commit().await.map_err(db("create_family"))
                })
                .await
            }

            async fn lookup(
                &self,
                hash: &TokenHash,
            ) -> Result<Option<(TokenRecord, FamilyRecord)>, JwtError> {
                timed("lookup", async {
                    let Some(row) = sqlx::query(LOOKUP)
                        .bind(&hash.as_bytes()[..])
                        .fetch_optional(&self.reader)
                        .await
                        .map_err(db("lookup"))?
                    else {
                        return Ok(None);
                    };
                    let get = |e| JwtError::store("lookup", e);
                    let family = FamilyId::from_stored(row.try_get::<String, _>(0).map_err(get)?);
                    let successor: Option<Vec<u8>> = row.try_get(2).map_err(get)?;
                    let rotated_at: Option<i64> = row.try_get(3).map_err(get)?;
                    let state = match (successor, rotated_at) {
                        (Some(s), Some(at)) => {
                            TokenState::Rotated { successor: hash_of(&s, "lookup")?, at: uint(at) }
                        }
                        _ => TokenState::Active,
                    };
                    let token = TokenRecord {
                        hash: *hash,
                        family: family.clone(),
                        issued_at: uint(row.try_get(1).map_err(get)?),
                        state,
                    };
                    let family = FamilyRecord {
                        id: family,
                        sub: row.try_get(4).map_err(get)?,
                        sid: row.try_get(5).map_err(get)?,
                        created_at: uint(row.try_get(6).map_err(get)?),
                        expires_at: uint(row.try_get(7).map_err(get)?),
                        revoked: row.try_get::<i64, _>(8).map_err(get)? != 0,
                    };
                    Ok(Some((token, family)))
                })
                .await
            }

            async fn rotate(&self, old: &TokenHash, new: TokenRecord, at: u64) -> Result<bool, JwtError> {
                timed("rotate", async {
                    let mut tx = self.writer.begin().await.map_err(db("rotate"))?;
                    let done = sqlx::query(ROTATE)
                        .bind(&new.hash.as_bytes()[..])
                        .bind(int(at))
                        .bind(&old.as_bytes()[..])
                        .bind(new.family.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(db("rotate"))?;
                    if done.rows_affected() != 1 {
                        tx.rollback().await.map_err(db("rotate"))?;
                        return Ok(false);
                    }
                    sqlx::query(INSERT_TOKEN)
                        .bind(&new.hash.as_bytes()[..])
                        .bind(new.family.as_str())
                        .bind(int(new.issued_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(db("rotate"))?;
                    tx.commit().await.map_err(db("rotate"))?;
                    Ok(true)
                })
                .await
            }

            async fn revoke_family(&self, family: &FamilyId) -> Result<(), JwtError> {
                timed("revoke_family", async {
                    sqlx::query("UPDATE sessionwarden_refresh_families SET revoked = 1 WHERE id = $1")
                        .bind(family.as_str())
                        .execute(&self.writer)
                        .await
                        .map_err(db("revoke_family"))?;
                    Ok(())
                })
                .await
            }

            async fn revoke_session(&self, sid: &str) -> Result<usize, JwtError> {
                self.revoke_families("sid", sid).await
            }

            async fn revoke_user(&self, sub: &str) -> Result<usize, JwtError> {
                self.revoke_families("sub", sub).await
            }

            async fn purge_expired(&self, now: u64) -> Result<(), JwtError> {
                timed("purge_expired", async {
                    let mut tx = self.writer.begin().await.map_err(db("purge_expired"))?;
                    sqlx::query(
                        "DELETE FROM sessionwarden_refresh_tokens WHERE family IN \
                         (SELECT id FROM sessionwarden_refresh_families WHERE expires_at <= $1)",
                    )
                    .bind(int(now))
                    .execute(&mut *tx)
                    .await
                    .map_err(db("purge_expired"))?;
                    sqlx::query("DELETE FROM sessionwarden_refresh_families WHERE expires_at <= $1")
                        .bind(int(now))
                        .execute(&mut *tx)
                        .await
                        .map_err(db("purge_expired"))?;
                    tx.commit().await.map_err(db("purge_expired"))
                })
                .await
            }
        }

        #[async_trait]
        impl Revocations for $ty {
            async fn check(&self, q: &RevocationQuery<'_>) -> Result<Option<RevokedBy>, JwtError> {
                timed("check", async {
                    let kind: Option<String> = sqlx::query(CHECK)
                        .bind(q.jti)
                        .bind(q.sid)
                        .bind(q.sub)
                        .bind(int(q.now))
                        .bind(int(q.iat))
                        .fetch_optional(&self.reader)
                        .await
                        .map_err(db("check"))?
                        .map(|row| row.try_get(0))
                        .transpose()
                        .map_err(db("check"))?;
                    Ok(match kind.as_deref() {
                        None => None,
                        Some("jti") => Some(RevokedBy::Jti),
                        Some("sid") => Some(RevokedBy::Session),
                        Some(_) => Some(RevokedBy::UserCutoff),
                    })
                })
                .await
            }

            async fn revoke_jti(&self, jti: &str, until: u64) -> Result<(), JwtError> {
                self.revoke_kind("jti", jti, until).await
            }

            async fn revoke_sid(&self, sid: &str, until: u64) -> Result<(), JwtError> {
                self.revoke_kind("sid", sid, until).await
            }

            async fn revoke_user_before(&self, sub: &str, cutoff: u64) -> Result<(), JwtError> {
                self.revoke_kind("user", sub, cutoff).await
            }

            async fn purge_expired(&self, now: u64) -> Result<(), JwtError> {
                timed("purge_expired", async {
                    sqlx::query("DELETE FROM sessionwarden_revocations WHERE kind <> 'user' AND until <= $1")
                        .bind(int(now))
                        .execute(&self.writer)
                        .await
                        .map_err(db("purge_expired"))?;
                    Ok(())
                })
                .await
            }
        }
    };
}

#[cfg(feature = "sqlite")]
/// Refresh tokens and revocations in a SQLite file (usually the sessions database): one
/// writer connection, a few readers, WAL and `synchronous = FULL`, like [`SqliteStore`](crate::SqliteStore).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sessionwarden_jwt::{RevocationQuery, Revocations, RevokedBy};
/// let dir = tempfile::tempdir()?;
/// let store = sessionwarden_sql::SqliteTokenStore::open(dir.path().join("sessions.db")).await?;
/// store.revoke_jti("j1", 2_000).await?;
/// let q = RevocationQuery { jti: "j1", sub: "alice", sid: None, iat: 900, now: 1_000 };
/// assert_eq!(store.check(&q).await?, Some(RevokedBy::Jti));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SqliteTokenStore {
    writer: SqlitePool,
    reader: SqlitePool,
    location: Arc<str>,
}

#[cfg(feature = "sqlite")]
impl SqliteTokenStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if the file cannot be opened or a migration fails.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let options = SqliteConnectOptions::new()
            .filename(path)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(5));
        let open = |e| StoreError::unavailable("open", e);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(std::time::Duration::from_secs(3))
            .connect_with(options.clone().create_if_missing(true))
            .await
            .map_err(open)?;
        let mut migrator = sqlx::migrate!("./migrations/sqlite");
        migrator.set_ignore_missing(true);
        bounded("migrate", async {
            migrator.run(&writer).await.map_err(|e| StoreError::unavailable("migrate", e))
        })
        .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(std::time::Duration::from_secs(3))
            .connect_with(options)
            .await
            .map_err(open)?;
        Ok(Self { writer, reader, location: path.display().to_string().into() })
    }
}

#[cfg(feature = "sqlite")]
impl fmt::Debug for SqliteTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteTokenStore").field("path", &self.location).finish_non_exhaustive()
    }
}

#[cfg(feature = "sqlite")]
token_store!(SqliteTokenStore, "max");

#[cfg(feature = "postgres")]
/// Refresh tokens and revocations in PostgreSQL, shared by a fleet.
///
/// ```no_run
/// # async fn f() -> Result<(), sessionwarden_core::StoreError> {
/// let store = sessionwarden_sql::PostgresTokenStore::connect("postgres://app@db.internal/app").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresTokenStore {
    // One pool serves both; the macro reads `writer` and `reader`.
    writer: PgPool,
    reader: PgPool,
}

#[cfg(feature = "postgres")]
impl PostgresTokenStore {
    /// Connects and brings the schema up to date.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if the URL does not parse, the server cannot be reached, or
    /// a migration fails.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::unavailable("connect", e))?
            .application_name("sessionwarden-tokens")
            .options([("statement_timeout", "4s")]);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(std::time::Duration::from_secs(2))
            .test_before_acquire(true)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::unavailable("connect", e))?;
        let mut migrator = sqlx::migrate!("./migrations/postgres");
        migrator.set_ignore_missing(true);
        migrator.run(&pool).await.map_err(|e| StoreError::unavailable("migrate", e))?;
        Ok(Self { writer: pool.clone(), reader: pool })
    }
}

#[cfg(feature = "postgres")]
impl fmt::Debug for PostgresTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Left out: the URL (it may hold a password).
        f.debug_struct("PostgresTokenStore").finish_non_exhaustive()
    }
}

#[cfg(feature = "postgres")]
token_store!(PostgresTokenStore, "GREATEST");
