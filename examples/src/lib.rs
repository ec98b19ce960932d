//! Shared bits of the examples: where they listen and how they get their keys.

use sessionwarden::keyring::{KeySet, Keyring};
use sessionwarden::{Clock as _, SystemClock};

/// The keyring: from `SECRET_KEY` (at least 32 bytes, Flask's variable) if set, else a
/// fresh random key (sessions then end when the program stops).
///
/// # Panics
/// If `SECRET_KEY` is set but shorter than 32 bytes — the message says so.
#[must_use]
pub fn keyring() -> Keyring {
    match KeySet::from_env() {
        Ok(Some(set)) => Keyring::new(set),
        Ok(None) => Keyring::new(KeySet::generate(SystemClock.now()).expect("OS random number generator")),
        Err(e) => panic!("{e}"),
    }
}

/// Serves `app` on 127.0.0.1:`port` until Ctrl-C.
///
/// # Panics
/// If the port is taken.
pub async fn serve(app: axum::Router, port: u16) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("port is free");
    println!("listening on http://127.0.0.1:{port}");
    axum::serve(listener, app).await.expect("server runs");
}
