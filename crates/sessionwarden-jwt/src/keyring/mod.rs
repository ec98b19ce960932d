//! JWTs under a sessionwarden keyring (feature `keyring`, on by default): keys derived from the
//! keyring and following its reloads, refresh rotation across key rotations, revocation, and a
//! bearer-token extractor for axum.
//!
//! Without the feature this crate knows nothing of sessionwarden; with it, [`KeyringTokens`]
//! is the whole token service a server needs, and [`Bearer`] the extractor.
//!
//! # Keys follow the keyring
//!
//! Tokens are signed with the keyring primary's JWT subkey (HKDF, purpose `JwtHs256`,
//! `JwtEd25519` or `JwtEs256` by algorithm) and carry its key id in `kid`; verify-only keys
//! still verify and retired ids are refused as retired (`kid_retired`). The [`Jwt`](crate::Jwt)
//! built from a key set is cached together with the `Arc` of that set, and rebuilt when the
//! keyring hands out another one, so a reload (rotation, retirement) is picked up on the next
//! call and the JWKS follows.
//!
//! [`KeyringTokensBuilder::with_static_hs256`] replaces the derived keys with one explicit
//! HS256 secret shared with other verifiers; every other key id is refused.
//!
//! # Refresh tokens across a key rotation, and after a retirement
//!
//! Refresh successors are derived with the primary's `JwtRefresh` subkey. The subkeys of the
//! verify-only keys are handed to the [`RefreshManager`](crate::RefreshManager) as earlier
//! rotation keys, so a client retrying a refresh inside the grace window after a keyring
//! rotation (on this node or on one that reloaded first) gets the successor it was issued, not
//! a reuse verdict.
//!
//! A retired key's subkey is dropped with it. Every refresh token carries a tag of the key that
//! minted it ([`crate::refresh`]), so once a key is retired, an unused refresh token it minted
//! is refused (`refresh_key_retired`) on every node as soon as that node reloads its keyring:
//! the emergency-retirement drill ends refresh tokens as it ends cookies and access tokens. A
//! retry of a rotation made under it counts as a reuse.
//!
//! # Revocation across a fleet
//!
//! [`TokenStores::shared`] puts a [`CachedRevocations`](crate::CachedRevocations) in front of a
//! shared denylist: a verdict is reused for at most [`REVOCATION_CACHE_TTL`], so a verification
//! costs at most one store lookup and a revocation made on any node is refused on every node
//! within a second. Expired rows are removed by [`KeyringTokens::purge_expired_at`], to be run
//! periodically.
//!
//! # Failures
//!
//! A refused token is answered by [`BearerRejection`]: 401 with
//! `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750 §3.1) and a generic body; the
//! precise reason goes to a `jwt_rejected` security event. A token store that cannot answer
//! fails closed with 503.
//!
//! # Example
//!
//! ```
//! use sessionwarden_tower::keyring::{KeyringFile, Keyring};
//! use sessionwarden_jwt::AccessTokenRequest;
//! use sessionwarden_jwt::keyring::KeyringTokens;
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! # let now = sessionwarden_tower::Timestamp::from_unix(1_750_000_000);
//! let mut file = KeyringFile::generate(now).unwrap();
//! let keyring = Keyring::new(file.key_set().unwrap());
//! let tokens = KeyringTokens::builder(keyring.clone()).build()?;
//! let pair = tokens.issue(&AccessTokenRequest::new("alice")).await?;
//!
//! // Emergency drill: rotate, then retire the old key. Its access and refresh tokens die.
//! let old = keyring.current().primary().id();
//! file.rotate(now).unwrap();
//! file.retire(old).unwrap();
//! keyring.replace(file.key_set().unwrap());
//! assert_eq!(tokens.verify(pair.access.token()).await.unwrap_err().reason(), "kid_retired");
//! assert_eq!(tokens.rotate(pair.refresh.as_str()).await.unwrap_err().reason(), "refresh_key_retired");
//! # Ok::<(), sessionwarden_jwt::JwtError>(()) }).unwrap();
//! ```

mod bearer;
mod keys;
mod stores;
mod tokens;

pub use self::bearer::{Bearer, BearerRejection};
pub use self::stores::{REVOCATION_CACHE_TTL, TokenStores};
pub use self::tokens::{KeyringTokens, KeyringTokensBuilder};
