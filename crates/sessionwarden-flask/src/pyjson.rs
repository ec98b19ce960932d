//! JSON exactly as Python's `json` module reads and writes it.
//!
//! Reading follows `json.loads`: `NaN`/`Infinity`/`-Infinity` tokens, unbounded integers,
//! duplicate keys (the last value wins, at the first key's position), whitespace anywhere
//! between tokens. It is stricter in two places Flask never produces: lone UTF-16 surrogates
//! (a Rust `String` cannot hold them) and nesting deeper than [`MAX_DEPTH`].
//!
//! Writing follows `json.dumps(..., ensure_ascii=True)`: everything outside printable ASCII
//! becomes `\uXXXX` (lowercase hex, astral characters as surrogate pairs) and floats use
//! Python's `repr`.

use crate::{Error, FlaskMap, FlaskValue, value::MAX_INT_DIGITS};

/// Deepest nesting accepted when reading or writing. Python's own limit is the recursion
/// limit (~1000); no real session nests anywhere near this.
pub(crate) const MAX_DEPTH: usize = 128;

/// Parses a JSON text into an untagged value (objects become `Dict`, arrays `List`).
pub(crate) fn parse(text: &str, allow_non_finite: bool) -> Result<FlaskValue, Error> {
    let mut p = Parser { b: text.as_bytes(), i: 0, allow_non_finite };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.i != p.b.len() {
        return Err(p.err("end of input"));
    }
    Ok(v)
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
    allow_non_finite: bool,
}

impl Parser<'_> {
    fn err(&self, expected: &'static str) -> Error {
        Error::Json { offset: self.i, expected }
    }

    fn ws(&mut self) {
        while matches!(self.b.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, lit: &[u8]) -> bool {
        if self.b[self.i..].starts_with(lit) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<FlaskValue, Error> {
        if depth >= MAX_DEPTH {
            return Err(self.err("less nesting"));
        }
        match self.b.get(self.i) {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(FlaskValue::Str),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ if self.eat(b"null") => Ok(FlaskValue::Null),
            _ if self.eat(b"true") => Ok(FlaskValue::Bool(true)),
            _ if self.eat(b"false") => Ok(FlaskValue::Bool(false)),
            _ if self.allow_non_finite && self.eat(b"NaN") => Ok(FlaskValue::Float(f64::NAN)),
            _ if self.allow_non_finite && self.eat(b"Infinity") => Ok(FlaskValue::Float(f64::INFINITY)),
            _ => Err(self.err("a value")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<FlaskValue, Error> {
        self.i += 1; // '{'
        let mut map = FlaskMap::new();
        self.ws();
        if self.eat(b"}") {
            return Ok(FlaskValue::Dict(map));
        }
        loop {
            if self.b.get(self.i) != Some(&b'"') {
                return Err(self.err("a string key"));
            }
            let key = self.string()?;
            self.ws();
            if !self.eat(b":") {
                return Err(self.err("':'"));
            }
            self.ws();
            let v = self.value(depth + 1)?;
            // Python dict semantics: a repeated key keeps its first position, last value.
            map.insert(key, v);
            self.ws();
            if self.eat(b"}") {
                return Ok(FlaskValue::Dict(map));
            }
            if !self.eat(b",") {
                return Err(self.err("',' or '}'"));
            }
            self.ws();
        }
    }

    fn array(&mut self, depth: usize) -> Result<FlaskValue, Error> {
        self.i += 1; // '['
        let mut items = Vec::new();
        self.ws();
        if self.eat(b"]") {
            return Ok(FlaskValue::List(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.ws();
            if self.eat(b"]") {
                return Ok(FlaskValue::List(items));
            }
            if !self.eat(b",") {
                return Err(self.err("',' or ']'"));
            }
            self.ws();
        }
    }

    fn number(&mut self) -> Result<FlaskValue, Error> {
        let start = self.i;
        if self.eat(b"-") && self.allow_non_finite && self.eat(b"Infinity") {
            return Ok(FlaskValue::Float(f64::NEG_INFINITY));
        }
        match self.b.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.err("a digit")),
        }
        let mut is_float = false;
        if self.b.get(self.i) == Some(&b'.') && self.b.get(self.i + 1).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
            self.digits();
            is_float = true;
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            let mut j = self.i + 1;
            if matches!(self.b.get(j), Some(b'+' | b'-')) {
                j += 1;
            }
            if self.b.get(j).is_some_and(u8::is_ascii_digit) {
                self.i = j;
                self.digits();
                is_float = true;
            }
        }
        // invariant: b[start..i] holds only ASCII sign/digit/'.'/'e'/'+' bytes, so it is UTF-8
        let text = std::str::from_utf8(&self.b[start..self.i]).map_err(|_| self.err("a number"))?;
        if is_float {
            // Python's float(): correctly rounded, overflow to +-inf.
            text.parse::<f64>().map(FlaskValue::Float).map_err(|_| self.err("a number"))
        } else {
            if text.len() > MAX_INT_DIGITS + 1 {
                return Err(self.err("an integer of at most 4300 digits"));
            }
            FlaskValue::integer_from_decimal(text)
                .ok_or_else(|| self.err("an integer of at most 4300 digits"))
        }
    }

    fn digits(&mut self) {
        while self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
    }

    fn string(&mut self) -> Result<String, Error> {
        self.i += 1; // opening quote
        let mut out = String::new();
        loop {
            let run = self.b[self.i..]
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                .ok_or(Error::Json { offset: self.b.len(), expected: "'\"'" })?;
            // invariant: the input is a &str and the run stops before an ASCII byte, so
            // it ends on a character boundary.
            let chunk = std::str::from_utf8(&self.b[self.i..self.i + run]).map_err(|_| self.err("utf-8"))?;
            out.push_str(chunk);
            self.i += run;
            match self.b[self.i] {
                b'"' => {
                    self.i += 1;
                    return Ok(out);
                }
                b'\\' => {
                    let esc = self.b.get(self.i + 1).copied();
                    self.i += 2;
                    let c = match esc {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => self.unicode_escape()?,
                        _ => {
                            self.i -= 2;
                            return Err(self.err("a valid escape"));
                        }
                    };
                    out.push(c);
                }
                _ => return Err(self.err("no control characters in strings")),
            }
        }
    }

    /// Reads the 4 hex digits after `\u` (and a low surrogate escape after a high one).
    /// Leaves `i` after the last digit read.
    fn unicode_escape(&mut self) -> Result<char, Error> {
        let hi = self.hex4()?;
        let cp = if (0xD800..0xDC00).contains(&hi) {
            if !self.eat(b"\\u") {
                return Err(self.err("a low surrogate escape"));
            }
            let lo = self.hex4()?;
            if !(0xDC00..0xE000).contains(&lo) {
                return Err(self.err("a low surrogate escape"));
            }
            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
        } else if (0xDC00..0xE000).contains(&hi) {
            return Err(self.err("no lone surrogates"));
        } else {
            hi
        };
        char::from_u32(cp).ok_or_else(|| self.err("a valid code point"))
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let digits = self.b.get(self.i..self.i + 4).ok_or_else(|| self.err("4 hex digits"))?;
        let mut v = 0u32;
        for &c in digits {
            let d = (c as char).to_digit(16).ok_or_else(|| self.err("4 hex digits"))?;
            v = v * 16 + d;
        }
        self.i += 4;
        Ok(v)
    }
}

/// Writes `s` as a JSON string the way `json.dumps(ensure_ascii=True)` does.
pub(crate) fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    push_u_escape(out, *u);
                }
            }
        }
    }
    out.push('"');
}

fn push_u_escape(out: &mut String, u: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[usize::from((u >> shift) & 0xF)] as char);
    }
}

/// Writes a float as Python's `repr(float)` (which `json.dumps` uses), including the
/// non-standard `NaN`, `Infinity` and `-Infinity` tokens `json.dumps` emits by default.
pub(crate) fn write_float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("NaN");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    if f.is_sign_negative() {
        out.push('-');
    }
    // Rust's `{:e}` prints the shortest digits that round-trip, like Python's repr.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    let n = digits.len() as i32;
    let decpt = exp + 1;
    // CPython's float_repr_style "short", mode 'r': exponent form when decpt <= -4 or > 16.
    if decpt <= -4 || decpt > 16 {
        out.push_str(&digits[..1]);
        if n > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let sign = if exp < 0 { '-' } else { '+' };
        out.push_str(&format!("e{sign}{:02}", exp.abs()));
    } else if decpt <= 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-decpt) as usize));
        out.push_str(&digits);
    } else if decpt >= n {
        out.push_str(&digits);
        out.push_str(&"0".repeat((decpt - n) as usize));
        out.push_str(".0");
    } else {
        out.push_str(&digits[..decpt as usize]);
        out.push('.');
        out.push_str(&digits[decpt as usize..]);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn repr(f: f64) -> String {
        let mut s = String::new();
        write_float(&mut s, f);
        s
    }

    #[test]
    fn floats_match_python_repr() {
        let cases: [(f64, &str); 16] = [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (0.25, "0.25"),
            (1.0, "1.0"),
            (1e-7, "1e-07"),
            (1e300, "1e+300"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-5, "1.5e-05"),
            (0.1, "0.1"),
            (1.0 / 3.0, "0.3333333333333333"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
        ];
        for (f, want) in cases {
            assert_eq!(repr(f), want);
        }
    }

    #[test]
    fn strings_escape_like_ensure_ascii() {
        let mut s = String::new();
        write_str(&mut s, "\"hi\" \\ / \u{7f}\u{1}é🎉");
        assert_eq!(s, r#""\"hi\" \\ / \u007f\u0001\u00e9\ud83c\udf89""#);
        assert_eq!(parse(&s, false).unwrap(), FlaskValue::from("\"hi\" \\ / \u{7f}\u{1}é🎉"));
    }

    #[test]
    fn python_leniencies_and_strictness() {
        assert_eq!(
            parse(" [ 1 , -0 , 1.5e1 ] ", false).unwrap(),
            FlaskValue::List(vec![FlaskValue::Int(1), FlaskValue::Int(0), FlaskValue::Float(15.0)])
        );
        let FlaskValue::Dict(m) = parse(r#"{"a":1,"b":2,"a":3}"#, false).unwrap() else { panic!() };
        assert_eq!(m.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(m["a"], FlaskValue::Int(3));
        assert!(matches!(parse("-Infinity", true).unwrap(), FlaskValue::Float(f) if f == f64::NEG_INFINITY));
        for bad in ["NaN", "01", "1.", "[1,]", "{\"a\"}", "\"\\ud800\"", "\"\u{1}\"", "[] x", "", "+1"] {
            assert!(parse(bad, false).is_err(), "{bad:?}");
        }
        let deep = "[".repeat(MAX_DEPTH + 1);
        assert!(parse(&deep, true).is_err());
    }
}
