//! MessagePack as msgspec 0.22 writes and reads a Flask-Session dict (FLASK-FORMATS.md 2.4).
//!
//! Decoding walks the bytes itself, with `rmp::Marker` for the type byte, so that a declared
//! length never causes an allocation larger than the bytes that are actually there.

use rmp::Marker;
use rmp::encode as enc;

use crate::{Error, FlaskDateTime, FlaskMap, FlaskValue, pyjson::MAX_DEPTH, value::BigInt};

/// msgpack's timestamp extension type.
const TIMESTAMP_EXT: i8 = -1;

fn bad(reason: &'static str) -> Error {
    Error::BadRecord { reason }
}

/// Decodes one complete MessagePack value; trailing bytes are an error (msgspec's too).
pub(crate) fn decode(bytes: &[u8]) -> Result<FlaskValue, Error> {
    let mut d = Decoder { b: bytes, i: 0 };
    let v = d.value(0)?;
    if d.i != bytes.len() {
        return Err(bad("trailing bytes after msgpack value"));
    }
    Ok(v)
}

struct Decoder<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Decoder<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self.i.checked_add(n).filter(|e| *e <= self.b.len()).ok_or(bad("truncated msgpack"))?;
        let s = &self.b[self.i..end];
        self.i = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let s = self.take(N)?;
        // invariant: take(N) returned exactly N bytes
        Ok(s.try_into().expect("N bytes"))
    }

    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<usize, Error> {
        Ok(usize::from(u16::from_be_bytes(self.array()?)))
    }

    fn u32(&mut self) -> Result<usize, Error> {
        usize::try_from(u32::from_be_bytes(self.array()?)).map_err(|_| bad("length too large"))
    }

    fn value(&mut self, depth: usize) -> Result<FlaskValue, Error> {
        if depth >= MAX_DEPTH {
            return Err(bad("nested deeper than 128 levels"));
        }
        let v = match Marker::from_u8(self.u8()?) {
            Marker::Null => FlaskValue::Null,
            Marker::True => FlaskValue::Bool(true),
            Marker::False => FlaskValue::Bool(false),
            Marker::FixPos(v) => FlaskValue::Int(i64::from(v)),
            Marker::FixNeg(v) => FlaskValue::Int(i64::from(v)),
            Marker::U8 => FlaskValue::Int(i64::from(self.u8()?)),
            Marker::U16 => FlaskValue::Int(i64::from(u16::from_be_bytes(self.array()?))),
            Marker::U32 => FlaskValue::Int(i64::from(u32::from_be_bytes(self.array()?))),
            Marker::U64 => BigInt::from_u64(u64::from_be_bytes(self.array()?)),
            Marker::I8 => FlaskValue::Int(i64::from(i8::from_be_bytes(self.array()?))),
            Marker::I16 => FlaskValue::Int(i64::from(i16::from_be_bytes(self.array()?))),
            Marker::I32 => FlaskValue::Int(i64::from(i32::from_be_bytes(self.array()?))),
            Marker::I64 => FlaskValue::Int(i64::from_be_bytes(self.array()?)),
            Marker::F32 => FlaskValue::Float(f64::from(f32::from_be_bytes(self.array()?))),
            Marker::F64 => FlaskValue::Float(f64::from_be_bytes(self.array()?)),
            Marker::FixStr(n) => self.str(usize::from(n))?,
            Marker::Str8 => {
                let n = usize::from(self.u8()?);
                self.str(n)?
            }
            Marker::Str16 => {
                let n = self.u16()?;
                self.str(n)?
            }
            Marker::Str32 => {
                let n = self.u32()?;
                self.str(n)?
            }
            Marker::Bin8 => {
                let n = usize::from(self.u8()?);
                FlaskValue::Bytes(self.take(n)?.to_vec())
            }
            Marker::Bin16 => {
                let n = self.u16()?;
                FlaskValue::Bytes(self.take(n)?.to_vec())
            }
            Marker::Bin32 => {
                let n = self.u32()?;
                FlaskValue::Bytes(self.take(n)?.to_vec())
            }
            Marker::FixArray(n) => self.list(usize::from(n), depth)?,
            Marker::Array16 => {
                let n = self.u16()?;
                self.list(n, depth)?
            }
            Marker::Array32 => {
                let n = self.u32()?;
                self.list(n, depth)?
            }
            Marker::FixMap(n) => self.map(usize::from(n), depth)?,
            Marker::Map16 => {
                let n = self.u16()?;
                self.map(n, depth)?
            }
            Marker::Map32 => {
                let n = self.u32()?;
                self.map(n, depth)?
            }
            Marker::FixExt1 => self.ext(1)?,
            Marker::FixExt2 => self.ext(2)?,
            Marker::FixExt4 => self.ext(4)?,
            Marker::FixExt8 => self.ext(8)?,
            Marker::FixExt16 => self.ext(16)?,
            Marker::Ext8 => {
                let n = usize::from(self.u8()?);
                self.ext(n)?
            }
            Marker::Ext16 => {
                let n = self.u16()?;
                self.ext(n)?
            }
            Marker::Ext32 => {
                let n = self.u32()?;
                self.ext(n)?
            }
            Marker::Reserved => return Err(bad("reserved msgpack byte 0xc1")),
        };
        Ok(v)
    }

    fn str(&mut self, n: usize) -> Result<FlaskValue, Error> {
        let raw = self.take(n)?;
        let s = std::str::from_utf8(raw).map_err(|_| bad("string is not utf-8"))?;
        Ok(FlaskValue::Str(s.to_owned()))
    }

    fn list(&mut self, n: usize, depth: usize) -> Result<FlaskValue, Error> {
        // Every element takes at least one byte: cap the reservation by what is left.
        let mut items = Vec::with_capacity(n.min(self.b.len() - self.i));
        for _ in 0..n {
            items.push(self.value(depth + 1)?);
        }
        Ok(FlaskValue::List(items))
    }

    fn map(&mut self, n: usize, depth: usize) -> Result<FlaskValue, Error> {
        let mut map = FlaskMap::with_capacity(n.min((self.b.len() - self.i) / 2));
        for _ in 0..n {
            let FlaskValue::Str(key) = self.value(depth + 1)? else {
                return Err(bad("map key is not a string"));
            };
            let v = self.value(depth + 1)?;
            map.insert(key, v);
        }
        Ok(FlaskValue::Dict(map))
    }

    fn ext(&mut self, n: usize) -> Result<FlaskValue, Error> {
        let ty = i8::from_be_bytes(self.array()?);
        let data = self.take(n)?;
        if ty != TIMESTAMP_EXT {
            return Err(bad("unknown msgpack extension type"));
        }
        let (secs, nanos) = match data.len() {
            4 => (i64::from(u32::from_be_bytes(fixed(data)?)), 0),
            8 => {
                let v = u64::from_be_bytes(fixed(data)?);
                // invariant: the top 30 bits hold nanoseconds, the low 34 bits seconds
                ((v & 0x3_ffff_ffff) as i64, (v >> 34) as u32)
            }
            12 => (i64::from_be_bytes(fixed(&data[4..])?), u32::from_be_bytes(fixed(&data[..4])?)),
            _ => return Err(bad("timestamp extension of a bad length")),
        };
        FlaskDateTime::from_unix(secs, nanos)
            .map(FlaskValue::DateTime)
            .ok_or(bad("timestamp out of python's datetime range"))
    }
}

fn fixed<const N: usize>(s: &[u8]) -> Result<[u8; N], Error> {
    s.try_into().map_err(|_| bad("timestamp extension of a bad length"))
}

/// Encodes a session dict the way `msgspec.msgpack.Encoder().encode(dict(session))` does:
/// insertion order, smallest int and length forms, float64, tuples as arrays, UUIDs as
/// hyphenated strings, datetimes as timestamp extensions.
pub(crate) fn encode(session: &FlaskMap) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(64);
    write_map(&mut out, session, 0)?;
    Ok(out)
}

fn write_failed<E>(_: E) -> Error {
    // Writing into a Vec cannot fail; this keeps the signatures honest without a panic.
    Error::Unencodable { what: "msgpack output" }
}

fn len32(n: usize) -> Result<u32, Error> {
    u32::try_from(n).map_err(|_| Error::Unencodable { what: "a msgpack item longer than 4 GiB" })
}

fn write_map(out: &mut Vec<u8>, map: &FlaskMap, depth: usize) -> Result<(), Error> {
    enc::write_map_len(out, len32(map.len())?).map_err(write_failed)?;
    for (k, v) in map {
        enc::write_str(out, k).map_err(write_failed)?;
        write_value(out, v, depth + 1)?;
    }
    Ok(())
}

fn write_value(out: &mut Vec<u8>, v: &FlaskValue, depth: usize) -> Result<(), Error> {
    if depth >= MAX_DEPTH {
        return Err(Error::Unencodable { what: "a value nested deeper than 128 levels" });
    }
    match v {
        FlaskValue::Null => enc::write_nil(out).map_err(write_failed)?,
        FlaskValue::Bool(b) => enc::write_bool(out, *b).map_err(write_failed)?,
        FlaskValue::Int(i) => {
            enc::write_sint(out, *i).map_err(write_failed)?;
        }
        FlaskValue::BigInt(b) => {
            // msgspec fails outside [-2^63, 2^64-1]; BigInt is outside i64, so only u64 fits.
            let u = b.to_u64().ok_or(Error::Unencodable { what: "an integer outside the msgpack range" })?;
            enc::write_uint(out, u).map_err(write_failed)?;
        }
        FlaskValue::Float(f) => enc::write_f64(out, *f).map_err(write_failed)?,
        FlaskValue::Str(s) => enc::write_str(out, s).map_err(write_failed)?,
        FlaskValue::Markup(_) => {
            // msgspec has no encoder for Markup: Flask-Session fails the request (HTTP 500).
            return Err(Error::Unencodable { what: "markup in a msgpack record" });
        }
        FlaskValue::List(items) | FlaskValue::Tuple(items) => {
            enc::write_array_len(out, len32(items.len())?).map_err(write_failed)?;
            for item in items {
                write_value(out, item, depth + 1)?;
            }
        }
        FlaskValue::Dict(map) => write_map(out, map, depth)?,
        FlaskValue::Bytes(b) => enc::write_bin(out, b).map_err(write_failed)?,
        FlaskValue::Uuid(u) => enc::write_str(out, &u.to_string()).map_err(write_failed)?,
        FlaskValue::DateTime(dt) => write_timestamp(out, dt)?,
    }
    Ok(())
}

/// The smallest timestamp form, as msgspec picks it.
fn write_timestamp(out: &mut Vec<u8>, dt: &FlaskDateTime) -> Result<(), Error> {
    let (secs, nanos) = (dt.unix_seconds(), dt.subsec_nanos());
    match u64::try_from(secs) {
        Ok(s) if nanos == 0 && s <= u64::from(u32::MAX) => {
            enc::write_ext_meta(out, 4, TIMESTAMP_EXT).map_err(write_failed)?;
            out.extend_from_slice(&(s as u32).to_be_bytes());
        }
        Ok(s) if s < (1 << 34) => {
            enc::write_ext_meta(out, 8, TIMESTAMP_EXT).map_err(write_failed)?;
            out.extend_from_slice(&((u64::from(nanos) << 34) | s).to_be_bytes());
        }
        _ => {
            enc::write_ext_meta(out, 12, TIMESTAMP_EXT).map_err(write_failed)?;
            out.extend_from_slice(&nanos.to_be_bytes());
            out.extend_from_slice(&secs.to_be_bytes());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn timestamps_use_all_three_forms_and_round_trip() {
        for (secs, nanos, len) in
            [(1_735_787_045, 0, 6), (1_735_787_045, 5, 10), (-1, 0, 15), (17_179_869_184, 0, 15)]
        {
            let dt = FlaskDateTime::from_unix(secs, nanos).unwrap();
            let mut out = Vec::new();
            write_timestamp(&mut out, &dt).unwrap();
            assert_eq!(out.len(), len, "{secs}");
            assert_eq!(decode(&out).unwrap(), FlaskValue::DateTime(dt));
        }
    }

    #[test]
    fn declared_lengths_do_not_allocate() {
        // array32 claiming 4 billion items, then nothing.
        assert!(decode(&[0xdd, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(decode(&[0xdf, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(decode(&[0xdb, 0xff, 0xff, 0xff, 0xff]).is_err());
    }
}
