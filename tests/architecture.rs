//! The crate graph stays one-way (docs/ARCHITECTURE.md): the front doors (scim-api,
//! scim-admin-api, scim-console) depend on no other front door and never on sea-orm or the
//! connection layer; the store holds no service code; the connection layer (scim-db) knows no
//! repository, no model and nothing above it; the service imports no HTTP crate and no mailer.

use std::collections::{HashMap, HashSet};
use std::process::Command;

use serde_json::Value;

/// Each workspace package and the names of its declared dependencies.
fn declared_dependencies() -> HashMap<String, HashSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|d| d["kind"].is_null()) // normal dependencies, not dev or build
                .map(|d| d["name"].as_str().expect("name").to_owned())
                .collect();
            (p["name"].as_str().expect("name").to_owned(), deps)
        })
        .collect()
}

#[test]
fn the_crate_graph_is_one_way() {
    let deps = declared_dependencies();
    let of = |name: &str| {
        deps.get(name)
            .unwrap_or_else(|| panic!("no workspace package {name}"))
    };
    let doors = ["scim-api", "scim-admin-api", "scim-console"];
    for door in doors {
        for other in doors.iter().filter(|d| **d != door) {
            assert!(!of(door).contains(*other), "{door} depends on {other}");
        }
        for forbidden in ["sea-orm", "sea-query", "rusqlite", "scim-db"] {
            assert!(
                !of(door).contains(forbidden),
                "{door} depends on {forbidden}"
            );
        }
    }
    for upper in [
        "scim-service",
        "scim-auth",
        "scim-api",
        "scim-admin-api",
        "scim-console",
        "scim-expiry",
    ] {
        assert!(
            !of("scim-store").contains(upper),
            "scim-store depends on {upper}"
        );
    }
    for forbidden in [
        "actix-web",
        "lettre",
        "scim-expiry",
        "scim-api",
        "scim-admin-api",
        "scim-console",
    ] {
        assert!(
            !of("scim-service").contains(forbidden),
            "scim-service depends on {forbidden}"
        );
    }
    // The connection layer is the floor: no repository, no model, nothing above it.
    for upper in [
        "scim-model",
        "scim-filter-parser",
        "scim-store",
        "scim-service",
        "scim-auth",
        "scim-api",
        "scim-admin-api",
        "scim-console",
        "scim-expiry",
        "actix-web",
    ] {
        assert!(!of("scim-db").contains(upper), "scim-db depends on {upper}");
    }
    assert!(
        of("scim-store").contains("scim-db") && !of("scim-store").contains("rusqlite"),
        "scim-store reaches the database through scim-db only"
    );
    assert!(
        !of("scim-auth").contains("scim-service"),
        "scim-auth sits below the service"
    );
    // The doors that change things go through the service.
    for door in ["scim-admin-api", "scim-console", "scimd"] {
        assert!(
            of(door).contains("scim-service"),
            "{door} does not use scim-service"
        );
    }
}
