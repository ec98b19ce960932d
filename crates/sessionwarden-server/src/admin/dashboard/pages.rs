//! The dashboard's pages and actions. Pages read through the admin API's functions and
//! render; actions call the same functions the JSON API and the CLI call, then redirect to
//! a page with the outcome in words.

use std::time::Duration;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use sessionwarden::csrf::CsrfVerified;
use sessionwarden::{SessionInfo, Timestamp};

use super::html::{self, Flash, Nav, post_button, segment, time, user_link};
use super::{Dashboard, SignedIn};
use crate::admin::api::{self, ApiError, EventParams};
use crate::keys::KeySource;

/// Sessions per page of the sessions listing.
pub(super) const PAGE_SIZE: usize = 50;

/// Audit records per page of the timeline.
const EVENTS_PAGE: usize = 200;

/// How long the overview waits for the store's ping.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// A page's frame around `body`, or the response that stood in the way.
async fn render(signed_in: &SignedIn, title: &str, nav: Nav, status: StatusCode, body: Markup) -> Response {
    match signed_in.page_context().await {
        Ok((csrf, flash)) => (status, html::page(title, nav, &csrf, flash.as_ref(), &body)).into_response(),
        Err(res) => res,
    }
}

/// As [`render`], for pages whose body needs the CSRF token (forms).
async fn render_with(
    signed_in: &SignedIn,
    title: &str,
    nav: Nav,
    body: impl FnOnce(&str) -> (StatusCode, Markup),
) -> Response {
    match signed_in.page_context().await {
        Ok((csrf, flash)) => {
            let (status, body) = body(&csrf);
            (status, html::page(title, nav, &csrf, flash.as_ref(), &body)).into_response()
        }
        Err(res) => res,
    }
}

fn error_notice(e: &ApiError) -> (StatusCode, Markup) {
    let (status, text) = e.status_and_message();
    (status, html::notice(&Flash::error(text)))
}

fn flash_of(e: &ApiError) -> Flash {
    Flash::error(e.status_and_message().1)
}

// ---- overview ----

pub(super) async fn overview(State(dash): State<Dashboard>, signed_in: SignedIn) -> Response {
    let admin = &dash.admin;
    let now = admin.app.clock.now();
    let active = match api::index(admin) {
        Ok(index) => index.count(None, now).await.map_err(ApiError::from),
        Err(e) => Err(e),
    };
    let disabled = crate::users::disabled_users(&admin.app).await.map(|u| u.len());
    let health = match &admin.app.store {
        None => Health::NoStore,
        Some(store) => match tokio::time::timeout(PING_TIMEOUT, store.ping()).await {
            Ok(Ok(())) => Health::Up,
            Ok(Err(e)) => {
                tracing::warn!(target: "sessionwarden::admin", error = %e, "store ping failed");
                Health::Down
            }
            Err(_) => Health::Down,
        },
    };
    let minutes = admin.event_rate.as_ref().map(|r| r.last_hour(now));
    let keys = admin.app.keyring.current();
    let capability = |r: Result<(), String>| match r {
        Ok(()) => html! { span.state.good { "Available" } },
        Err(why) => html! { span.state { "Not available" } " — " (why) },
    };
    let body = html! {
        h1 { "Overview" }
        div.cards {
            section aria-labelledby="h-sessions" {
                h2 #h-sessions { "Sessions" }
                dl {
                    dt { "Active sessions" }
                    dd { @match &active {
                        Ok(n) => { (n) " " a href="/admin/sessions" { "List them" } }
                        Err(e) => { "Unknown: " (e.status_and_message().1) }
                    } }
                    dt { "Disabled users" }
                    dd { @match &disabled {
                        Ok(n) => { (n) }
                        Err(e) => { "Unknown: " (e) }
                    } }
                }
            }
            section aria-labelledby="h-store" {
                h2 #h-store { "Store health" }
                dl {
                    dt { "Session store" }
                    dd { @match health {
                        Health::Up => { span.state.good { "Reachable" } }
                        Health::Down => { span.state.bad { "Unreachable" } }
                        Health::NoStore => { span.state { "None: sessions live in their cookies" } }
                    } }
                    dt { "Session listing" }
                    dd { (capability(admin.index.as_ref().map(drop).map_err(ToString::to_string))) }
                    dt { "Audit log" }
                    dd { (capability(admin.audit.as_ref().map(drop).map_err(ToString::to_string))) }
                    dt { "Disabling users" }
                    dd { (capability(admin.app.account_locks.as_ref().map(drop).map_err(ToString::to_string))) }
                }
            }
        }
        section aria-labelledby="h-events" {
            h2 #h-events { "Events in the last hour" }
            @match &minutes {
                Some(minutes) => { (html::chart(minutes)) }
                None => { p { "This server does not count events per minute." } }
            }
            p { a href="/admin/events" { "Events timeline" } }
        }
        section aria-labelledby="h-keys" {
            h2 #h-keys { "Keys" }
            table {
                caption { "Keys in use, primary first" }
                thead { tr { th scope="col" { "Key id" } th scope="col" { "State" } th scope="col" { "Created" } } }
                tbody {
                    @for key in keys.verifying() {
                        tr {
                            th scope="row" { (key.id().get()) }
                            td { (key.state().as_str()) }
                            td { (time(key.created(), now)) }
                        }
                    }
                }
            }
            @if !keys.retired().is_empty() {
                p { "Retired: " @for (i, kid) in keys.retired().iter().enumerate() {
                    @if i > 0 { ", " } (kid.get())
                } }
            }
            p { a href="/admin/keys" { "Manage keys" } }
        }
    };
    render(&signed_in, "Overview", Nav::Overview, StatusCode::OK, body).await
}

#[derive(Clone, Copy)]
enum Health {
    Up,
    Down,
    NoStore,
}

// ---- sessions ----

#[derive(Deserialize)]
pub(super) struct SessionsQuery {
    user: Option<String>,
    cursor: Option<String>,
}

/// Where an action on a session sends the browser back to: fixed pages only (never a URL
/// from the form, so the dashboard is no open redirect).
#[derive(Deserialize)]
pub(super) struct Back {
    /// `user`: the user's page; anything else: the sessions listing.
    back: Option<String>,
    /// The user of the page or filter the form was on.
    user: Option<String>,
}

impl Back {
    fn url(&self) -> String {
        match (self.back.as_deref(), self.user.as_deref().filter(|u| !u.is_empty())) {
            (Some("user"), Some(user)) => format!("/admin/users/{}", segment(user)),
            (_, Some(user)) => format!("/admin/sessions?user={}", segment(user)),
            (_, None) => "/admin/sessions".into(),
        }
    }
}

pub(super) async fn sessions(
    State(dash): State<Dashboard>,
    signed_in: SignedIn,
    Query(q): Query<SessionsQuery>,
) -> Response {
    let admin = &dash.admin;
    let now = admin.app.clock.now();
    let user = q.user.filter(|u| !u.trim().is_empty());
    let page = async {
        let index = api::index(admin)?;
        let after = q.cursor.as_deref().filter(|c| !c.is_empty()).map(api::parse_handle).transpose()?;
        let page = api::listing(index.as_ref(), user.as_deref(), after.clone(), PAGE_SIZE, now).await?;
        Ok::<_, ApiError>((page, after.is_some()))
    }
    .await;
    render_with(&signed_in, "Sessions", Nav::Sessions, |csrf| {
        let filter = user.as_deref().unwrap_or("");
        let (status, listing) = match &page {
            Ok((page, paged)) => {
                let next = page.next.as_ref().map(|next| {
                    let mut url = format!("/admin/sessions?cursor={}", next.as_str());
                    if let Some(user) = &user {
                        url.push_str(&format!("&user={}", segment(user)));
                    }
                    url
                });
                let first = user.as_ref().map_or_else(
                    || "/admin/sessions".to_owned(),
                    |u| format!("/admin/sessions?user={}", segment(u)),
                );
                let back = [("back", "sessions"), ("user", filter)];
                (
                    StatusCode::OK,
                    html! {
                        (session_table(&page.sessions, true, now, csrf, &back))
                        @if *paged || next.is_some() {
                            nav.pager aria-label="Pages of sessions" {
                                @if *paged { a href=(first) { "First page" } }
                                @if let Some(next) = &next { a href=(next) { "Next page" } }
                            }
                        }
                    },
                )
            }
            Err(e) => error_notice(e),
        };
        let body = html! {
            h1 { "Sessions" }
            form.filters method="get" action="/admin/sessions" role="search" {
                label for="filter-user" { "User" input #filter-user type="text" name="user" value=(filter); }
                button type="submit" { "Filter" }
                @if user.is_some() { a href="/admin/sessions" { "Show all users" } }
            }
            (listing)
        };
        (status, body)
    })
    .await
}

/// The sessions as a table, each with its revoke button; `with_user` adds the user column.
fn session_table(
    sessions: &[SessionInfo],
    with_user: bool,
    now: Timestamp,
    csrf: &str,
    back: &[(&str, &str)],
) -> Markup {
    html! {
        @if sessions.is_empty() {
            p { "No live sessions." }
        } @else {
            table {
                caption { "Live sessions, by handle (" (sessions.len()) " on this page)" }
                thead { tr {
                    th scope="col" { "Handle" }
                    @if with_user { th scope="col" { "User" } }
                    th scope="col" { "Created" }
                    th scope="col" { "Last seen" }
                    th scope="col" { "Expires" }
                    th scope="col" { "Client" }
                    th scope="col" { "Action" }
                } }
                tbody {
                    @for s in sessions {
                        tr {
                            th scope="row" { code { (s.handle.as_str()) } }
                            @if with_user {
                                td { @match &s.user { Some(u) => { (user_link(u)) } None => { "anonymous" } } }
                            }
                            td { (time(s.created, now)) }
                            td { (time(s.last_seen, now)) }
                            td { @match s.expires_at { Some(t) => { (time(t, now)) } None => { "never" } } }
                            td { (crate::stores::client_summary(s)) }
                            td { (post_button(
                                &format!("/admin/sessions/{}/revoke", s.handle.as_str()),
                                "Revoke",
                                Some(&format!("Revoke session {}", s.handle.as_str())),
                                true, csrf, back,
                            )) }
                        }
                    }
                }
            }
        }
    }
}

pub(super) async fn revoke_session(
    State(dash): State<Dashboard>,
    signed_in: SignedIn,
    _checked: CsrfVerified,
    Path(handle): Path<String>,
    Form(back): Form<Back>,
) -> Response {
    let result = match api::parse_handle(&handle) {
        Ok(handle) => api::revoke_one(&dash.admin, &handle).await.map(|()| handle),
        Err(e) => Err(e),
    };
    let flash = match result {
        Ok(handle) => Flash::ok(format!("session {} revoked; its cookie no longer loads", handle.as_str())),
        Err(e) => flash_of(&e),
    };
    signed_in.done(flash, &back.url()).await
}

// ---- one user ----

pub(super) async fn user(
    State(dash): State<Dashboard>,
    signed_in: SignedIn,
    Path(user): Path<String>,
) -> Response {
    let admin = &dash.admin;
    let now = admin.app.clock.now();
    let listed = async {
        let index = api::index(admin)?;
        Ok::<_, ApiError>(api::listing(index.as_ref(), Some(&user), None, PAGE_SIZE, now).await?)
    }
    .await;
    let disabled = crate::users::disabled_users(&admin.app)
        .await
        .map(|users| users.into_iter().find(|u| u.user == user).map(|u| u.since));
    let base = format!("/admin/users/{}", segment(&user));
    let title = format!("User {user}");
    render_with(&signed_in, &title, Nav::Sessions, |csrf| {
        let back = [("back", "user"), ("user", user.as_str())];
        let (status, listing) = match &listed {
            Ok(page) => (
                StatusCode::OK,
                html! {
                    (session_table(&page.sessions, false, now, csrf, &back))
                    @if page.next.is_some() {
                        p { a href={ "/admin/sessions?user=" (segment(&user)) } { "More sessions of this user" } }
                    }
                },
            ),
            Err(e) => error_notice(e),
        };
        let body = html! {
            h1 { "User " q { (user) } }
            dl {
                dt { "Status" }
                dd { @match &disabled {
                    Ok(Some(since)) => { span.state.bad { "Disabled" } " since " (time(*since, now)) }
                    Ok(None) => { span.state.good { "Enabled" } }
                    Err(e) => { "Unknown: " (e) }
                } }
            }
            div.actions {
                (post_button(&format!("{base}/revoke"), "Revoke all sessions", None, true, csrf, &[]))
                @match &disabled {
                    Ok(Some(_)) => { (post_button(&format!("{base}/enable"), "Enable user", None, false, csrf, &[])) }
                    Ok(None) => { (post_button(&format!("{base}/disable"), "Disable user", None, true, csrf, &[])) }
                    Err(_) => {}
                }
            }
            h2 { "Sessions" }
            (listing)
            p { a href={ "/admin/events?user=" (segment(&user)) } { "Events of this user" } }
        };
        (status, body)
    })
    .await
}

pub(super) async fn revoke_user(
    State(dash): State<Dashboard>,
    signed_in: SignedIn,
    _checked: CsrfVerified,
    Path(user): Path<String>,
) -> Response {
    let flash = match api::revoke_user_sessions(&dash.admin, &user).await {
        Ok(n) => Flash::ok(format!("ended {n} session(s) of {user} and revoked their tokens")),
        Err(e) => flash_of(&e),
    };
    signed_in.done(flash, &format!("/admin/users/{}", segment(&user))).await
}

pub(super) async fn disable_user(
    State(dash): State<Dashboard>,
    signed_in: SignedIn,
    _checked: CsrfVerified,
    Path(user): Path<String>,
) -> Response {
    let flash = match crate::users::disable_user(&dash.admin.app, &user).await {
        Ok(done) => {
            let was = if done.newly { "" } else { " (it already was)" };
            Flash::ok(format!("disabled {user}{was}: ended {} session(s) and every token", done.sessions))
        }
        Err(e) => flash_of(&api::users_error(e)),
    };
    signed_in.done(flash, &format!("/admin/users/{}", segment(&user))).await
}

pub(super) async fn enable_user(
    State(dash): State<Dashboard>,
    signed_in: SignedIn,
    _checked: CsrfVerified,
    Path(user): Path<String>,
) -> Response {
    let flash = match crate::users::enable_user(&dash.admin.app, &user).await {
        Ok(true) => Flash::ok(format!("enabled {user}")),
        Ok(false) => Flash::ok(format!("{user} was not disabled")),
        Err(e) => flash_of(&api::users_error(e)),
    };
    signed_in.done(flash, &format!("/admin/users/{}", segment(&user))).await
}

// ---- events ----

#[derive(Deserialize)]
pub(super) struct EventsQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    user: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

pub(super) async fn events(
    State(dash): State<Dashboard>,
    signed_in: SignedIn,
    Query(q): Query<EventsQuery>,
) -> Response {
    let now = dash.admin.app.clock.now();
    let params = EventParams {
        kind: q.kind.clone(),
        user: q.user.clone(),
        since: q.since.clone(),
        until: q.until.clone(),
        limit: Some(EVENTS_PAGE),
    };
    let entries = api::query_events(&dash.admin, params).await;
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let (status, listing) = match &entries {
        Ok(entries) if entries.is_empty() => (StatusCode::OK, html! { p { "No audit records match." } }),
        Ok(entries) => (
            StatusCode::OK,
            html! {
                table {
                    caption { "Audit records, newest first (at most " (EVENTS_PAGE) ")" }
                    thead { tr {
                        th scope="col" { "Time" }
                        th scope="col" { "Type" }
                        th scope="col" { "User" }
                        th scope="col" { "Session" }
                        th scope="col" { "Details" }
                    } }
                    tbody {
                        @for e in entries {
                            tr {
                                th scope="row" { (time(e.at, now)) }
                                td { code { (e.kind) } }
                                td { @match &e.user { Some(u) => { (user_link(u)) } None => { "-" } } }
                                td { @match &e.handle { Some(h) => { code { (h.as_str()) } } None => { "-" } } }
                                td { (html::details(&e.detail)) }
                            }
                        }
                    }
                }
            },
        ),
        Err(e) => error_notice(e),
    };
    let body = html! {
        h1 { "Events" }
        form.filters method="get" action="/admin/events" role="search" {
            label for="ev-type" { "Type" input #ev-type type="text" name="type" value=(value(&q.kind))
                aria-describedby="ev-type-hint"; }
            label for="ev-user" { "User" input #ev-user type="text" name="user" value=(value(&q.user)); }
            label for="ev-since" { "Since" input #ev-since type="text" name="since" value=(value(&q.since))
                aria-describedby="ev-time-hint"; }
            label for="ev-until" { "Until" input #ev-until type="text" name="until" value=(value(&q.until))
                aria-describedby="ev-time-hint"; }
            button type="submit" { "Filter" }
        }
        p #ev-type-hint .hint {
            "Types: session_revoked, sessions_revoked, session_expired, session_destroyed, user_disabled, "
            "cookie_rejected, csrf_rejected, jwt_rejected, admin_auth_failed, …"
        }
        p #ev-time-hint .hint { "Times: Unix seconds or RFC 3339 in UTC, such as 2026-01-02T03:04:05Z." }
        (listing)
    };
    render(&signed_in, "Events", Nav::Events, status, body).await
}

// ---- keys ----

pub(super) async fn keys(State(dash): State<Dashboard>, signed_in: SignedIn) -> Response {
    let now = dash.admin.app.clock.now();
    let keys = api::keys(&dash.admin).await;
    let from_env = matches!(dash.admin.keys, KeySource::Env);
    render_with(&signed_in, "Keys", Nav::Keys, |csrf| {
        let (status, listing) = match &keys {
            Ok(list) => (
                StatusCode::OK,
                html! {
                    div.actions { (post_button("/admin/keys/rotate", "Rotate: add a new primary key", None, false, csrf, &[])) }
                    table {
                        caption { "The keyring file's keys" }
                        thead { tr {
                            th scope="col" { "Key id" }
                            th scope="col" { "State" }
                            th scope="col" { "Created" }
                            th scope="col" { "Action" }
                        } }
                        tbody {
                            @for k in &list.keys {
                                tr {
                                    th scope="row" { (k.kid) }
                                    td { (k.state) }
                                    td { (time(Timestamp::from_unix(k.created), now)) }
                                    td { @if k.state == "verify" {
                                        a href={ "/admin/keys/" (k.kid) "/retire" } { "Retire key " (k.kid) "…" }
                                    } @else { "-" } }
                                }
                            }
                        }
                    }
                },
            ),
            Err(e) => error_notice(e),
        };
        let body = html! {
            h1 { "Keys" }
            p {
                "The primary key seals new cookies, CSRF tokens and JWTs; verify-only keys still open what they sealed. "
                "Rotating logs nobody out. Retire an old key once its users have come back (after the idle timeout)."
            }
            @if from_env { p { "Keys come from SECRET_KEY / SECRET_KEY_FALLBACKS: change them there and restart." } }
            (listing)
        };
        (status, body)
    })
    .await
}

pub(super) async fn rotate_key(
    State(dash): State<Dashboard>,
    signed_in: SignedIn,
    _checked: CsrfVerified,
) -> Response {
    let flash = match api::rotate(&dash.admin).await {
        Ok(list) => {
            let primary = list.keys.iter().find(|k| k.state == "primary").map_or(0, |k| k.kid);
            Flash::ok(format!("rotated: key {primary} is the primary now; the previous one only verifies"))
        }
        Err(e) => flash_of(&e),
    };
    signed_in.done(flash, "/admin/keys").await
}

pub(super) async fn confirm_retire(signed_in: SignedIn, Path(kid): Path<String>) -> Response {
    // The id is echoed only once it parsed as a number.
    let Ok(kid) = kid.parse::<u32>() else {
        return render(
            &signed_in,
            "Retire a key",
            Nav::Keys,
            StatusCode::BAD_REQUEST,
            html::notice(&Flash::error("not a key id")),
        )
        .await;
    };
    render_with(&signed_in, &format!("Retire key {kid}"), Nav::Keys, |csrf| {
        let body = html! {
            h1 { "Retire key " (kid) "?" }
            p {
                "What key " (kid) " still seals — cookies, CSRF tokens, JWTs — is rejected from now on: "
                "users whose sessions it sealed and who have not been back since the rotation are signed out. "
                "This cannot be undone."
            }
            div.actions {
                (post_button(&format!("/admin/keys/{kid}/retire"), &format!("Retire key {kid}"), None, true, csrf, &[]))
                a href="/admin/keys" { "Cancel" }
            }
        };
        (StatusCode::OK, body)
    })
    .await
}

pub(super) async fn retire_key(
    State(dash): State<Dashboard>,
    signed_in: SignedIn,
    _checked: CsrfVerified,
    Path(kid): Path<String>,
) -> Response {
    let flash = match api::retire(&dash.admin, &kid).await {
        Ok(_) => Flash::ok(format!("key {kid} retired: what it sealed is rejected from now on")),
        Err(e) => flash_of(&e),
    };
    signed_in.done(flash, "/admin/keys").await
}
