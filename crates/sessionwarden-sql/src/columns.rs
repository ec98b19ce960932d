//! What both backends share: a record flattened into the table's columns, listing rows turned
//! back into [`SessionInfo`], handle ranges, and the fail-closed error mapping.

use std::future::Future;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sessionwarden_core::{
    ClientInfo, Expiry, Record, SessionHandle, SessionInfo, StoreError, StoreKey, Timestamp,
};

/// How long one store operation may take before it fails closed with `Unavailable`.
///
/// Server-side timeouts (`statement_timeout`) do not help when the network is partitioned:
/// the answer never arrives. This bounds the wait on the client side, so a request gets its
/// 503 in seconds rather than hanging until TCP gives up.
pub(crate) const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

/// A record as the table's columns (apart from `store_key`).
pub(crate) struct Columns {
    pub(crate) data: Vec<u8>,
    pub(crate) version: i64,
    pub(crate) created: i64,
    pub(crate) last_seen: i64,
    pub(crate) idle_deadline: Option<i64>,
    pub(crate) absolute_deadline: Option<i64>,
    pub(crate) expires_at: Option<i64>,
    pub(crate) user_id: Option<String>,
    pub(crate) ip_prefix: Option<String>,
    pub(crate) ua_hash: Option<String>,
    pub(crate) client_info: Option<String>,
}

impl Columns {
    pub(crate) fn new(record: &Record) -> Result<Self, StoreError> {
        let client = record.client.as_ref();
        Ok(Self {
            data: record.to_bytes()?,
            version: db_version(record.version)?,
            created: record.created.unix(),
            last_seen: record.last_seen.unix(),
            idle_deadline: record.idle_deadline.map(Timestamp::unix),
            absolute_deadline: record.absolute_deadline.map(Timestamp::unix),
            expires_at: record.expires_at().map(Timestamp::unix),
            user_id: record.user.clone(),
            ip_prefix: client.and_then(|c| c.ip_prefix).map(|p| p.to_string()),
            ua_hash: client.and_then(|c| c.user_agent_hash).map(|h| h.to_string()),
            client_info: client
                .map(serde_json::to_string)
                .transpose()
                .map_err(|_| StoreError::Corrupt { reason: "client metadata does not serialise" })?,
        })
    }
}

/// A record version as a BIGINT. Versions start at 0 and grow by one per save, so the upper
/// half of `u64` is never reached in practice; refusing it keeps the column's order honest.
pub(crate) fn db_version(version: u64) -> Result<i64, StoreError> {
    i64::try_from(version).map_err(|_| StoreError::Corrupt { reason: "record version exceeds BIGINT" })
}

/// Decodes the `data` column of a live row, refusing bytes that do not decode and records
/// that, once decoded, say they have expired (the columns and the bytes disagree).
pub(crate) fn decode_live(bytes: &[u8], now: Timestamp) -> Result<Option<Record>, StoreError> {
    let record = Record::from_bytes(bytes)?;
    Ok((!record.is_expired(now)).then_some(record))
}

/// One row of a listing query: the metadata columns, never `data`.
///
/// `pub` only because the sealed dialect trait returns it; nothing outside the crate can name it.
pub struct InfoRow {
    pub(crate) store_key: Vec<u8>,
    pub(crate) created: i64,
    pub(crate) last_seen: i64,
    pub(crate) idle_deadline: Option<i64>,
    pub(crate) absolute_deadline: Option<i64>,
    pub(crate) user_id: Option<String>,
    pub(crate) ip_prefix: Option<String>,
    pub(crate) ua_hash: Option<String>,
    pub(crate) client_info: Option<String>,
}

/// The columns a listing query selects, in [`InfoRow`]'s order.
pub(crate) const INFO_COLUMNS: &str = "store_key, created, last_seen, idle_deadline, absolute_deadline, user_id, ip_prefix, ua_hash, client_info";

impl InfoRow {
    /// The listing entry, built from the metadata columns alone: listings neither read nor
    /// decode session data, so a corrupt record still shows up (and can be revoked).
    pub(crate) fn into_info(self) -> Result<SessionInfo, StoreError> {
        let key: [u8; 32] = self
            .store_key
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::Corrupt { reason: "store key is not 32 bytes" })?;
        let key = StoreKey::from_bytes(key);
        // `SessionInfo` is built from a record; this one carries metadata only.
        let mut record = Record::new(Timestamp::from_unix(self.created), &Expiry::default());
        record.last_seen = Timestamp::from_unix(self.last_seen);
        record.idle_deadline = self.idle_deadline.map(Timestamp::from_unix);
        record.absolute_deadline = self.absolute_deadline.map(Timestamp::from_unix);
        record.user = self.user_id;
        record.client = client_info(self.client_info.as_deref(), self.ip_prefix, self.ua_hash);
        Ok(SessionInfo::new(&key, &record))
    }
}

/// A row's client metadata: the `client_info` JSON (schema version 4), else what rows written
/// before it kept (`ip_prefix`, `ua_hash`). Both NULL is "nothing known". Metadata that does
/// not parse is dropped rather than failing the listing: a session must stay listable (and
/// revocable) whatever its metadata.
fn client_info(json: Option<&str>, ip_prefix: Option<String>, ua_hash: Option<String>) -> Option<ClientInfo> {
    if let Some(info) = json.and_then(|j| serde_json::from_str::<ClientInfo>(j).ok()) {
        return Some(info);
    }
    if ip_prefix.is_none() && ua_hash.is_none() {
        return None;
    }
    let old = serde_json::json!({"ip_prefix": ip_prefix, "user_agent_hash": ua_hash});
    serde_json::from_value(old).ok()
}

/// The inclusive range of store keys whose first 16 bytes are the ones `handle` encodes.
///
/// Matching on a key range (rather than `substr(store_key, 1, 16) = ?`) lets both databases
/// use the primary-key index: revoking by handle stays a point lookup at millions of rows.
/// `None` when the handle does not decode to 16 bytes (so it names no session).
pub(crate) fn handle_range(handle: &SessionHandle) -> Option<([u8; 32], [u8; 32])> {
    let prefix = URL_SAFE_NO_PAD.decode(handle.as_str()).ok()?;
    let prefix: [u8; 16] = prefix.as_slice().try_into().ok()?;
    let mut low = [0u8; 32];
    let mut high = [0xffu8; 32];
    low[..16].copy_from_slice(&prefix);
    high[..16].copy_from_slice(&prefix);
    Some((low, high))
}

/// Clamps a caller's count to a SQL `LIMIT`.
pub(crate) fn sql_limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Maps a driver error to [`StoreError::Unavailable`]: fail closed, whatever went wrong.
pub(crate) fn unavailable(operation: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| StoreError::unavailable(operation, e)
}

/// Runs one store operation under [`OPERATION_TIMEOUT`].
pub(crate) async fn bounded<T>(
    operation: &'static str,
    fut: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(OPERATION_TIMEOUT, fut).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::unavailable(
            operation,
            std::io::Error::new(std::io::ErrorKind::TimedOut, "database did not answer in time"),
        )),
    }
}

/// Whether `e` is the database refusing a duplicate primary key (so `cycle` found its target
/// taken by a concurrent writer).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sessionwarden_core::SessionId;

    #[test]
    fn handle_range_brackets_exactly_its_key() {
        let key = SessionId::generate().store_key();
        let (low, high) = handle_range(&key.handle()).expect("a store key's handle decodes");
        assert!(low.as_slice() <= key.as_bytes().as_slice());
        assert!(key.as_bytes().as_slice() <= high.as_slice());
        assert_eq!(&low[..16], &key.as_bytes()[..16]);
    }

    #[test]
    fn versions_beyond_bigint_are_refused() {
        assert_eq!(db_version(7).ok(), Some(7));
        assert!(db_version(u64::MAX).is_err());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod client_info_tests {
    use super::client_info;

    #[test]
    fn reads_every_schema_version_of_the_metadata() {
        let json = r#"{"ip_prefix":"192.0.2.0/24","user_agent_hash":null,"device":{"browser":"Firefox","browser_major":121,"os":"Linux"}}"#;
        let v4 = client_info(Some(json), Some("198.51.100.0/24".into()), None).unwrap();
        assert_eq!(v4.ip_prefix.unwrap().to_string(), "192.0.2.0/24", "the JSON wins over the old columns");
        assert_eq!(v4.device.unwrap().browser(), Some("Firefox"));
        let v1 = client_info(None, Some("198.51.100.0/24".into()), Some("07d1d539047ef019".into())).unwrap();
        assert_eq!(v1.ip_prefix.unwrap().to_string(), "198.51.100.0/24");
        assert_eq!(v1.user_agent_hash.unwrap().to_string(), "07d1d539047ef019");
        assert_eq!(client_info(None, None, None), None);
        let garbage = client_info(Some("{not json"), Some("198.51.100.0/24".into()), None).unwrap();
        assert_eq!(garbage.ip_prefix.unwrap().to_string(), "198.51.100.0/24", "falls back, never fails");
    }
}
