//! Where a network is: country, autonomous system and coordinates, from an offline database.

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

/// What a geolocation database says about an address. Every part is optional: a country
/// database has no ASN, an ASN database no country, and many networks have no coordinates.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::risk::{GeoInfo, GeoPoint};
/// let info = GeoInfo::default().with_country("SE").with_asn(29518).with_location(GeoPoint::new(59.33, 18.05, Some(20)));
/// assert_eq!(info.country.as_deref(), Some("SE"));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[non_exhaustive]
pub struct GeoInfo {
    /// The ISO 3166-1 alpha-2 country code (`SE`, `US`).
    pub country: Option<String>,
    /// The autonomous system number.
    pub asn: Option<u32>,
    /// The coordinates, when the database has them.
    pub location: Option<GeoPoint>,
}

impl GeoInfo {
    /// With `country` (an ISO code; at most 3 characters kept).
    #[must_use]
    pub fn with_country(mut self, country: &str) -> Self {
        self.country = Some(country.chars().take(3).collect());
        self
    }

    /// With `asn`.
    #[must_use]
    pub fn with_asn(mut self, asn: u32) -> Self {
        self.asn = Some(asn);
        self
    }

    /// With `location`.
    #[must_use]
    pub fn with_location(mut self, location: GeoPoint) -> Self {
        self.location = Some(location);
        self
    }

    /// The fields `other` has and this one lacks, added (several databases, one answer).
    #[must_use]
    pub fn merged(self, other: GeoInfo) -> Self {
        Self {
            country: self.country.or(other.country),
            asn: self.asn.or(other.asn),
            location: self.location.or(other.location),
        }
    }
}

/// A point on Earth, with the database's accuracy radius.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::risk::GeoPoint;
/// let stockholm = GeoPoint::new(59.33, 18.07, None);
/// let new_york = GeoPoint::new(40.71, -74.01, None);
/// let km = stockholm.distance_km(&new_york);
/// assert!((6300.0..6350.0).contains(&km), "{km}");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GeoPoint {
    /// Degrees north.
    pub latitude: f64,
    /// Degrees east.
    pub longitude: f64,
    /// How far from the point the address may be, in km (MaxMind's `accuracy_radius`).
    pub accuracy_km: Option<u16>,
}

impl GeoPoint {
    /// A point at `latitude`, `longitude` with an optional accuracy radius.
    #[must_use]
    pub fn new(latitude: f64, longitude: f64, accuracy_km: Option<u16>) -> Self {
        Self { latitude, longitude, accuracy_km }
    }

    /// The great-circle distance to `other`, in km (haversine, mean Earth radius 6371 km).
    #[must_use]
    pub fn distance_km(&self, other: &GeoPoint) -> f64 {
        const EARTH_RADIUS_KM: f64 = 6371.0;
        let (la1, la2) = (self.latitude.to_radians(), other.latitude.to_radians());
        let dla = la2 - la1;
        let dlo = (other.longitude - self.longitude).to_radians();
        let a = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
    }
}

/// A geolocation database: the risk rules ask it about the networks a session moves
/// between. Lookups happen only when a session's network changed, never on an ordinary
/// request. [`MaxMindDb`] reads MaxMind-format `.mmdb` files; implement this for another
/// source.
pub trait GeoLookup: Send + Sync + fmt::Debug + 'static {
    /// What the database knows about `addr`; `None` (or empty fields) when nothing.
    fn lookup(&self, addr: IpAddr) -> Option<GeoInfo>;
}

#[cfg(feature = "geoip")]
pub use self::maxmind::{GeoIpError, MaxMindDb};

#[cfg(feature = "geoip")]
mod maxmind {
    use std::net::IpAddr;
    use std::path::{Path, PathBuf};

    use serde::Deserialize;

    use super::{GeoInfo, GeoLookup, GeoPoint};

    /// Why a `.mmdb` file could not be opened.
    #[derive(Debug, thiserror::Error)]
    #[non_exhaustive]
    pub enum GeoIpError {
        /// The file could not be read or is not a MaxMind DB.
        #[error("cannot open GeoIP database {path}: {source}")]
        Open {
            /// The file.
            path: PathBuf,
            /// What the reader said.
            #[source]
            source: maxminddb::MaxMindDbError,
        },
    }

    /// MaxMind-format databases (`.mmdb`: GeoLite2 / GeoIP2 City, Country and ASN, or any
    /// database with the same field names), read whole into memory with the `maxminddb`
    /// crate. Several files answer together: a City file gives country and coordinates, an
    /// ASN file the autonomous system.
    ///
    /// Fields read: `country.iso_code`, `location.latitude`, `location.longitude`,
    /// `location.accuracy_radius`, `autonomous_system_number`. A record that does not
    /// decode counts as unknown, never as an error on the request path.
    pub struct MaxMindDb {
        readers: Vec<maxminddb::Reader<Vec<u8>>>,
    }

    impl std::fmt::Debug for MaxMindDb {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            let types: Vec<&str> = self.readers.iter().map(|r| r.metadata().database_type.as_str()).collect();
            f.debug_struct("MaxMindDb").field("databases", &types).finish()
        }
    }

    impl MaxMindDb {
        /// Opens each of `paths`.
        ///
        /// # Errors
        /// [`GeoIpError::Open`] for the first file that cannot be read or is not a database.
        pub fn open<P: AsRef<Path>>(paths: &[P]) -> Result<Self, GeoIpError> {
            let readers = paths
                .iter()
                .map(|p| {
                    maxminddb::Reader::open_readfile(p.as_ref())
                        .map_err(|source| GeoIpError::Open { path: p.as_ref().to_owned(), source })
                })
                .collect::<Result<_, _>>()?;
            Ok(Self { readers })
        }

        /// A database from its bytes.
        ///
        /// # Errors
        /// [`GeoIpError::Open`] (with an empty path) if the bytes are not a database.
        pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, GeoIpError> {
            let reader = maxminddb::Reader::from_source(bytes)
                .map_err(|source| GeoIpError::Open { path: PathBuf::new(), source })?;
            Ok(Self { readers: vec![reader] })
        }

        /// The databases' types, as their metadata names them (`GeoLite2-City`, …).
        #[must_use]
        pub fn database_types(&self) -> Vec<String> {
            self.readers.iter().map(|r| r.metadata().database_type.clone()).collect()
        }
    }

    #[derive(Deserialize)]
    struct Record<'a> {
        #[serde(borrow, default)]
        country: Option<Country<'a>>,
        #[serde(default)]
        location: Option<Location>,
        #[serde(default)]
        autonomous_system_number: Option<u32>,
    }

    #[derive(Deserialize)]
    struct Country<'a> {
        #[serde(borrow, default)]
        iso_code: Option<&'a str>,
    }

    #[derive(Deserialize)]
    struct Location {
        #[serde(default)]
        latitude: Option<f64>,
        #[serde(default)]
        longitude: Option<f64>,
        #[serde(default)]
        accuracy_radius: Option<u16>,
    }

    fn one(reader: &maxminddb::Reader<Vec<u8>>, addr: IpAddr) -> Option<GeoInfo> {
        // An IPv6 address in an IPv4-only database is an error: unknown, like a miss.
        let found = reader.lookup(addr).ok()?;
        let record: Record<'_> = found.decode().ok()??;
        let mut info = GeoInfo::default();
        if let Some(code) = record.country.and_then(|c| c.iso_code) {
            info = info.with_country(code);
        }
        if let Some(asn) = record.autonomous_system_number {
            info = info.with_asn(asn);
        }
        if let Some(Location { latitude: Some(lat), longitude: Some(lon), accuracy_radius }) = record.location
            && lat.is_finite()
            && lon.is_finite()
        {
            info = info.with_location(GeoPoint::new(lat, lon, accuracy_radius));
        }
        Some(info)
    }

    impl GeoLookup for MaxMindDb {
        fn lookup(&self, addr: IpAddr) -> Option<GeoInfo> {
            self.readers.iter().filter_map(|r| one(r, addr)).reduce(GeoInfo::merged)
        }
    }
}
