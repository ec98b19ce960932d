//! The facade's features decide what is compiled: each feature set's dependency tree holds
//! what it needs and none of what it does not (no JWT stack for a sessions-only app, no
//! second SQL driver, no cache unless asked for).
#![allow(clippy::unwrap_used, missing_docs)]

use std::process::Command;

/// The normal (non-dev, non-build) dependency tree of the facade under `features`, as crate names.
fn tree(features: &str) -> Vec<String> {
    tree_of("sessionwarden", Some(features))
}

/// The normal dependency tree of `package` (default features when `features` is `None`).
fn tree_of(package: &str, features: Option<&str>) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let out = Command::new(cargo)
        .args(["tree", "--manifest-path", manifest, "-p", package, "-e", "normal", "--prefix", "none"])
        .args(features.map_or_else(Vec::new, |f| vec!["--no-default-features", "--features", f]))
        .args(["--locked", "--offline"])
        .output()
        .expect("cargo tree runs");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut names: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    names.sort();
    names.dedup();
    names
}

fn assert_absent(names: &[String], features: &str, absent: &[&str]) {
    for a in absent {
        assert!(!names.iter().any(|n| n == a), "--features {features} pulls in {a}");
    }
}

fn assert_present(names: &[String], features: &str, present: &[&str]) {
    for p in present {
        assert!(names.iter().any(|n| n == p), "--features {features} lacks {p}");
    }
}

const JWT_STACK: &[&str] = &["sessionwarden-jwt", "jsonwebtoken", "rsa", "p384", "ed25519-dalek"];

struct Case {
    features: &'static str,
    present: &'static [&'static str],
    absent: &'static [&'static str],
}

#[test]
fn each_feature_set_compiles_only_what_it_needs() {
    let cases = [
        Case {
            features: "csrf,sqlite",
            present: &["sessionwarden-core", "sessionwarden-tower", "sessionwarden-sql", "sqlx-sqlite"],
            absent: &[
                "sqlx-postgres",
                "redis",
                "moka",
                "sessionwarden-flask",
                "tower-http",
                "ua-parser",
                "regex",
            ],
        },
        Case {
            features: "csrf,redis",
            present: &["sessionwarden-redis", "redis"],
            absent: &[
                "sqlx-core",
                "sqlx-sqlite",
                "sqlx-postgres",
                "moka",
                "sessionwarden-flask",
                "tower-http",
            ],
        },
        Case {
            features: "csrf,postgres",
            present: &["sqlx-postgres"],
            absent: &["sqlx-sqlite", "redis", "moka"],
        },
        Case { features: "redis,cache", present: &["moka", "redis"], absent: &["sqlx-core"] },
        // Redis alone, as a cache-less fleet app would take it: no JWT stack, so no `rsa`.
        Case { features: "redis", present: &["redis"], absent: &["sqlx-core", "moka"] },
        Case { features: "flask", present: &["sessionwarden-flask"], absent: &["sqlx-core"] },
        Case { features: "sqlite,jwt", present: &["sessionwarden-jwt", "jsonwebtoken"], absent: &["redis"] },
        Case {
            features: "csrf",
            present: &["sessionwarden-tower", "form_urlencoded"],
            absent: &["sqlx-core", "redis", "moka"],
        },
        Case {
            features: "",
            present: &["sessionwarden-tower"],
            absent: &["form_urlencoded", "moka", "sqlx-core", "redis", "governor"],
        },
        // The in-process limiter, without governor's optional dashmap, rand or quanta.
        Case {
            features: "throttle",
            present: &["governor"],
            absent: &["dashmap", "rand", "quanta", "sqlx-core", "redis", "moka"],
        },
    ];
    for c in &cases {
        let names = tree(c.features);
        assert_present(&names, c.features, c.present);
        assert_absent(&names, c.features, c.absent);
        if !c.features.contains("jwt") {
            assert_absent(&names, c.features, JWT_STACK);
        }
    }
}

#[test]
fn the_core_has_no_http_stack() {
    let names = tree_of("sessionwarden-core", None);
    assert_present(&names, "(core)", &["serde", "sha2"]);
    assert_absent(
        &names,
        "(core)",
        &[
            "http",
            "tower",
            "tower-layer",
            "axum-core",
            "hyper",
            "tokio",
            "cookie",
            "sqlx-core",
            "redis",
            "moka",
        ],
    );
}

/// A crate outside the workspace that depends on the facade alone, with `features = ["redis"]`:
/// it resolves and type-checks offline from what the workspace fetched (`cargo check`, not a
/// full build: codegen proves nothing more about the tree and takes minutes), and its tree
/// holds no JWT crate (no RSA either: jsonwebtoken's crypto backend pulls in `rsa`).
#[test]
fn a_downstream_redis_app_builds_offline_without_the_jwt_stack() {
    // Under the target directory, so a second run reuses the first's check artifacts; its own
    // target directory, because the workspace's is locked while this test runs.
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("downstream-redis-app");
    let app = base.join("app");
    std::fs::create_dir_all(app.join("src")).unwrap();
    let facade = env!("CARGO_MANIFEST_DIR");
    std::fs::write(
        app.join("Cargo.toml"),
        format!(
            "[package]\nname = \"downstream-redis-app\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
             [dependencies]\nsessionwarden = {{ path = {facade:?}, features = [\"redis\"] }}\n\n\
             # Not a member of any workspace around it.\n[workspace]\n"
        ),
    )
    .unwrap();
    std::fs::write(
        app.join("src/main.rs"),
        "use sessionwarden::{Backend, SessionLayer, Timestamp, keyring::{KeySet, Keyring}};\n\
         fn main() {\n    \
         let store: Option<sessionwarden::redis::RedisStore> = None;\n    \
         let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0)).unwrap());\n    \
         let _layer = store.map(|s| SessionLayer::new(Backend::Server(std::sync::Arc::new(s)), keyring));\n\
         }\n",
    )
    .unwrap();
    // The workspace's lockfile: the versions the workspace was tested with, all fetched already.
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock"), app.join("Cargo.lock")).unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let run = |args: &[&str]| {
        let out = Command::new(&cargo)
            .args(args)
            .current_dir(&app)
            .env("CARGO_TARGET_DIR", base.join("target"))
            .env_remove("RUSTFLAGS")
            .output()
            .expect("cargo runs");
        assert!(
            out.status.success(),
            "cargo {} failed in a downstream crate:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let tree = run(&["tree", "--offline", "-e", "normal", "--prefix", "none"]);
    let names: Vec<String> =
        tree.lines().filter_map(|l| l.split_whitespace().next().map(str::to_owned)).collect();
    assert_present(&names, "redis (downstream)", &["sessionwarden", "sessionwarden-redis", "redis"]);
    assert_absent(&names, "redis (downstream)", JWT_STACK);
    assert_absent(&names, "redis (downstream)", &["jsonwebtoken", "rsa", "p256", "sqlx-core"]);
    run(&["check", "--offline", "--quiet"]);
}
