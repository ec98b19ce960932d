//! Flash messages: a message queued in one request and shown once in a later one ("Saved",
//! "Wrong password"), as Flask's `flash()` and `get_flashed_messages()`.
//!
//! Messages live in the session under [`FLASH_KEY`] (`_flashes`, Flask's own key) as a list
//! of `[level, message]` pairs, so an application sharing sessions with Flask (through
//! `sessionwarden-flask`) sees the same queue: Flask's `(category, message)` tuples are read,
//! and the pairs written unpack in Flask's `get_flashed_messages(with_categories=True)` as
//! tuples do. The queue is bounded: at most
//! [`MAX_FLASHES`] messages (the oldest go first), each at most [`MAX_FLASH_LEN`] bytes
//! (longer ones are cut at a character boundary), so a loop of redirects cannot grow a
//! session without end. With the cookie store the browser's 4 KB limit still applies:
//! [`Session::flash`] then fails with [`Error::CookieTooLarge`] like any other write.

use std::fmt;

use axum_core::extract::FromRequestParts;
use http::request::Parts;
use serde::Serialize;
use serde_json::Value;

use crate::error::Error;
use crate::session::Session;

/// The session key flash messages are kept under: `_flashes`, as in Flask.
pub const FLASH_KEY: &str = "_flashes";

/// The most messages a session queues; a new one beyond it pushes out the oldest.
pub const MAX_FLASHES: usize = 8;

/// The longest message kept, in bytes; a longer one is cut at a character boundary.
pub const MAX_FLASH_LEN: usize = 512;

/// How a flash message should look. Stored as its lowercase name; Flask's default category
/// `message`, and any category this enum does not name, read back as [`FlashLevel::Info`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum FlashLevel {
    /// Details for developers.
    Debug,
    /// Something the user may want to know.
    Info,
    /// An action worked.
    Success,
    /// Something needs the user's attention.
    Warning,
    /// An action failed.
    Error,
}

impl FlashLevel {
    /// The level's name as stored (and as a CSS class): `debug`, `info`, `success`,
    /// `warning`, `error`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Success => "success",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }

    fn parse(name: &str) -> Self {
        match name {
            "debug" => Self::Debug,
            "success" => Self::Success,
            "warning" => Self::Warning,
            "error" => Self::Error,
            _ => Self::Info,
        }
    }
}

impl fmt::Display for FlashLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One flash message. Its text is plain text, not HTML: escape it when rendering (template
/// engines do by default), since it may quote what a user typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Flash {
    /// How it should look.
    pub level: FlashLevel,
    /// What it says.
    pub message: String,
}

impl Flash {
    /// A message at `level`, cut to [`MAX_FLASH_LEN`] bytes.
    #[must_use]
    pub fn new(level: FlashLevel, message: impl Into<String>) -> Self {
        let mut message = message.into();
        truncate(&mut message, MAX_FLASH_LEN);
        Self { level, message }
    }

    /// The stored form: `[level, message]`.
    fn to_value(&self) -> Value {
        Value::Array(vec![Value::from(self.level.as_str()), Value::from(self.message.as_str())])
    }

    /// A stored entry: `[level, message]`, Flask's `(category, message)` tuple as the Flask
    /// adapter keeps it (`{"$tuple": [category, message]}`), or a bare message. Anything else
    /// is dropped.
    fn from_value(value: Value) -> Option<Self> {
        let value = match value {
            Value::Object(mut tagged) if tagged.len() == 1 => tagged.remove("$tuple")?,
            other => other,
        };
        match value {
            Value::String(message) => Some(Self::new(FlashLevel::Info, message)),
            Value::Array(pair) => match <[Value; 2]>::try_from(pair).ok()? {
                [Value::String(level), Value::String(message)] => {
                    Some(Self::new(FlashLevel::parse(&level), message))
                }
                _ => None,
            },
            _ => None,
        }
    }
}

/// Cuts `s` to at most `max` bytes at a character boundary.
fn truncate(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
}

/// The queue as stored, read leniently: entries that are not messages are dropped, and the
/// bounds applied (the session may have been written by another application).
fn queue(stored: Option<Value>) -> Vec<Flash> {
    let Some(Value::Array(entries)) = stored else { return Vec::new() };
    let mut flashes: Vec<Flash> = entries.into_iter().filter_map(Flash::from_value).collect();
    let excess = flashes.len().saturating_sub(MAX_FLASHES);
    flashes.drain(..excess);
    flashes
}

impl Session {
    /// Queues a message for the next page this browser shows (read with [`Flashes`]). Creates
    /// the session if there is none, so it works after [`Session::logout`] too ("You have
    /// been logged out").
    ///
    /// # Errors
    /// As [`Session::insert`]: [`Error::CookieTooLarge`] when the cookie store's cookie
    /// would not hold it, [`Error::Store`] if the store cannot be reached.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use axum::response::Redirect;
    /// use sessionwarden::{Session, auth::FlashLevel};
    ///
    /// async fn save(session: Session) -> Result<Redirect, sessionwarden::Error> {
    ///     // ... save the settings, then:
    ///     session.flash(FlashLevel::Success, "Settings saved").await?;
    ///     Ok(Redirect::to("/settings"))
    /// }
    /// ```
    pub async fn flash(&self, level: FlashLevel, message: impl Into<String>) -> Result<(), Error> {
        let mut flashes = queue(self.get_value(FLASH_KEY).await?);
        flashes.push(Flash::new(level, message));
        let excess = flashes.len().saturating_sub(MAX_FLASHES);
        flashes.drain(..excess);
        let stored: Vec<Value> = flashes.iter().map(Flash::to_value).collect();
        self.insert(FLASH_KEY, Value::Array(stored)).await
    }

    /// Takes the queued flash messages out of the session: they are returned once, and are
    /// gone from the next request on. What the [`Flashes`] extractor does.
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot be reached.
    pub async fn take_flashes(&self) -> Result<Flashes, Error> {
        Ok(Flashes(queue(self.remove::<Value>(FLASH_KEY).await?)))
    }
}

/// The flash messages queued for this browser ([`Session::flash`]), taken out of the session:
/// shown once, then gone. A request without any costs no write, and without a session
/// creates none.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::auth::Flashes;
///
/// async fn page(flashes: Flashes) -> String {
///     let mut html = String::new();
///     for flash in &flashes {
///         // Escape the message in a real template.
///         html.push_str(&format!("<p class=\"{}\">{}</p>", flash.level, flash.message));
///     }
///     html
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Flashes(Vec<Flash>);

impl Flashes {
    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The messages, oldest first.
    pub fn iter(&self) -> std::slice::Iter<'_, Flash> {
        self.0.iter()
    }
}

impl IntoIterator for Flashes {
    type Item = Flash;
    type IntoIter = std::vec::IntoIter<Flash>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Flashes {
    type Item = &'a Flash;
    type IntoIter = std::slice::Iter<'a, Flash>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Flashes {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = parts.extensions.get::<Session>().ok_or(Error::MissingLayer)?;
        session.take_flashes().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stored_entries_read_leniently() {
        let stored = json!([
            ["success", "saved"],
            ["message", "Flask's default category"],
            "bare message",
            ["error"],
            [1, "not a category"],
            {"level": "info"},
            {"$tuple": ["warning", "from Flask"]},
            {"$tuple": ["warning"]},
            {"$markup": "<b>not a message</b>"},
            ["warning", "last"],
        ]);
        let got: Vec<(FlashLevel, String)> =
            queue(Some(stored)).into_iter().map(|f| (f.level, f.message)).collect();
        assert_eq!(
            got,
            [
                (FlashLevel::Success, "saved".to_owned()),
                (FlashLevel::Info, "Flask's default category".to_owned()),
                (FlashLevel::Info, "bare message".to_owned()),
                (FlashLevel::Warning, "from Flask".to_owned()),
                (FlashLevel::Warning, "last".to_owned()),
            ]
        );
        assert!(queue(Some(json!("not a list"))).is_empty());
        assert!(queue(None).is_empty());
    }

    #[test]
    fn bounds() {
        let many = Value::Array((0..MAX_FLASHES + 5).map(|i| json!(["info", i.to_string()])).collect());
        let q = queue(Some(many));
        assert_eq!(q.len(), MAX_FLASHES);
        assert_eq!(q[0].message, "5", "the oldest go first");
        // A multi-byte character straddling the limit is dropped whole.
        let long = format!("{}é", "a".repeat(MAX_FLASH_LEN - 1));
        let f = Flash::new(FlashLevel::Info, long);
        assert_eq!(f.message.len(), MAX_FLASH_LEN - 1);
        assert!(f.message.chars().all(|c| c == 'a'));
    }

    #[test]
    fn stored_form_is_flask_shaped() {
        let f = Flash::new(FlashLevel::Error, "Wrong password");
        assert_eq!(f.to_value(), json!(["error", "Wrong password"]));
        assert_eq!(Flash::from_value(f.to_value()), Some(f));
    }
}
