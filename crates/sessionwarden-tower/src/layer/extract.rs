use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

use crate::error::Error;
use crate::session::Session;

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Session>().cloned().ok_or(Error::MissingLayer)
    }
}

/// Clients get a fixed status and a generic body (a typed rejection); the detail
/// goes to the log.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        super::rejection::for_error(&self)
    }
}
