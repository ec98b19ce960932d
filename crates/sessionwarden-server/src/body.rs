//! Request bodies the routes refuse: a fixed, generic answer for the client, the detail in the
//! log.
//!
//! axum's own rejections answer the parser's message (`Failed to parse the request body as
//! JSON: … at line 1 column 129`): internals a client has no use for and an attacker
//! probing the parser does. Here the client gets the status and a fixed sentence; the log gets
//! the rejection's kind and, for JSON, the error category and position. Never the message
//! itself: serde's messages quote the offending value (`invalid type: integer `5`, …`), which
//! may be a password.

use axum::Json;
use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;

/// The body every malformed JSON or form body gets, with status 400.
pub(crate) const MALFORMED: &str = "malformed request body";

/// [`Json`] with [`json_rejected`] as its rejection.
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Send + 'static> FromRequest<S> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Json::<T>::from_request(req, state).await.map(|Json(t)| Self(t)).map_err(json_rejected)
    }
}

/// A JSON body's rejection as the client sees it: the same status, a fixed body.
pub(crate) fn json_rejected(rejection: JsonRejection) -> Response {
    let status = rejection.status();
    let kind = match &rejection {
        JsonRejection::JsonDataError(_) => "json_data",
        JsonRejection::JsonSyntaxError(_) => "json_syntax",
        JsonRejection::MissingJsonContentType(_) => "json_content_type",
        JsonRejection::BytesRejection(_) => "body_read",
        _ => "json_other",
    };
    // The serde_json error, wherever axum wrapped it: its category and position only.
    let mut source = std::error::Error::source(&rejection);
    let mut position = None;
    while let Some(e) = source {
        if let Some(e) = e.downcast_ref::<serde_json::Error>() {
            position = Some((format!("{:?}", e.classify()), e.line(), e.column()));
            break;
        }
        source = e.source();
    }
    let (category, line, column) = position.unwrap_or_default();
    tracing::info!(
        target: "sessionwarden::server",
        status = status.as_u16(),
        kind,
        category,
        line,
        column,
        "request body refused"
    );
    generic(status)
}

/// A form body's rejection as the client sees it: the same status, a fixed body.
pub(crate) fn form_rejected(rejection: FormRejection) -> Response {
    let status = rejection.status();
    let kind = match &rejection {
        FormRejection::InvalidFormContentType(_) => "form_content_type",
        FormRejection::FailedToDeserializeForm(_) => "form_data",
        FormRejection::FailedToDeserializeFormBody(_) => "form_body",
        FormRejection::BytesRejection(_) => "body_read",
        _ => "form_other",
    };
    tracing::info!(target: "sessionwarden::server", status = status.as_u16(), kind, "request body refused");
    generic(status)
}

fn generic(status: StatusCode) -> Response {
    let text = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "request body too large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported content type",
        StatusCode::UNPROCESSABLE_ENTITY => "request body does not have the expected fields",
        StatusCode::REQUEST_TIMEOUT => "request body timed out",
        _ => MALFORMED,
    };
    (status, Json(json!({ "error": text }))).into_response()
}
