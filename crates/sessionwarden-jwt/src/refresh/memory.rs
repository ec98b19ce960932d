//! In-process refresh store.

use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;
use parking_lot::Mutex;

use super::store::{FamilyId, FamilyRecord, RefreshStore, TokenHash, TokenRecord, TokenState};
use crate::JwtError;

#[derive(Default)]
struct Inner {
    tokens: HashMap<TokenHash, TokenRecord>,
    families: HashMap<FamilyId, FamilyRecord>,
}

/// A [`RefreshStore`] in a mutex-guarded map: one process, lost on restart. For tests,
/// development and single-node deployments.
///
/// ```
/// use sessionwarden_jwt::MemoryRefreshStore;
/// let store = MemoryRefreshStore::new();
/// assert_eq!(store.len(), 0);
/// ```
#[derive(Default)]
pub struct MemoryRefreshStore {
    inner: Mutex<Inner>,
}

impl MemoryRefreshStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// How many tokens (active or rotated) are stored.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.lock().tokens.len()
    }

    fn revoke_where(&self, matches: impl Fn(&FamilyRecord) -> bool) -> usize {
        let mut inner = self.inner.lock();
        let mut count = 0;
        for family in inner.families.values_mut() {
            if !family.revoked && matches(family) {
                family.revoked = true;
                count += 1;
            }
        }
        count
    }

    /// Whether the store holds no token.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for MemoryRefreshStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.inner.lock();
        f.debug_struct("MemoryRefreshStore")
            .field("tokens", &inner.tokens.len())
            .field("families", &inner.families.len())
            .finish()
    }
}

#[async_trait]
impl RefreshStore for MemoryRefreshStore {
    async fn create_family(&self, family: FamilyRecord, first: TokenRecord) -> Result<(), JwtError> {
        let mut inner = self.inner.lock();
        inner.families.insert(family.id.clone(), family);
        inner.tokens.insert(first.hash, first);
        Ok(())
    }

    async fn lookup(&self, hash: &TokenHash) -> Result<Option<(TokenRecord, FamilyRecord)>, JwtError> {
        let inner = self.inner.lock();
        let Some(token) = inner.tokens.get(hash) else {
            return Ok(None);
        };
        Ok(inner.families.get(&token.family).map(|family| (token.clone(), family.clone())))
    }

    async fn rotate(&self, old: &TokenHash, new: TokenRecord, at: u64) -> Result<bool, JwtError> {
        let mut inner = self.inner.lock();
        let Inner { tokens, families } = &mut *inner;
        let Some(token) = tokens.get_mut(old) else {
            return Ok(false);
        };
        let live = families.get(&token.family).is_some_and(|f| !f.revoked);
        if !live || token.state != TokenState::Active || token.family != new.family {
            return Ok(false);
        }
        token.state = TokenState::Rotated { successor: new.hash, at };
        tokens.insert(new.hash, new);
        Ok(true)
    }

    async fn revoke_family(&self, family: &FamilyId) -> Result<(), JwtError> {
        if let Some(f) = self.inner.lock().families.get_mut(family) {
            f.revoked = true;
        }
        Ok(())
    }

    async fn revoke_session(&self, sid: &str) -> Result<usize, JwtError> {
        Ok(self.revoke_where(|f| f.sid.as_deref() == Some(sid)))
    }

    async fn revoke_user(&self, sub: &str) -> Result<usize, JwtError> {
        Ok(self.revoke_where(|f| f.sub == sub))
    }

    async fn purge_expired(&self, now: u64) -> Result<(), JwtError> {
        let mut inner = self.inner.lock();
        inner.families.retain(|_, f| now < f.expires_at);
        let Inner { tokens, families } = &mut *inner;
        tokens.retain(|_, t| families.contains_key(&t.family));
        Ok(())
    }
}
