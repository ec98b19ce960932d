//! JWT keys and refresh rotation keys derived from one keyring key set.

use sessionwarden_tower::keyring::{KeySet, Purpose};
use zeroize::Zeroizing;

use crate::{JwtAlgorithm, JwtError, JwtKey, JwtKeySet};

/// The JWT key set of `set`: the primary's subkey signs, the verify-only keys' subkeys verify,
/// the retired ids are refused as retired. Or, with a static HS256 secret, that one key alone.
pub(crate) fn jwt_key_set(
    set: &KeySet,
    algorithm: JwtAlgorithm,
    static_key: Option<&(String, Zeroizing<Vec<u8>>)>,
) -> Result<JwtKeySet, JwtError> {
    if let Some((kid, secret)) = static_key {
        return Ok(JwtKeySet::single(JwtKey::hs256(kid.clone(), secret)?));
    }
    let mut keys = set.verifying().map(|key| {
        let kid = key.id().to_string();
        match algorithm {
            JwtAlgorithm::Hs256 => JwtKey::hs256(kid, key.subkey(Purpose::JwtHs256).expose()),
            JwtAlgorithm::EdDsa => JwtKey::ed25519_from_seed(kid, *key.subkey(Purpose::JwtEd25519).expose()),
            JwtAlgorithm::Es256 => JwtKey::es256_from_seed(kid, *key.subkey(Purpose::JwtEs256).expose()),
        }
    });
    // invariant: `KeySet::verifying` yields the primary first, and a set always has one.
    let signing = keys.next().ok_or(JwtError::Config { what: "key set without a primary" })??;
    let verifying = keys.collect::<Result<Vec<_>, _>>()?;
    let retired_kids = set.retired().iter().map(ToString::to_string).collect();
    Ok(JwtKeySet { signing, verifying, retired_kids })
}

/// The refresh rotation key of `set` (the primary's `JwtRefresh` subkey) and the earlier ones
/// (the verify-only keys' subkeys, newest first). Retired keys have no key material, so their
/// rotations are forgotten and the tokens they minted are refused.
pub(crate) fn rotation_keys(set: &KeySet) -> (Zeroizing<[u8; 32]>, Vec<Zeroizing<[u8; 32]>>) {
    let current = Zeroizing::new(*set.primary().subkey(Purpose::JwtRefresh).expose());
    let mut earlier: Vec<_> = set.verifying().skip(1).collect();
    earlier.sort_by_key(|key| std::cmp::Reverse(key.created()));
    let earlier =
        earlier.iter().map(|key| Zeroizing::new(*key.subkey(Purpose::JwtRefresh).expose())).collect();
    (current, earlier)
}
