//! The blog's `CSRFProtect` example (Flask-WTF), in Rust: a form whose POST needs the
//! session's CSRF token.
//!
//! ```text
//! Run:   cargo run -p examples --bin csrf_protect
//! Then:  curl -c jar -b jar http://127.0.0.1:3002/form
//!            → an HTML form with a hidden `csrf_token` field (a new string on every load)
//!        TOKEN=$(curl -s -c jar -b jar http://127.0.0.1:3002/form | sed -n 's/.*value="\([^"]*\)".*/\1/p')
//!        curl -c jar -b jar -d "csrf_token=$TOKEN" http://127.0.0.1:3002/form
//!            → Form submitted!
//!        curl -c jar -b jar -X POST http://127.0.0.1:3002/form
//!            → Forbidden (403; the reason, "token_missing", goes to a security event on the
//!              `sessionwarden::security` tracing target, never to the client)
//!        curl -c jar -b jar -H 'Origin: https://evil.example' -d "csrf_token=$TOKEN" http://127.0.0.1:3002/form
//!            → Forbidden (reason "origin_mismatch": the token alone is not enough)
//! ```
//!
//! Or open http://127.0.0.1:3002/form in a browser and press the button. What Flask-WTF's
//! `CSRFProtect(app)` does, `CsrfLayer` does: every POST, PUT, PATCH and DELETE that carries
//! the session cookie must bring the token (form field `csrf_token`, or the `X-CSRFToken` /
//! `X-CSRF-Token` header); on top, the browser's `Sec-Fetch-Site` / `Origin` must say the
//! request comes from this site. `insecure_http_origin` is for this plain-http demo only.

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use sessionwarden::csrf::{CsrfLayer, CsrfToken};
use sessionwarden::{CookieStore, SessionLayer};

/// Like `render_template_string` with `{{ csrf_token() }}`.
async fn form(token: CsrfToken) -> Html<String> {
    Html(format!(
        r#"<form method="post" action="/form">
  <input type="hidden" name="csrf_token" value="{}">
  <input type="submit" value="Submit">
</form>
"#,
        token.as_str()
    ))
}

/// Only reached when both CSRF checks passed.
async fn submit() -> &'static str {
    "Form submitted!"
}

#[tokio::main]
async fn main() {
    let app = Router::new()
        .route("/form", get(form).post(submit))
        // Inside the session layer: the token is checked against the session's secret.
        .layer(CsrfLayer::new().insecure_http_origin())
        .layer(SessionLayer::new(CookieStore::signed(), examples::keyring()));
    examples::serve(app, 3002).await;
}
