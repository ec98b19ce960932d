//! Refresh tokens: opaque, rotated on every use, with reuse detection.
//!
//! A refresh token is 32 bytes, base64url (43 characters): a 128-bit nonce (random at issue)
//! and a 128-bit tag over it under the rotation key that minted it. The store keeps only its
//! SHA-256 ([`TokenHash`]), so a store dump yields no usable token. Tokens belong to a
//! *family* (one login); each use rotates: the presented token is marked rotated and a
//! successor is issued with a new access token.
//!
//! # Reuse detection and the grace window
//!
//! Presenting a token that was already rotated means two parties hold it (theft, or a client
//! replaying old tokens): the whole family is revoked, so the thief's newest token dies too,
//! and [`JwtError::RefreshReuse`](crate::JwtError::RefreshReuse) is returned (answer 401 and
//! record a `RefreshTokenReuse` security event).
//!
//! Networks drop responses, so a client may retry the same token. Within a grace window
//! (default 10 s, 0 = strict) a retry returns the *same* successor, as long as that successor
//! is still unused. To return the same successor without storing it in any form, successors are
//! not random but derived: `successor = HMAC-SHA256(rotation_key, label || presented token)`.
//! Only a holder of the presented token *and* the manager's key can compute it; the output is
//! indistinguishable from random to everyone else; and a store dump plus the key still yields
//! nothing, because raw tokens are never stored. The access token returned with it is rebuilt
//! from the same inputs (`iat` = rotation time, `jti` derived the same way), so it is
//! byte-identical unless the signing key rotated in between.
//!
//! The rotation key must be the same on every node (for sessionwarden: an HKDF subkey of the
//! keyring), or a retry that lands on another node is judged a reuse.
//!
//! # Across a key rotation
//!
//! When the rotation key changes (the keyring's primary rotated), a retry of a rotation made
//! under the old key could no longer be rebuilt. Give the manager the earlier keys
//! ([`RefreshManager::with_previous_rotation_keys`], for sessionwarden: those of the
//! keyring's verify-only keys) and a grace retry is checked against each of them, newest
//! first. It then returns what the original rotation issued: the same refresh token, and an
//! access token with the same `jti`, `iat` and `exp`, signed with the *current* signing key
//! (so a different `kid` and signature if the signing key rotated too). A retired key is
//! forgotten: a retry of a rotation made under it counts as a reuse.
//!
//! # Retiring a key ends its refresh tokens
//!
//! An unused token is rotated only if its tag verifies under the current rotation key or one
//! of the earlier keys the manager was given; otherwise it is refused with
//! [`JwtError::RefreshKeyRetired`](crate::JwtError::RefreshKeyRetired). So once a key is
//! dropped from the list (for sessionwarden: retired from the keyring), every refresh token
//! minted under it (issued while it was primary, or handed out as a successor by a rotation
//! under it) is dead on every node that dropped it, without a store scan. Tokens minted under
//! a newer key live on, whichever family they belong to.
//!
//! ```
//! use std::sync::Arc;
//! use sessionwarden_jwt::{AccessTokenRequest, Jwt, JwtConfig, JwtKey, JwtKeySet,
//!     MemoryRefreshStore, RefreshManager};
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let jwt = Arc::new(Jwt::new(JwtKeySet::single(JwtKey::hs256("1", &[7u8; 32])?),
//!     JwtConfig::default())?);
//! let refresh = RefreshManager::new(jwt, Arc::new(MemoryRefreshStore::new()), [9u8; 32]);
//! let first = refresh.issue_at(&AccessTokenRequest::new("alice"), 1_000).await?;
//! let second = refresh.rotate_at(first.refresh.as_str(), 1_100).await?;
//! // Used again after the 10 s grace window: the family is revoked.
//! let err = refresh.rotate_at(first.refresh.as_str(), 1_200).await.unwrap_err();
//! assert_eq!(err.reason(), "refresh_reuse");
//! let err = refresh.rotate_at(second.refresh.as_str(), 1_201).await.unwrap_err();
//! assert_eq!(err.reason(), "refresh_revoked");
//! # Ok::<(), sessionwarden_jwt::JwtError>(()) }).unwrap();
//! ```

mod manager;
mod memory;
mod store;

pub use self::manager::{RefreshConfig, RefreshManager, RefreshToken, TokenPair};
pub use self::memory::MemoryRefreshStore;
pub use self::store::{FamilyId, FamilyRecord, RefreshStore, TokenHash, TokenRecord, TokenState};
