//! [`CurrentUser`]: the logged-in user as an axum extractor.

use std::fmt;

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;

use crate::error::Error;
use crate::session::Session;

/// The user logged in to the request's session ([`Session::login`]), as an extractor.
///
/// A handler taking `CurrentUser` runs only for a logged-in session; otherwise the request
/// is answered 401 ([`Error::NotLoggedIn`]). Take `Option<CurrentUser>` where a visitor is
/// welcome too. Either way a store outage answers 503, never an anonymous visitor: a user
/// whose session cannot be read is not logged out by it.
///
/// Only [`Session::login`] (or [`Session::set_user`]) makes a user; a `"user"` key in the
/// session's data does not. `Debug` does not print the name (it is personal data).
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use axum::{Router, routing::get};
/// use sessionwarden::auth::CurrentUser;
///
/// async fn me(user: CurrentUser) -> String {
///     format!("Hello, {}", user.name())
/// }
///
/// async fn home(user: Option<CurrentUser>) -> String {
///     match user {
///         Some(user) => format!("Welcome back, {}", user.name()),
///         None => "Welcome, visitor".to_owned(),
///     }
/// }
///
/// let app: Router = Router::new().route("/me", get(me)).route("/", get(home));
/// # let _ = app;
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct CurrentUser {
    name: String,
}

impl CurrentUser {
    /// The user's name, as it was passed to [`Session::login`].
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The user's name, owned.
    #[must_use]
    pub fn into_name(self) -> String {
        self.name
    }

    /// The logged-in user of `session`, if any.
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot be reached.
    pub async fn of(session: &Session) -> Result<Option<Self>, Error> {
        Ok(session.user().await?.map(|name| Self { name }))
    }
}

impl fmt::Debug for CurrentUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CurrentUser(..)")
    }
}

impl AsRef<str> for CurrentUser {
    fn as_ref(&self) -> &str {
        &self.name
    }
}

/// The session the layer put in the request.
fn session(parts: &Parts) -> Result<&Session, Error> {
    parts.extensions.get::<Session>().ok_or(Error::MissingLayer)
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::of(session(parts)?).await?.ok_or(Error::NotLoggedIn)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for CurrentUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, Self::Rejection> {
        Self::of(session(parts)?).await
    }
}
