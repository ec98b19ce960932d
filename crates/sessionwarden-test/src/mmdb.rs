//! A minimal writer of MaxMind DB (`.mmdb`) files, for tests of the GeoIP risk rules.
//!
//! No crate ships a test database the project may copy, and real GeoLite2 files are neither
//! small nor redistributable here, so tests build their own: a handful of networks with
//! country, coordinates and ASN, in the format the `maxminddb` crate reads (MaxMind DB
//! format 2.0: a binary search tree over 128-bit addresses with 32-bit records, IPv4 mapped
//! at `::/96`, then the data section, then the metadata). Only what the tests need: disjoint
//! networks, maps, strings, unsigned integers and doubles.
//!
//! ```
//! use sessionwarden_test::mmdb::{MmdbWriter, Value};
//! let mut w = MmdbWriter::new("Test-City");
//! w.insert("192.0.2.0/24", Value::map([("country", Value::map([("iso_code", Value::from("SE"))]))]));
//! let bytes = w.build();
//! assert!(bytes.windows(14).any(|s| s == b"\xAB\xCD\xEFMaxMind.com"));
//! ```

use std::net::IpAddr;

/// A value in the data section.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// UTF-8 string.
    Str(String),
    /// Unsigned 16-bit integer.
    U16(u16),
    /// Unsigned 32-bit integer.
    U32(u32),
    /// Unsigned 64-bit integer.
    U64(u64),
    /// IEEE 754 double.
    F64(f64),
    /// Map of string keys, in order.
    Map(Vec<(String, Value)>),
    /// Array.
    Array(Vec<Value>),
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Self::Str(s.to_owned())
    }
}

impl Value {
    /// A map from `(key, value)` pairs.
    pub fn map<const N: usize>(pairs: [(&str, Value); N]) -> Self {
        Self::Map(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    /// A GeoIP2-City-shaped record: country, coordinates and accuracy radius, and (as an ASN
    /// database has it) the autonomous system number.
    pub fn city(country: &str, latitude: f64, longitude: f64, asn: u32) -> Self {
        Self::map([
            ("country", Self::map([("iso_code", Self::from(country))])),
            (
                "location",
                Self::map([
                    ("latitude", Self::F64(latitude)),
                    ("longitude", Self::F64(longitude)),
                    ("accuracy_radius", Self::U16(20)),
                ]),
            ),
            ("autonomous_system_number", Self::U32(asn)),
        ])
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Str(s) => {
                control(out, 2, s.len());
                out.extend_from_slice(s.as_bytes());
            }
            Self::F64(f) => {
                control(out, 3, 8);
                out.extend_from_slice(&f.to_be_bytes());
            }
            Self::U16(n) => uint(out, 5, u64::from(*n)),
            Self::U32(n) => uint(out, 6, u64::from(*n)),
            Self::U64(n) => uint(out, 9, *n),
            Self::Map(pairs) => {
                control(out, 7, pairs.len());
                for (k, v) in pairs {
                    Self::Str(k.clone()).encode(out);
                    v.encode(out);
                }
            }
            Self::Array(items) => {
                control(out, 11, items.len());
                for v in items {
                    v.encode(out);
                }
            }
        }
    }
}

/// An unsigned integer in its fewest big-endian bytes.
fn uint(out: &mut Vec<u8>, kind: u8, n: u64) {
    let bytes = n.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    control(out, kind, 8 - skip);
    out.extend_from_slice(&bytes[skip..]);
}

/// A control byte (type and size), with the extended type byte and size bytes that follow.
fn control(out: &mut Vec<u8>, kind: u8, size: usize) {
    let (bits, extra): (u8, Vec<u8>) = match size {
        0..29 => (size as u8, vec![]),
        29..285 => (29, vec![(size - 29) as u8]),
        285..65_821 => (30, ((size - 285) as u16).to_be_bytes().to_vec()),
        _ => (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec()),
    };
    if kind <= 7 {
        out.push((kind << 5) | bits);
    } else {
        out.push(bits);
        out.push(kind - 7);
    }
    out.extend_from_slice(&extra);
}

#[derive(Clone, Copy)]
enum Child {
    Empty,
    Node(usize),
    Data(usize),
}

/// Builds a database from networks and their records.
pub struct MmdbWriter {
    database_type: String,
    entries: Vec<(u128, u8, Value)>,
}

impl MmdbWriter {
    /// An empty database whose metadata names it `database_type`.
    pub fn new(database_type: &str) -> Self {
        Self { database_type: database_type.to_owned(), entries: Vec::new() }
    }

    /// Adds `network` (CIDR, IPv4 or IPv6) with `value`. Networks must not overlap.
    ///
    /// # Panics
    /// If `network` is not CIDR text (this is test code).
    pub fn insert(&mut self, network: &str, value: Value) -> &mut Self {
        let (addr, len) = network.split_once('/').expect("CIDR");
        let addr: IpAddr = addr.parse().expect("address");
        let len: u8 = len.parse().expect("prefix length");
        let (bits, len) = match addr {
            // IPv4 lives at ::a.b.c.d/96+len, where readers look for it.
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), len + 96),
            IpAddr::V6(v6) => (u128::from(v6), len),
        };
        self.entries.push((bits, len, value));
        self
    }

    /// The database's bytes.
    pub fn build(&self) -> Vec<u8> {
        let mut nodes: Vec<[Child; 2]> = vec![[Child::Empty; 2]];
        let mut data = Vec::new();
        let mut offsets = Vec::new();
        for (i, (bits, len, value)) in self.entries.iter().enumerate() {
            offsets.push(data.len());
            value.encode(&mut data);
            let mut node = 0;
            for depth in 0..*len {
                let bit = ((bits >> (127 - depth)) & 1) as usize;
                if depth + 1 == *len {
                    nodes[node][bit] = Child::Data(i);
                } else {
                    node = match nodes[node][bit] {
                        Child::Node(n) => n,
                        _ => {
                            nodes.push([Child::Empty; 2]);
                            let n = nodes.len() - 1;
                            nodes[node][bit] = Child::Node(n);
                            n
                        }
                    };
                }
            }
        }
        let count = nodes.len();
        let mut out = Vec::new();
        for node in &nodes {
            for child in node {
                let record = match *child {
                    Child::Empty => count,
                    Child::Node(n) => n,
                    Child::Data(i) => count + 16 + offsets[i],
                };
                out.extend_from_slice(&(record as u32).to_be_bytes());
            }
        }
        out.extend_from_slice(&[0u8; 16]);
        out.extend_from_slice(&data);
        out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
        Value::Map(vec![
            ("binary_format_major_version".into(), Value::U16(2)),
            ("binary_format_minor_version".into(), Value::U16(0)),
            ("build_epoch".into(), Value::U64(1_900_000_000)),
            ("database_type".into(), Value::from(self.database_type.as_str())),
            ("description".into(), Value::map([("en", Value::from("sessionwarden test database"))])),
            ("ip_version".into(), Value::U16(6)),
            ("languages".into(), Value::Array(vec![Value::from("en")])),
            ("node_count".into(), Value::U32(count as u32)),
            ("record_size".into(), Value::U16(32)),
        ])
        .encode(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use sessionwarden_tower::risk::{GeoLookup as _, MaxMindDb};

    use super::*;

    /// What the writer writes, the `maxminddb` reader reads: IPv4 and IPv6 networks, every
    /// address inside a network, nothing outside.
    #[test]
    fn the_reader_reads_what_the_writer_wrote() {
        let mut w = MmdbWriter::new("Test-City");
        w.insert("192.0.2.0/24", Value::city("SE", 59.33, 18.07, 64_500));
        w.insert("203.0.113.0/24", Value::city("DE", 48.14, 11.58, 64_501));
        w.insert("2001:db8:1::/48", Value::city("JP", 35.68, 139.69, 4_200_000_000));
        let db = MaxMindDb::from_bytes(w.build()).unwrap();
        assert_eq!(db.database_types(), vec!["Test-City".to_owned()]);
        let cases = [
            ("first of a /24", "192.0.2.0", Some(("SE", 64_500))),
            ("last of a /24", "192.0.2.255", Some(("SE", 64_500))),
            ("another /24", "203.0.113.77", Some(("DE", 64_501))),
            ("next door: unknown", "192.0.3.1", None),
            ("IPv6 inside the /48", "2001:db8:1:ffff::1", Some(("JP", 4_200_000_000))),
            ("IPv6 outside", "2001:db8:2::1", None),
            ("IPv4-mapped is not IPv4 here", "::1", None),
        ];
        for (name, addr, want) in cases {
            let got = db.lookup(addr.parse().unwrap());
            let got = got.as_ref().and_then(|g| Some((g.country.as_deref()?, g.asn?)));
            assert_eq!(got, want, "{name}");
        }
        let point = db.lookup("192.0.2.9".parse().unwrap()).unwrap().location.unwrap();
        assert_eq!((point.latitude, point.longitude, point.accuracy_km), (59.33, 18.07, Some(20)));
    }
}
