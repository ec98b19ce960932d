//! The refresh-token and revocation stores a [`KeyringTokens`](super::KeyringTokens) uses.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::{CachedRevocations, JwtError, MemoryRefreshStore, MemoryRevocations, RefreshStore, Revocations};

/// How long a node reuses a revocation verdict from a shared store. Half the one-second
/// fleet-wide promise of [`CachedRevocations`], so a revocation is seen everywhere with room
/// for a slow lookup.
pub const REVOCATION_CACHE_TTL: Duration = Duration::from_millis(500);

/// Where refresh-token families and revocations are kept.
///
/// ```
/// use sessionwarden_jwt::keyring::TokenStores;
/// use sessionwarden_jwt::{MemoryRefreshStore, MemoryRevocations};
/// use std::sync::Arc;
/// // One process (lost on restart):
/// let local = TokenStores::memory();
/// // A fleet: stores every node shares, the denylist behind a short cache.
/// let shared = TokenStores::shared(Arc::new(MemoryRefreshStore::new()), Arc::new(MemoryRevocations::new()))?;
/// # let _ = (local, shared);
/// # Ok::<(), sessionwarden_jwt::JwtError>(())
/// ```
#[derive(Clone)]
pub struct TokenStores {
    /// Refresh-token families.
    pub refresh: Arc<dyn RefreshStore>,
    /// The access-token denylist (behind a short cache for shared stores).
    pub revocations: Arc<dyn Revocations>,
}

impl fmt::Debug for TokenStores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenStores").finish_non_exhaustive()
    }
}

impl TokenStores {
    /// In-process stores: one server, lost on restart.
    ///
    /// ```
    /// let stores = sessionwarden_jwt::keyring::TokenStores::memory();
    /// # let _ = stores;
    /// ```
    #[must_use]
    pub fn memory() -> Self {
        Self { refresh: Arc::new(MemoryRefreshStore::new()), revocations: Arc::new(MemoryRevocations::new()) }
    }

    /// Shared stores, with a [`CachedRevocations`] of [`REVOCATION_CACHE_TTL`] in front of the
    /// denylist: a verification costs at most one store lookup, and a revocation made on any
    /// node is refused on every node within a second.
    ///
    /// # Errors
    /// Never in practice: the TTL is within [`crate::MAX_REVOCATION_CACHE_TTL`].
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use sessionwarden_jwt::keyring::TokenStores;
    /// let store = Arc::new(sessionwarden_jwt::MemoryRevocations::new());
    /// let stores = TokenStores::shared(Arc::new(sessionwarden_jwt::MemoryRefreshStore::new()), store)?;
    /// # let _ = stores;
    /// # Ok::<(), sessionwarden_jwt::JwtError>(())
    /// ```
    pub fn shared(
        refresh: Arc<dyn RefreshStore>,
        revocations: Arc<dyn Revocations>,
    ) -> Result<Self, JwtError> {
        let revocations = Arc::new(CachedRevocations::new(revocations, REVOCATION_CACHE_TTL)?);
        Ok(Self { refresh, revocations })
    }
}
