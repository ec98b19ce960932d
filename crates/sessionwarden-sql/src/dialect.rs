//! The two SQL databases a [`SqlStore`](crate::SqlStore) runs on, and the little that differs
//! between them.
//!
//! Both databases run the same statements: `$n` placeholders, `ON CONFLICT … DO UPDATE`, integer
//! times, `BLOB`/`BYTEA` keys. What a dialect adds is only the driver (which sqlx database the
//! statements go to) and one clause: PostgreSQL's sweep skips rows another sweeper has locked.
//! Connection setup and the frozen migrations stay with each store's constructors
//! ([`SqliteStore`](crate::SqliteStore), [`PostgresStore`](crate::PostgresStore)).
//!
//! The trait is sealed: the store's statements are written and tested for these two only.

use std::future::Future;

use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Type};

use self::driver::Param;
use crate::columns::InfoRow;

/// A SQL database a [`SqlStore`](crate::SqlStore) can run on: [`Sqlite`] or [`Postgres`].
///
/// Sealed; it names the driver and nothing a caller can call.
pub trait Dialect: driver::Driver {}

/// SQLite, through sqlx's `sqlite` driver: the dialect of [`SqliteStore`](crate::SqliteStore).
#[derive(Debug)]
pub enum Sqlite {}

/// PostgreSQL, through sqlx's `postgres` driver: the dialect of
/// [`PostgresStore`](crate::PostgresStore).
#[derive(Debug)]
pub enum Postgres {}

#[cfg(feature = "sqlite")]
impl Dialect for Sqlite {}
#[cfg(feature = "postgres")]
impl Dialect for Postgres {}

pub(crate) mod driver {
    use super::{Future, InfoRow, Pool};

    /// One statement parameter. The store's statements bind only these five kinds, so the store
    /// can build a statement once for both databases and hand it to the dialect to run.
    #[derive(Clone, Copy)]
    pub enum Param<'a> {
        /// `BLOB` / `BYTEA`.
        Bytes(&'a [u8]),
        /// `INTEGER` / `BIGINT`.
        Int(i64),
        /// A nullable `INTEGER` / `BIGINT`.
        OptInt(Option<i64>),
        /// `TEXT`.
        Text(&'a str),
        /// A nullable `TEXT`.
        OptText(Option<&'a str>),
    }

    /// What the generic store asks of a dialect: run a statement and read back one of the three
    /// shapes of answer it needs. Errors are the driver's own, so the store can tell a
    /// duplicate key from an outage.
    pub trait Driver: Send + Sync + 'static {
        /// The sqlx database.
        type Db: sqlx::Database;

        /// Appended to the sweep's `SELECT` of expired keys.
        const SWEEP_LOCK: &'static str;

        /// Runs a statement; returns how many rows it changed.
        fn execute<'a>(
            pool: &'a Pool<Self::Db>,
            sql: &'a str,
            params: &'a [Param<'a>],
        ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send + 'a;

        /// Runs a query selecting one `BLOB`/`BYTEA` column; returns it from the first row.
        fn fetch_bytes<'a>(
            pool: &'a Pool<Self::Db>,
            sql: &'a str,
            params: &'a [Param<'a>],
        ) -> impl Future<Output = Result<Option<Vec<u8>>, sqlx::Error>> + Send + 'a;

        /// Runs a query selecting one `INTEGER`/`BIGINT` column (a count); returns it from the
        /// first row.
        fn fetch_int<'a>(
            pool: &'a Pool<Self::Db>,
            sql: &'a str,
            params: &'a [Param<'a>],
        ) -> impl Future<Output = Result<Option<i64>, sqlx::Error>> + Send + 'a;

        /// Runs a query selecting [`INFO_COLUMNS`](crate::columns::INFO_COLUMNS); returns its rows.
        fn fetch_info<'a>(
            pool: &'a Pool<Self::Db>,
            sql: &'a str,
            params: &'a [Param<'a>],
        ) -> impl Future<Output = Result<Vec<InfoRow>, sqlx::Error>> + Send + 'a;
    }
}

/// Implements [`driver::Driver`] for a dialect: the same three calls on its own sqlx database.
macro_rules! driver {
    ($dialect:ty, $db:ty, $sweep_lock:expr) => {
        impl driver::Driver for $dialect {
            type Db = $db;
            const SWEEP_LOCK: &'static str = $sweep_lock;

            async fn execute<'a>(
                pool: &'a Pool<Self::Db>,
                sql: &'a str,
                params: &'a [Param<'a>],
            ) -> Result<u64, sqlx::Error> {
                // `rows_affected` is each driver's own method, not a trait's.
                Ok(<$db as Bind<'_>>::query(sql, params).execute(pool).await?.rows_affected())
            }

            async fn fetch_bytes<'a>(
                pool: &'a Pool<Self::Db>,
                sql: &'a str,
                params: &'a [Param<'a>],
            ) -> Result<Option<Vec<u8>>, sqlx::Error> {
                fetch_bytes(pool, sql, params).await
            }

            async fn fetch_int<'a>(
                pool: &'a Pool<Self::Db>,
                sql: &'a str,
                params: &'a [Param<'a>],
            ) -> Result<Option<i64>, sqlx::Error> {
                fetch_int(pool, sql, params).await
            }

            async fn fetch_info<'a>(
                pool: &'a Pool<Self::Db>,
                sql: &'a str,
                params: &'a [Param<'a>],
            ) -> Result<Vec<InfoRow>, sqlx::Error> {
                fetch_info(pool, sql, params).await
            }
        }
    };
}

// SQLite has one writer at a time, so there is no other sweeper's lock to skip.
#[cfg(feature = "sqlite")]
driver!(Sqlite, sqlx::Sqlite, "");
// Sweepers on several servers share the work instead of queueing on each other's rows.
#[cfg(feature = "postgres")]
driver!(Postgres, sqlx::Postgres, " FOR UPDATE SKIP LOCKED");

// The helpers below are generic over the sqlx database but only ever called with a concrete one
// (from the two `Driver` impls above), so their bounds are checked against real types and the
// store itself never carries sqlx's higher-ranked bounds.

type Query<'q, DB> = sqlx::query::Query<'q, DB, <DB as Database>::Arguments<'q>>;

/// Binding the five [`Param`] kinds: every database the store runs on can.
trait Bind<'q>: Database {
    /// `sql` with `params` bound in order.
    fn query(sql: &'q str, params: &'q [Param<'q>]) -> Query<'q, Self>;
}

impl<'q, DB> Bind<'q> for DB
where
    DB: Database,
    &'q [u8]: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB>,
    &'q str: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB>,
{
    fn query(sql: &'q str, params: &'q [Param<'q>]) -> Query<'q, Self> {
        params.iter().fold(sqlx::query(sql), |q, param| match *param {
            Param::Bytes(v) => q.bind(v),
            Param::Int(v) => q.bind(v),
            Param::OptInt(v) => q.bind(v),
            Param::Text(v) => q.bind(v),
            Param::OptText(v) => q.bind(v),
        })
    }
}

async fn fetch_bytes<'q, DB>(
    pool: &Pool<DB>,
    sql: &'q str,
    params: &'q [Param<'q>],
) -> Result<Option<Vec<u8>>, sqlx::Error>
where
    DB: Bind<'q>,
    DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'r> Vec<u8>: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    DB::query(sql, params).fetch_optional(pool).await?.map(|row| row.try_get(0)).transpose()
}

async fn fetch_int<'q, DB>(
    pool: &Pool<DB>,
    sql: &'q str,
    params: &'q [Param<'q>],
) -> Result<Option<i64>, sqlx::Error>
where
    DB: Bind<'q>,
    DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    DB::query(sql, params).fetch_optional(pool).await?.map(|row| row.try_get(0)).transpose()
}

async fn fetch_info<'q, DB>(
    pool: &Pool<DB>,
    sql: &'q str,
    params: &'q [Param<'q>],
) -> Result<Vec<InfoRow>, sqlx::Error>
where
    DB: Bind<'q>,
    DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'r> Vec<u8>: Decode<'r, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    let rows = DB::query(sql, params).fetch_all(pool).await?;
    rows.iter()
        .map(|row| {
            Ok(InfoRow {
                store_key: row.try_get(0)?,
                created: row.try_get(1)?,
                last_seen: row.try_get(2)?,
                idle_deadline: row.try_get(3)?,
                absolute_deadline: row.try_get(4)?,
                user_id: row.try_get(5)?,
                ip_prefix: row.try_get(6)?,
                ua_hash: row.try_get(7)?,
                client_info: row.try_get(8)?,
            })
        })
        .collect()
}
