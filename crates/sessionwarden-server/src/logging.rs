//! Log output: the subscriber the binary installs, and the access log every listener writes.
//!
//! - **Text** (the default): `tracing-subscriber`'s human-readable lines, with colour only
//!   when standard error is a terminal, so a log file or journal never holds escape codes.
//! - **JSON** (`--log-format json`): one object per line, `{"timestamp", "level", "target",
//!   "fields": {…}, "span": {…}}`. A security event's evidence is a JSON object under
//!   `fields.event` (`{"kind": "cookie_rejected", "reason": "forged"}`), not a Rust `Debug`
//!   string, so a log pipeline can filter on its fields. `tracing-subscriber`'s own JSON
//!   format writes every field as a string or number; this formatter differs only in reading
//!   the `event` field as the JSON it is.
//! - **Access log** ([`access_log`]): one `sessionwarden::access` line per request with its
//!   method, path (never the query, which can carry tokens), status, latency and request id.
//!   A request without a plausible `x-request-id` (one line of at most 128 visible ASCII
//!   characters) gets a fresh UUID, which the response carries back and every security event
//!   of the request shows, so one id ties them together.

use std::fmt;
use std::io::IsTerminal as _;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, Request, Response};
use serde_json::{Map, Value};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::field::{Field, Visit};
use tracing::{Event, Span, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use crate::cli::LogFormat;

/// The target of the access log's lines.
pub const ACCESS_TARGET: &str = "sessionwarden::access";

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Installs the global subscriber: `RUST_LOG` (default `info`) to standard error, in `format`.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.fmt_fields(JsonFields::new()).event_format(JsonLines).init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

/// `router` with the access log and request ids around it (outermost first: the id is set,
/// then the request is logged, then the id is copied to the response).
pub fn access_log(router: Router) -> Router {
    let trace = TraceLayer::new_for_http()
        .make_span_with(|req: &Request<_>| {
            let request_id = req.headers().get(X_REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!(
                target: ACCESS_TARGET,
                "request",
                method = %req.method(),
                path = req.uri().path(),
                request_id,
            )
        })
        .on_request(())
        .on_response(|res: &Response<_>, latency: Duration, _: &Span| {
            tracing::info!(
                target: ACCESS_TARGET,
                status = res.status().as_u16(),
                latency_ms = latency.as_secs_f64() * 1e3,
                "request",
            );
        })
        // Every response is logged once, by `on_response`, whatever its status.
        .on_failure(());
    router
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID))
        .layer(trace)
        .layer(SetRequestIdLayer::new(X_REQUEST_ID, MakeRequestUuid))
        .layer(axum::middleware::map_request(drop_implausible_id))
}

/// The longest client-sent request id kept, in bytes (the session layer's events keep as much).
const MAX_REQUEST_ID: usize = 128;

/// Drops a client's `x-request-id` unless it is a plausible id (at most [`MAX_REQUEST_ID`]
/// visible ASCII characters, one header line), so that a fresh UUID replaces it: a log line
/// must not carry whatever a client chose to send.
async fn drop_implausible_id(mut req: Request<axum::body::Body>) -> Request<axum::body::Body> {
    let headers = req.headers_mut();
    let mut ids = headers.get_all(&X_REQUEST_ID).iter();
    let plausible = match (ids.next(), ids.next()) {
        (Some(id), None) => id.len() <= MAX_REQUEST_ID && id.as_bytes().iter().all(u8::is_ascii_graphic),
        (None, _) => true,
        (Some(_), Some(_)) => false,
    };
    if !plausible {
        headers.remove(&X_REQUEST_ID);
    }
    req
}

/// JSON lines with security events as objects (see the module docs).
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        let now = time::OffsetDateTime::now_utc();
        let timestamp = now.format(&time::format_description::well_known::Rfc3339).map_err(|_| fmt::Error)?;
        line.insert("timestamp".into(), Value::String(timestamp));
        line.insert("level".into(), Value::String(meta.level().as_str().to_owned()));
        let mut fields = Map::new();
        event.record(&mut JsonVisitor(&mut fields));
        line.insert("fields".into(), Value::Object(fields));
        line.insert("target".into(), Value::String(meta.target().to_owned()));
        // The innermost span's fields (with `JsonFields`, each span's are a JSON object), and
        // the names of the spans it sits in.
        if let Some(scope) = ctx.event_scope() {
            let mut names = Vec::new();
            let mut innermost = None;
            for span in scope {
                names.push(Value::String(span.name().to_owned()));
                if innermost.is_none() {
                    let ext = span.extensions();
                    let mut fields = ext
                        .get::<FormattedFields<N>>()
                        .and_then(|f| serde_json::from_str::<Map<String, Value>>(f).ok())
                        .unwrap_or_default();
                    fields.insert("name".into(), Value::String(span.name().to_owned()));
                    innermost = Some(fields);
                }
            }
            if let Some(span) = innermost {
                line.insert("span".into(), Value::Object(span));
                names.reverse();
                line.insert("spans".into(), Value::Array(names));
            }
        }
        let text = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

/// Collects an event's fields as JSON values; `event` (a security event's evidence, which
/// the session layer writes as JSON) is embedded as the object it is.
struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        let value = match field.name() {
            "event" => match serde_json::from_str::<Value>(&text) {
                Ok(object @ Value::Object(_)) => object,
                _ => Value::String(text),
            },
            _ => Value::String(text),
        };
        self.0.insert(field.name().to_owned(), value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "event"
            && let Ok(object @ Value::Object(_)) = serde_json::from_str::<Value>(value)
        {
            self.0.insert(field.name().to_owned(), object);
            return;
        }
        self.0.insert(field.name().to_owned(), Value::String(value.to_owned()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::Bool(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(field.name().to_owned(), Value::String(value.to_string()));
    }
}
