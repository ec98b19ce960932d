//! The session layer suite over HTTP on SQLite and PostgreSQL: what a user of the layer sees,
//! including 100 concurrent writers on one session and a store outage answered with 503.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use sessionwarden_sql::{PostgresStore, SqliteStore};
use sessionwarden_test::env::{postgres_url, service_missing};
use sessionwarden_tower::{Backend, SessionStore};

async fn sqlite() -> Backend {
    let dir = std::env::temp_dir()
        .join(format!("sw-layer-sqlite-{}", sessionwarden_tower::SessionId::generate().store_key().to_hex()));
    std::fs::create_dir_all(&dir).unwrap();
    let store: Arc<dyn SessionStore> = Arc::new(SqliteStore::open(dir.join("sessions.db")).await.unwrap());
    Backend::Server(store)
}

async fn postgres() -> Backend {
    match PostgresStore::connect(&postgres_url()).await {
        Ok(store) => Backend::Server(Arc::new(store)),
        Err(e) => {
            service_missing("PostgreSQL", &e.to_string());
            panic!("PostgreSQL unavailable ({e})");
        }
    }
}

sessionwarden_test::layer_conformance!(sqlite_layer, sqlite);
sessionwarden_test::layer_conformance!(postgres_layer, postgres);
sessionwarden_test::login_conformance!(sqlite_login, sqlite);
sessionwarden_test::login_conformance!(postgres_login, postgres);
