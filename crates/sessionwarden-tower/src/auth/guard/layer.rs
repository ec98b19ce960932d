use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use tower_layer::Layer;

use super::service::RequireService;
use super::{Deny, Need, Rule};

/// A login URL a guard cannot redirect to: it is not a valid `Location` header value
/// (control characters, or bytes outside visible ASCII).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("login URL is not a valid Location header value (visible ASCII only)")]
#[non_exhaustive]
pub struct InvalidLoginUrl;

fn checked(url: String) -> Result<Arc<str>, InvalidLoginUrl> {
    HeaderValue::try_from(url.as_str()).map_err(|_| InvalidLoginUrl)?;
    // The query parameter is appended to it: a URL that is not visible ASCII would still make
    // a header, but not a URL a browser reads the same way.
    if !url.bytes().all(|b| b.is_ascii_graphic()) || url.is_empty() {
        return Err(InvalidLoginUrl);
    }
    Ok(url.into())
}

/// The query parameter the page asked for goes back in: `next`, as in Flask-Login.
const DEFAULT_NEXT_PARAM: &str = "next";

macro_rules! deny_builders {
    ($ty:ident) => {
        impl $ty {
            /// Sends the page the request asked for in `param` instead of `next` (pages only).
            pub fn with_next_param(mut self, param: &'static str) -> Self {
                if let Deny::Redirect { next, .. } = &mut self.rule.deny {
                    *next = Some(param);
                }
                self
            }

            /// Redirects without saying which page was asked for (pages only).
            pub fn without_next(mut self) -> Self {
                if let Deny::Redirect { next, .. } = &mut self.rule.deny {
                    *next = None;
                }
                self
            }
        }

        impl<S> Layer<S> for $ty {
            type Service = RequireService<S>;

            fn layer(&self, inner: S) -> Self::Service {
                RequireService::new(inner, self.rule.clone())
            }
        }
    };
}

/// A guard for routes only a logged-in user may reach ([`crate::Session::login`]). Put it
/// inside the [`crate::SessionLayer`]; a refused request never reaches the handler.
///
/// - [`RequireUser::api`]: `401` with `{"error":"login_required"}` (JSON APIs).
/// - [`RequireUser::redirect_to`]: `303 See Other` to the login page, with the page asked
///   for in `?next=` (a relative path, percent-encoded; left out when the request's path is
///   not a [safe](crate::auth::safe_next) one). Check `next` with
///   [`safe_next`](crate::auth::safe_next) before redirecting to it after the login.
///
/// Refusals are `Cache-Control: no-store`. A store outage answers 503, never a redirect to
/// the login page (the user is not logged out by it). The guard reads the session once;
/// the handler's own reads of it cost nothing more.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use axum::{Router, routing::get};
/// use sessionwarden::{MemoryStore, SessionLayer, auth::{CurrentUser, RequireUser}};
/// use sessionwarden::{keyring::{Keyring, KeySet}, Timestamp};
///
/// async fn settings(user: CurrentUser) -> String { format!("settings of {}", user.name()) }
/// async fn api_me(user: CurrentUser) -> String { user.into_name() }
///
/// let pages = Router::new()
///     .route("/settings", get(settings))
///     .route_layer(RequireUser::redirect_to("/login"));
/// let api = Router::new()
///     .route("/api/me", get(api_me))
///     .route_layer(RequireUser::api());
/// let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0))?);
/// let app: Router = pages.merge(api).layer(SessionLayer::new(MemoryStore::default(), keyring));
/// # Ok::<(), sessionwarden::keyring::KeyringError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a guard does nothing until it is added with `.layer` or `.route_layer`"]
pub struct RequireUser {
    rule: Rule,
}

impl RequireUser {
    /// Refuses requests without a logged-in user with `401` and `{"error":"login_required"}`.
    pub fn api() -> Self {
        Self { rule: Rule { need: Need::User, deny: Deny::Api } }
    }

    /// Refuses requests without a logged-in user with `303 See Other` to `login_url`, adding
    /// `next=<the page asked for>` to its query.
    ///
    /// # Panics
    /// If `login_url` is empty or not visible ASCII. Use [`RequireUser::try_redirect_to`] for
    /// a URL from configuration.
    pub fn redirect_to(login_url: impl Into<String>) -> Self {
        Self::try_redirect_to(login_url).expect("a login URL of visible ASCII")
    }

    /// As [`RequireUser::redirect_to`].
    ///
    /// # Errors
    /// [`InvalidLoginUrl`] if `login_url` is empty or not visible ASCII.
    pub fn try_redirect_to(login_url: impl Into<String>) -> Result<Self, InvalidLoginUrl> {
        let to = checked(login_url.into())?;
        Ok(Self {
            rule: Rule { need: Need::User, deny: Deny::Redirect { to, next: Some(DEFAULT_NEXT_PARAM) } },
        })
    }
}

deny_builders!(RequireUser);

/// A guard for sensitive routes (changing a password, ending sessions, paying): the user must
/// have logged in or re-authenticated ([`crate::Session::reauthenticated`]) within `window`.
/// A remembered login ([`crate::Session::login_remembered`]) may be weeks old; this is what
/// keeps a borrowed laptop from changing the account's password.
///
/// Without a logged-in user it refuses as [`RequireUser`] does (`login_required`); with a
/// login older than the window:
///
/// - [`RequireRecentAuth::api`]: `401` with `{"error":"reauth_required"}`;
/// - [`RequireRecentAuth::redirect_to`]: `303 See Other` to the re-authentication page, with
///   `?next=` as for [`RequireUser`].
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use axum::{Router, routing::post};
/// use sessionwarden::{DEFAULT_REAUTH_WINDOW, auth::RequireRecentAuth};
///
/// async fn change_password() -> &'static str { "changed" }
///
/// let sensitive: Router = Router::new()
///     .route("/account/password", post(change_password))
///     .route_layer(RequireRecentAuth::api(DEFAULT_REAUTH_WINDOW));
/// # let _ = sensitive;
/// ```
#[derive(Debug, Clone)]
#[must_use = "a guard does nothing until it is added with `.layer` or `.route_layer`"]
pub struct RequireRecentAuth {
    rule: Rule,
}

impl RequireRecentAuth {
    /// Refuses with `401` and `{"error":"login_required"}` or `{"error":"reauth_required"}`.
    pub fn api(window: Duration) -> Self {
        Self { rule: Rule { need: Need::RecentAuth(window), deny: Deny::Api } }
    }

    /// Refuses with `303 See Other` to `reauth_url`, adding `next=<the page asked for>`.
    ///
    /// # Panics
    /// If `reauth_url` is empty or not visible ASCII; see [`RequireRecentAuth::try_redirect_to`].
    pub fn redirect_to(window: Duration, reauth_url: impl Into<String>) -> Self {
        Self::try_redirect_to(window, reauth_url).expect("a re-authentication URL of visible ASCII")
    }

    /// As [`RequireRecentAuth::redirect_to`].
    ///
    /// # Errors
    /// [`InvalidLoginUrl`] if `reauth_url` is empty or not visible ASCII.
    pub fn try_redirect_to(window: Duration, reauth_url: impl Into<String>) -> Result<Self, InvalidLoginUrl> {
        let to = checked(reauth_url.into())?;
        Ok(Self {
            rule: Rule {
                need: Need::RecentAuth(window),
                deny: Deny::Redirect { to, next: Some(DEFAULT_NEXT_PARAM) },
            },
        })
    }
}

deny_builders!(RequireRecentAuth);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_urls_are_checked() {
        assert!(RequireUser::try_redirect_to("/login").is_ok());
        assert!(RequireUser::try_redirect_to("https://sso.example/login?app=1").is_ok());
        assert_eq!(RequireUser::try_redirect_to("").unwrap_err(), InvalidLoginUrl);
        assert_eq!(RequireUser::try_redirect_to("/login\r\nSet-Cookie: a=b").unwrap_err(), InvalidLoginUrl);
        assert_eq!(RequireUser::try_redirect_to("/log in").unwrap_err(), InvalidLoginUrl);
        assert!(RequireRecentAuth::try_redirect_to(Duration::from_secs(60), "/caf\u{e9}").is_err());
    }
}
