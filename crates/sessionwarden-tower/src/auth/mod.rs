//! Login helpers, as Flask-Login and axum-login users expect them: the logged-in user as an
//! extractor, guards for routes that need one, remember-me, and flash messages.
//!
//! - [`CurrentUser`] — the user [`Session::login`](crate::Session::login) recorded; `401`
//!   without one, `Option<CurrentUser>` where visitors are welcome.
//! - [`RequireUser`] — a tower layer for whole routers: `RequireUser::api()` answers `401`
//!   with `{"error":"login_required"}`, `RequireUser::redirect_to("/login")` a `303` to the
//!   login page with the page asked for in `?next=`.
//! - [`RequireRecentAuth`] — the same for sensitive routes, which also need the login (or a
//!   [re-authentication](crate::Session::reauthenticated)) to be recent.
//! - [`safe_next`] — the check a login handler applies to `next` before redirecting there:
//!   relative paths only, never another site (no open redirect).
//! - Remember-me: [`Session::login_remembered`](crate::Session::login_remembered), allowed by
//!   [`SessionLayer::with_remember_me`](crate::SessionLayer::with_remember_me).
//! - Flash messages: [`Session::flash`](crate::Session::flash) queues one, the [`Flashes`]
//!   extractor takes them out (shown once), as Flask's `flash` and `get_flashed_messages`.
//!
//! ```
//! # extern crate sessionwarden_tower as sessionwarden;
//! use std::time::Duration;
//! use axum::{Form, Router, extract::Query, response::Redirect, routing::get};
//! use sessionwarden::auth::{CurrentUser, FlashLevel, Flashes, RequireUser, safe_next};
//! use sessionwarden::{LoginMethod, MemoryStore, Session, SessionLayer};
//! use sessionwarden::{keyring::{Keyring, KeySet}, Timestamp};
//!
//! #[derive(serde::Deserialize)]
//! struct Login { username: String, password: String, remember: Option<String>, next: Option<String> }
//!
//! async fn login(session: Session, Form(form): Form<Login>) -> Result<Redirect, sessionwarden::Error> {
//!     if form.password != "wonderland-42" {  // check a password hash in a real app
//!         session.flash(FlashLevel::Error, "Wrong user name or password").await?;
//!         return Ok(Redirect::to("/login"));
//!     }
//!     if form.remember.is_some() {
//!         let two_weeks = Duration::from_secs(14 * 86_400);
//!         session.login_remembered(&form.username, LoginMethod::Password, two_weeks).await?;
//!     } else {
//!         session.login(&form.username, LoginMethod::Password).await?;
//!     }
//!     Ok(Redirect::to(form.next.as_deref().and_then(safe_next).unwrap_or("/")))
//! }
//!
//! async fn login_page(flashes: Flashes) -> String {
//!     flashes.iter().map(|f| format!("{}: {}\n", f.level, f.message)).collect()
//! }
//!
//! async fn settings(user: CurrentUser) -> String {
//!     format!("Settings of {}", user.name())
//! }
//!
//! let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0))?);
//! let app: Router = Router::new()
//!     .route("/settings", get(settings))
//!     .route_layer(RequireUser::redirect_to("/login"))
//!     .route("/login", get(login_page).post(login))
//!     .layer(
//!         SessionLayer::new(MemoryStore::default(), keyring)
//!             .with_remember_me(Duration::from_secs(30 * 86_400)),
//!     );
//! # Ok::<(), sessionwarden::keyring::KeyringError>(())
//! ```

mod current_user;
mod flash;
mod guard;
mod next;

pub use self::current_user::CurrentUser;
pub use self::flash::{FLASH_KEY, Flash, FlashLevel, Flashes, MAX_FLASH_LEN, MAX_FLASHES};
pub use self::guard::{InvalidLoginUrl, RequireRecentAuth, RequireService, RequireUser};
pub use self::next::{MAX_NEXT_LEN, safe_next};
