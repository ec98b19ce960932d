//! Property tests: the cookie envelope round-trips any payload under any key set, through
//! rotation and retirement; expiry arithmetic never overflows at the ends of the time range.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use proptest::prelude::*;
use sessionwarden_tower::envelope::{Envelope, MAX_COOKIE_SIZE, Mode, Rejection};
use sessionwarden_tower::keyring::{Key, KeyId, KeySet, KeyState, KeyringFile};
use sessionwarden_tower::{Expiry, Record, Timestamp};

/// A random 32-byte secret (random bytes are never "weak": at least 5 distinct values).
fn secret() -> impl Strategy<Value = [u8; 32]> {
    any::<[u8; 32]>().prop_filter("random enough", |s| {
        let mut seen = [false; 256];
        s.iter().for_each(|&b| seen[usize::from(b)] = true);
        seen.iter().filter(|&&x| x).count() >= 5
    })
}

/// A key set: 1 to 4 keys with distinct ids, one of them primary, the rest verify-only.
fn key_set() -> impl Strategy<Value = (Vec<(u32, [u8; 32])>, usize)> {
    prop::collection::btree_map(1u32..u32::MAX, secret(), 1..5).prop_flat_map(|keys| {
        let n = keys.len();
        (Just(keys.into_iter().collect::<Vec<_>>()), 0..n)
    })
}

fn build(keys: &[(u32, [u8; 32])], primary: usize, retired: &[u32]) -> KeySet {
    let at = Timestamp::from_unix(0);
    let keys = keys
        .iter()
        .enumerate()
        .filter(|(_, (kid, _))| !retired.contains(kid))
        .map(|(i, (kid, s))| {
            let state = if i == primary { KeyState::Primary } else { KeyState::Verify };
            Key::new(kid_of(*kid), state, at, s).unwrap()
        })
        .collect();
    KeySet::new(keys, retired.iter().map(|&k| kid_of(k)).collect()).unwrap()
}

fn kid_of(kid: u32) -> KeyId {
    KeyId::parse(&kid.to_string()).unwrap()
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::Signed), Just(Mode::Encrypted)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn seal_then_open_is_identity(
        (keys, primary) in key_set(),
        payload in prop::collection::vec(any::<u8>(), 0..3000),
        name in "[A-Za-z_-]{1,20}",
        mode in mode(),
        now in 0i64..4_000_000_000,
        age in 0u64..86_400,
    ) {
        let set = build(&keys, primary, &[]);
        match Envelope::seal(&set, &name, &payload, Timestamp::from_unix(now), mode) {
            Ok(sealed) => {
                prop_assert!(name.len() + 1 + sealed.len() <= MAX_COOKIE_SIZE);
                let later = Timestamp::from_unix(now + i64::try_from(age).unwrap());
                let opened = Envelope::open(&set, &name, &sealed, later, Some(Duration::from_secs(86_400))).unwrap();
                prop_assert_eq!(&opened.payload, &payload);
                prop_assert_eq!(opened.kid.get(), keys[primary].0);
                prop_assert!(!opened.needs_reseal);
                prop_assert_eq!(opened.issued, Timestamp::from_unix(now));
            }
            Err(sessionwarden_tower::Error::CookieTooLarge { size, limit }) => {
                prop_assert!(size > limit);
                // Only payloads near the limit are refused.
                prop_assert!(payload.len() > 2000);
            }
            Err(e) => prop_assert!(false, "seal failed: {e}"),
        }
    }

    #[test]
    fn rotation_keeps_old_cookies_until_retired(
        (keys, primary) in key_set(),
        new_secret in secret(),
        payload in prop::collection::vec(any::<u8>(), 0..500),
        mode in mode(),
    ) {
        let now = Timestamp::from_unix(1_750_000_000);
        let before = build(&keys, primary, &[]);
        let sealed = Envelope::seal(&before, "session", &payload, now, mode).unwrap();
        // Rotate: a new primary with an id no key has; the old primary verifies only.
        let new_kid = keys.iter().map(|(k, _)| *k).max().unwrap().checked_add(1);
        prop_assume!(new_kid.is_some());
        let mut rotated_keys = keys.clone();
        rotated_keys.push((new_kid.unwrap(), new_secret));
        let rotated = build(&rotated_keys, rotated_keys.len() - 1, &[]);
        let opened = Envelope::open(&rotated, "session", &sealed, now, None).unwrap();
        prop_assert_eq!(&opened.payload, &payload);
        prop_assert!(opened.needs_reseal, "sealed under a key that no longer signs");
        // Re-sealed under the new primary, it opens without needing another re-seal.
        let resealed = Envelope::seal(&rotated, "session", &opened.payload, now, mode).unwrap();
        let again = Envelope::open(&rotated, "session", &resealed, now, None).unwrap();
        prop_assert_eq!(again.kid.get(), new_kid.unwrap());
        prop_assert!(!again.needs_reseal);
        // Retire the old primary: its cookies stop opening, the re-sealed one still opens.
        let old = keys[primary].0;
        let retired = build(&rotated_keys, rotated_keys.len() - 1, &[old]);
        prop_assert_eq!(Envelope::open(&retired, "session", &sealed, now, None).err(), Some(Rejection::RetiredKey));
        prop_assert_eq!(&Envelope::open(&retired, "session", &resealed, now, None).unwrap().payload, &payload);
    }

    #[test]
    fn keyring_file_rotation_round_trips(rotations in 1usize..5, payload in prop::collection::vec(any::<u8>(), 0..64)) {
        let now = Timestamp::from_unix(1_750_000_000);
        let mut file = KeyringFile::generate(now).unwrap();
        let mut sealed = vec![Envelope::seal(&file.key_set().unwrap(), "s", &payload, now, Mode::Encrypted).unwrap()];
        for _ in 0..rotations {
            file.rotate(now).unwrap();
            sealed.push(Envelope::seal(&file.key_set().unwrap(), "s", &payload, now, Mode::Signed).unwrap());
        }
        let set = file.key_set().unwrap();
        for s in &sealed {
            prop_assert_eq!(&Envelope::open(&set, "s", s, now, None).unwrap().payload, &payload);
        }
    }

    #[test]
    fn timestamp_arithmetic_saturates(t in any::<i64>(), u in any::<i64>(), d in any::<u64>()) {
        let t = Timestamp::from_unix(t);
        let later = t.plus(Duration::from_secs(d));
        prop_assert!(later >= t, "plus never goes backwards");
        prop_assert_eq!(later.unix(), t.unix().saturating_add(i64::try_from(d).unwrap_or(i64::MAX)));
        prop_assert!(t.plus(Duration::MAX) >= t);
        let u = Timestamp::from_unix(u);
        let gap = t.until(u);
        if u <= t {
            prop_assert_eq!(gap, Duration::ZERO);
        } else {
            prop_assert_eq!(i128::from(gap.as_secs()), (i128::from(u.unix()) - i128::from(t.unix())).min(i128::from(i64::MAX)));
        }
    }

    #[test]
    fn record_expiry_never_overflows(
        created in any::<i64>(),
        now in any::<i64>(),
        idle in prop::option::of(any::<u64>()),
        absolute in prop::option::of(any::<u64>()),
        renew in prop::option::of(any::<u64>()),
    ) {
        let expiry = Expiry::default()
            .with_idle_timeout(idle.map(Duration::from_secs))
            .with_absolute_timeout(absolute.map(Duration::from_secs))
            .with_renew_after(renew.map(Duration::from_secs));
        let _ = expiry.renew_interval();
        let created = Timestamp::from_unix(created);
        let now = Timestamp::from_unix(now);
        let mut record = Record::new(created, &expiry);
        prop_assert_eq!(record.idle_deadline.is_some(), idle.is_some());
        prop_assert_eq!(record.absolute_deadline.is_some(), absolute.is_some());
        if let Some(d) = record.idle_deadline { prop_assert!(d >= created); }
        if let Some(d) = record.absolute_deadline { prop_assert!(d >= created); }
        record.touch(now, &expiry);
        prop_assert_eq!(record.last_seen, now);
        if let Some(d) = record.idle_deadline { prop_assert!(d >= now); }
        let expires = record.expires_at();
        prop_assert_eq!(expires.is_none(), idle.is_none() && absolute.is_none());
        match record.ttl(now) {
            None => prop_assert!(expires.is_none() && !record.is_expired(now)),
            Some(ttl) => {
                prop_assert_eq!(ttl > Duration::ZERO, !record.is_expired(now));
                prop_assert_eq!(ttl, now.until(expires.unwrap()));
            }
        }
        // The stored form round-trips, extremes included.
        prop_assert!(Record::from_bytes(&record.to_bytes().unwrap()).unwrap() == record);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// What a handler stores comes back from the store unchanged: finite floats included,
    /// to the last bit.
    #[test]
    fn stored_record_round_trips_any_json(
        values in prop::collection::vec(
            prop_oneof![
                any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
                any::<i64>().prop_map(serde_json::Value::from),
                any::<u64>().prop_map(serde_json::Value::from),
                any::<String>().prop_map(serde_json::Value::from),
            ],
            0..8,
        ),
    ) {
        let mut record = Record::new(Timestamp::from_unix(1_750_000_000), &Expiry::default());
        for (i, v) in values.into_iter().enumerate() {
            record.data.insert(format!("k{i}"), v);
        }
        let back = Record::from_bytes(&record.to_bytes().unwrap()).unwrap();
        prop_assert_eq!(&back.data, &record.data);
    }
}
