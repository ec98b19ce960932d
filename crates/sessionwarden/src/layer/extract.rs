use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use crate::error::{Error, StoreError};
use crate::session::Session;

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Session>().cloned().ok_or(Error::MissingLayer)
    }
}

/// Clients get a fixed status and a generic body; the detail goes to the log.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match &self {
            Error::Store(StoreError::Unavailable { .. }) => {
                (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response()
            }
            Error::Deserialize { .. } | Error::Serialize { .. } | Error::ValueTooDeep { .. } => {
                tracing::warn!(target: "sessionwarden::layer", error = %self, "session value rejected");
                (StatusCode::BAD_REQUEST, "Bad Request").into_response()
            }
            _ => {
                tracing::error!(target: "sessionwarden::layer", error = %self, "session error");
                (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
            }
        }
    }
}
