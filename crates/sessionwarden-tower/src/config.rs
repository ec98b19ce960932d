//! Cookie attributes and session lifetimes, secure by default.

use std::time::Duration;

pub use cookie::SameSite;
pub use sessionwarden_core::Expiry;

/// What `Cache-Control` a response that touched a session gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheControl {
    /// `Cache-Control: private`: shared caches must not store the response.
    Private,
    /// `Cache-Control: no-store`: no cache stores the response at all.
    NoStore,
}

/// The session cookie's name and attributes.
///
/// The defaults are the strict ones: `__Host-session; Secure; HttpOnly; SameSite=Lax; Path=/`.
/// The `__Host-` prefix makes browsers refuse the cookie unless it is `Secure`, has
/// `Path=/` and no `Domain`, so a sibling subdomain cannot plant or shadow it.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::CookieConfig;
/// let cfg = CookieConfig::default();
/// assert_eq!(cfg.name(), "__Host-session");
/// let dev = CookieConfig::default().insecure_allow_http();
/// assert_eq!(dev.name(), "session");
/// assert!(!dev.is_secure());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieConfig {
    name: String,
    secure: bool,
    http_only: bool,
    same_site: SameSite,
    domain: Option<String>,
    cache_control: CacheControl,
}

impl Default for CookieConfig {
    fn default() -> Self {
        Self {
            // `__Host-` pins the cookie to this origin and requires Secure + Path=/.
            name: "__Host-session".into(),
            secure: true,
            http_only: true,
            // Lax: sent on top-level navigations (links keep working), not on cross-site
            // subresource or POST requests. Strict would log users out on every inbound link.
            same_site: SameSite::Lax,
            domain: None,
            cache_control: CacheControl::Private,
        }
    }
}

impl CookieConfig {
    /// Sets the cookie name. A name starting with `__Host-` keeps the prefix's rules
    /// (`Secure`, `Path=/`, no `Domain`); [`CookieConfig::insecure_allow_http`] removes it.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets `SameSite`. `None` also requires `Secure` in browsers.
    #[must_use]
    pub fn with_same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// Sets `Cache-Control` for responses that touched a session.
    #[must_use]
    pub fn with_cache_control(mut self, cache_control: CacheControl) -> Self {
        self.cache_control = cache_control;
        self
    }

    /// Scopes the cookie to `domain` and its subdomains. This drops the `__Host-` prefix,
    /// which forbids `Domain`; every subdomain can then read and set the cookie.
    #[must_use]
    pub fn insecure_with_domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self.strip_host_prefix();
        self
    }

    /// For plain-http development: no `Secure`, and no `__Host-` prefix (which requires it).
    #[must_use]
    pub fn insecure_allow_http(mut self) -> Self {
        self.secure = false;
        self.strip_host_prefix();
        self
    }

    /// Lets page scripts read the cookie (no `HttpOnly`). Any XSS then steals sessions.
    #[must_use]
    pub fn insecure_allow_script_access(mut self) -> Self {
        self.http_only = false;
        self
    }

    fn strip_host_prefix(&mut self) {
        if let Some(rest) = self.name.strip_prefix("__Host-") {
            self.name = rest.to_owned();
        }
    }

    /// The cookie's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the cookie is `Secure`.
    #[must_use]
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// Whether the cookie is `HttpOnly`.
    #[must_use]
    pub fn is_http_only(&self) -> bool {
        self.http_only
    }

    /// The `SameSite` attribute.
    #[must_use]
    pub fn same_site(&self) -> SameSite {
        self.same_site
    }

    /// The `Domain` attribute, if any.
    #[must_use]
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// The `Cache-Control` mode.
    #[must_use]
    pub fn cache_control(&self) -> CacheControl {
        self.cache_control
    }

    /// Builds the `Set-Cookie` value carrying `value`; `max_age` makes it persistent.
    pub(crate) fn build(&self, value: String, max_age: Option<Duration>) -> cookie::Cookie<'static> {
        let mut c = cookie::Cookie::new(self.name.clone(), value);
        c.set_path("/");
        c.set_secure(self.secure);
        c.set_http_only(self.http_only);
        c.set_same_site(self.same_site);
        if let Some(domain) = &self.domain {
            c.set_domain(domain.clone());
        }
        if let Some(max_age) = max_age {
            let secs = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
            c.set_max_age(cookie::time::Duration::seconds(secs));
        }
        c
    }

    /// The `Set-Cookie` that removes the cookie from the browser.
    pub(crate) fn removal(&self) -> cookie::Cookie<'static> {
        let mut c = self.build(String::new(), None);
        c.set_max_age(cookie::time::Duration::ZERO);
        c.set_expires(cookie::time::OffsetDateTime::UNIX_EPOCH);
        c
    }
}
