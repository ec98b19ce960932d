//! The dashboard's markup: the page frame (skip link, navigation, sign-out), the one
//! stylesheet, forms that carry the CSRF token, times, and the events chart.
//!
//! Everything is rendered by [`maud`], which escapes every interpolated value: a user name
//! or an audit detail can never become markup.

use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::{Deserialize, Serialize};
use sessionwarden::Timestamp;

use crate::admin::rate::Minute;
use crate::display;

/// The one stylesheet, inline so the dashboard is a single response per page. The
/// Content-Security-Policy allows exactly this text, by its hash
/// ([`super::style_hash`]), and no other style or any script.
pub(super) const STYLESHEET: &str = r#"
:root{--fg:#1b1f24;--muted:#4f5863;--line:#c9d1d9;--panel:#f3f5f7;--accent:#0a55a3;--danger:#9f1025;--ok:#17692f;--focus:#1f6feb}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",sans-serif;color:var(--fg);background:#fff}
a{color:var(--accent)}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.skip{position:absolute;left:.5rem;top:-4rem;padding:.5rem 1rem;background:var(--fg);color:#fff;z-index:2}
.skip:focus{top:.5rem}
header{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1.5rem;padding:.6rem 1.5rem;border-bottom:1px solid var(--line);background:var(--panel)}
header .brand{font-weight:700}
nav ul{display:flex;flex-wrap:wrap;gap:.25rem;list-style:none;margin:0;padding:0}
nav a{display:inline-block;padding:.2rem .7rem;border-radius:4px}
nav a[aria-current=page]{background:var(--fg);color:#fff;text-decoration:none}
header form{margin-left:auto}
main{display:block;padding:.5rem 1.5rem 2rem;max-width:82rem}
main:focus{outline:none}
h1{font-size:1.6rem;margin:.8rem 0}
h2{font-size:1.2rem;margin:1.2rem 0 .4rem}
button{font:inherit;padding:.25rem .8rem;border:1px solid var(--fg);border-radius:4px;background:#fff;color:var(--fg);cursor:pointer}
button:hover{background:var(--panel)}
button.danger{border-color:var(--danger);color:var(--danger)}
input{font:inherit;padding:.25rem .5rem;border:1px solid var(--muted);border-radius:4px}
table{border-collapse:collapse;width:100%;margin:.4rem 0 1rem}
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
thead th{background:var(--panel)}
caption{text-align:left;font-weight:600;padding:.2rem 0}
code{font:.9rem ui-monospace,"DejaVu Sans Mono",monospace}
time .abs{white-space:nowrap}
time .rel{display:block;color:var(--muted);font-size:.85rem;font-weight:400}
ul.kv{list-style:none;margin:0;padding:0;font-size:.9rem}
ul.kv li{overflow-wrap:anywhere}
.notice{margin:.8rem 0;padding:.5rem 1rem;border-left:5px solid var(--ok);background:#edf7ef}
.notice.error{border-color:var(--danger);background:#fbeef0}
.inline{display:inline}
.actions{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1rem;margin:.6rem 0}
.filters{display:flex;flex-wrap:wrap;gap:.6rem 1rem;align-items:flex-end;margin:.6rem 0}
.filters label{display:flex;flex-direction:column;font-size:.9rem;font-weight:600}
.filters input{font-weight:400}
.hint{color:var(--muted);font-size:.9rem}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(22rem,1fr));gap:0 1.5rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.4rem 0}
dt{font-weight:600}
dd{margin:0}
.state{font-weight:600}
.state.bad{color:var(--danger)}
.state.good{color:var(--ok)}
svg.chart{width:100%;max-width:46rem;height:auto;border:1px solid var(--line)}
.pager{display:flex;gap:1rem;margin:.5rem 0}
"#;

/// Which navigation entry a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Nav {
    Overview,
    Sessions,
    Events,
    Keys,
}

/// A message shown once, on the page after an action (post/redirect/get).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Flash {
    /// Whether the action succeeded.
    pub(super) ok: bool,
    /// What happened, for a person.
    pub(super) text: String,
}

impl Flash {
    pub(super) fn ok(text: impl Into<String>) -> Self {
        Self { ok: true, text: text.into() }
    }
    pub(super) fn error(text: impl Into<String>) -> Self {
        Self { ok: false, text: text.into() }
    }
}

/// The frame of every signed-in page.
pub(super) fn page(title: &str, nav: Nav, csrf: &str, flash: Option<&Flash>, body: &Markup) -> Markup {
    let entries = [
        (Nav::Overview, "/admin", "Overview"),
        (Nav::Sessions, "/admin/sessions", "Sessions"),
        (Nav::Events, "/admin/events", "Events"),
        (Nav::Keys, "/admin/keys", "Keys"),
    ];
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · sessionwarden admin" }
                style { (PreEscaped(STYLESHEET)) }
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    span.brand { "sessionwarden admin" }
                    nav aria-label="Main" {
                        ul {
                            @for (entry, href, label) in entries {
                                li { a href=(href) aria-current=[(entry == nav).then_some("page")] { (label) } }
                            }
                        }
                    }
                    form.inline method="post" action="/admin/sign-out" {
                        (csrf_field(csrf))
                        button type="submit" { "Sign out" }
                    }
                }
                main #main tabindex="-1" {
                    @if let Some(flash) = flash { (notice(flash)) }
                    (body)
                }
            }
        }
    }
}

/// The sign-in page: the token field when a token is configured, a plain button when the
/// loopback listener has none.
pub(super) fn sign_in(csrf: &str, needs_token: bool, error: Option<&str>, note: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Sign in · sessionwarden admin" }
                style { (PreEscaped(STYLESHEET)) }
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header { span.brand { "sessionwarden admin" } }
                main #main tabindex="-1" {
                    h1 { "Sign in" }
                    @if let Some(error) = error { (notice(&Flash::error(error))) }
                    @if let Some(note) = note { (notice(&Flash::ok(note))) }
                    form method="post" action="/admin/sign-in" {
                        (csrf_field(csrf))
                        @if needs_token {
                            p {
                                label for="token" { "Admin token" }
                                br;
                                input #token type="password" name="token" required
                                    autocomplete="current-password" size="48"
                                    aria-describedby="token-hint";
                            }
                            p #token-hint .hint {
                                "The token of --admin-token-file or SESSIONWARDEN_ADMIN_TOKEN."
                            }
                        } @else {
                            p.hint {
                                "No admin token is set: every user of this host can use the admin plane."
                            }
                        }
                        p { button type="submit" { "Sign in" } }
                    }
                }
            }
        }
    }
}

/// A success or error message, said in words (not only by its colour).
pub(super) fn notice(flash: &Flash) -> Markup {
    html! {
        @if flash.ok {
            div.notice role="status" { strong { "Done: " } (flash.text) }
        } @else {
            div.notice.error role="alert" { strong { "Error: " } (flash.text) }
        }
    }
}

/// The hidden field the CSRF layer reads.
pub(super) fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf_token" value=(csrf); }
}

/// A form that is one button: POST to `action` with the CSRF token and `hidden` fields.
/// `name`, when given, is the button's accessible name (it must begin with `label`, the
/// visible text: WCAG 2.5.3), for buttons that repeat down a table.
pub(super) fn post_button(
    action: &str,
    label: &str,
    name: Option<&str>,
    danger: bool,
    csrf: &str,
    hidden: &[(&str, &str)],
) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            (csrf_field(csrf))
            @for (name, value) in hidden { input type="hidden" name=(name) value=(value); }
            button type="submit" class=[danger.then_some("danger")] aria-label=[name] { (label) }
        }
    }
}

/// `t` as a `<time>`: RFC 3339 in UTC, and below it how long ago.
pub(super) fn time(t: Timestamp, now: Timestamp) -> Markup {
    let at = display::rfc3339(t);
    html! { time datetime=(at) { span.abs { (at) } " " span.rel { "(" (display::relative(t, now)) ")" } } }
}

/// An audit record's details as `key: value` lines, nested objects flattened to dotted keys
/// (`request.client_network: 127.0.0.0/24`).
pub(super) fn details(detail: &serde_json::Map<String, serde_json::Value>) -> Markup {
    fn flatten(
        prefix: &str,
        map: &serde_json::Map<String, serde_json::Value>,
        out: &mut Vec<(String, String)>,
    ) {
        for (k, v) in map {
            let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
            match v {
                serde_json::Value::Object(inner) => flatten(&key, inner, out),
                serde_json::Value::String(s) => out.push((key, s.clone())),
                other => out.push((key, other.to_string())),
            }
        }
    }
    let mut lines = Vec::new();
    flatten("", detail, &mut lines);
    html! {
        @if lines.is_empty() { "-" } @else {
            ul.kv { @for (k, v) in &lines { li { code { (k) } ": " (v) } } }
        }
    }
}

/// `s` as one path segment: every byte but the unreserved ones (RFC 3986 §2.3)
/// percent-encoded, so a user name with `/`, `?` or `#` stays one segment.
pub(super) fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The link to a user's page.
pub(super) fn user_link(user: &str) -> Markup {
    html! { a href={ "/admin/users/" (segment(user)) } { (user) } }
}

const CHART_W: u64 = 600;
const CHART_H: u64 = 150;
const BAR_AREA: u64 = 120;

/// Events per minute as an SVG bar chart (every SVG element with a closing tag: in HTML,
/// `<rect>` without one swallows what follows), with its numbers in words for screen readers
/// (title and description) and refusals hatched, not only coloured.
pub(super) fn chart(minutes: &[Minute]) -> Markup {
    let peak = minutes.iter().map(|m| m.events).max().unwrap_or(0);
    let total: u64 = minutes.iter().map(|m| m.events).sum();
    let refusals: u64 = minutes.iter().map(|m| m.refusals).sum();
    let scale = peak.max(1);
    let step = CHART_W / u64::try_from(minutes.len().max(1)).unwrap_or(1);
    let height = |n: u64| (n * BAR_AREA).div_ceil(scale);
    let desc = format!(
        "{total} events in the last {} minutes, {refusals} of them refusals; the busiest minute had {peak}.",
        minutes.len()
    );
    html! {
        svg.chart role="img" aria-labelledby="chart-title chart-desc"
            viewBox={ "0 0 " (CHART_W) " " (CHART_H + 20) } xmlns="http://www.w3.org/2000/svg" {
            title #chart-title { "Security events per minute, last hour" }
            desc #chart-desc { (desc) }
            defs {
                pattern #hatch width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)" {
                    rect width="4" height="4" fill="#9f1025" {}
                    line x1="0" y1="0" x2="0" y2="4" stroke="#fff" stroke-width="1.5" {}
                }
            }
            line x1="0" y1=(CHART_H) x2=(CHART_W) y2=(CHART_H) stroke="#4f5863" {}
            text x="2" y="12" font-size="11" fill="#4f5863" { "peak " (peak) "/min" }
            @for (i, m) in minutes.iter().enumerate() {
                @let x = u64::try_from(i).unwrap_or(0) * step;
                @if m.events > 0 {
                    @let h = height(m.events);
                    rect x=(x + 1) y=(CHART_H - h) width=(step - 2) height=(h) fill="#0a55a3" {
                        title { (display::rfc3339(m.start)) ": " (m.events) " events, " (m.refusals) " refusals" }
                    }
                }
                @if m.refusals > 0 {
                    @let h = height(m.refusals);
                    rect x=(x + 1) y=(CHART_H - h) width=(step - 2) height=(h) fill="url(#hatch)" {}
                }
            }
            text x="0" y=(CHART_H + 15) font-size="11" fill="#4f5863" { "60 min ago" }
            text x=(CHART_W) y=(CHART_H + 15) font-size="11" fill="#4f5863" text-anchor="end" { "now" }
        }
        p.hint { (desc) " Solid bars: all events; hatched: refusals." }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_keep_one_path_segment() {
        assert_eq!(segment("alice"), "alice");
        assert_eq!(segment("a/b?c#d e"), "a%2Fb%3Fc%23d%20e");
        assert_eq!(segment("名"), "%E5%90%8D");
    }

    #[test]
    fn markup_is_escaped() {
        let m = user_link("<script>\"x\"</script>").into_string();
        assert!(!m.contains("<script>"), "{m}");
        assert!(m.contains("&lt;script&gt;"), "{m}");
    }
}
