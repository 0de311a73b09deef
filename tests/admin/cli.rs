//! `scimd key list|create|revoke|disable|enable|rotate|delete`: the real binary against a
//! SQLite file, checked through the same authenticator the server uses.

use std::process::{Command, Output};

use chrono::Utc;
use scim_auth::Authenticator;
use scim_store::Store;

const BIN: &str = env!("CARGO_BIN_EXE_scimd");

fn scimd(url: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SCIMD_DATABASE_URL", url)
        .env("SCIMD_LOG", "warn")
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

async fn works(url: &str, token: &str) -> bool {
    let store = Store::connect(url, &Default::default()).await.unwrap();
    let auth = Authenticator::new(store.clone());
    let ok = auth
        .authenticate(Some(&format!("Bearer {token}")), Utc::now())
        .await
        .is_ok();
    store.close().await.unwrap();
    ok
}

fn status_of(list: &str, name: &str) -> String {
    list.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or_else(|| panic!("{name} not in {list}"))
        .to_owned()
}

#[actix_web::test]
async fn the_key_cli_mirrors_the_admin_api() {
    let path =
        std::env::temp_dir().join(format!("scimd-keycli-{}.db", uuid::Uuid::new_v4().simple()));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    ok(&scimd(&url, &["tenant", "create", "acme"]));
    let t = ["--tenant", "acme", "--name"];
    let token = ok(&scimd(
        &url,
        &[
            &["key", "create"],
            &t[..],
            &["entra", "--scope", "scim", "--permissions", "scim:read"],
        ]
        .concat(),
    ))
    .trim()
    .to_owned();
    assert!(token.starts_with("scimd_scim_"));
    assert!(works(&url, &token).await);

    let list = ok(&scimd(&url, &["key", "list", "--tenant", "acme"]));
    assert!(!list.contains(&token), "list never shows a value");
    assert_eq!(status_of(&list, "entra"), "active");
    // A SCIM key is an OAuth client: its client id is listed, in the table and in JSON.
    let json: serde_json::Value = serde_json::from_str(&ok(&scimd(
        &url,
        &["key", "list", "--tenant", "acme", "--json"],
    )))
    .unwrap();
    let client_id = json[0]["clientId"].as_str().expect("clientId").to_owned();
    assert!(uuid::Uuid::parse_str(&client_id).is_ok(), "{client_id}");
    assert!(
        list.contains("CLIENT ID") && list.contains(&client_id),
        "{list}"
    );

    ok(&scimd(
        &url,
        &[&["key", "disable"], &t[..], &["entra"]].concat(),
    ));
    assert!(!works(&url, &token).await);
    assert_eq!(
        status_of(
            &ok(&scimd(&url, &["key", "list", "--tenant", "acme"])),
            "entra"
        ),
        "inactive"
    );
    ok(&scimd(
        &url,
        &[&["key", "enable"], &t[..], &["entra"]].concat(),
    ));
    assert!(works(&url, &token).await, "same value after re-enabling");

    let rotated = ok(&scimd(
        &url,
        &[
            &["key", "rotate"],
            &t[..],
            &["entra", "--grace-minutes", "10"],
        ]
        .concat(),
    ))
    .trim()
    .to_owned();
    assert!(rotated.starts_with("scimd_scim_") && rotated != token);
    let after: serde_json::Value = serde_json::from_str(&ok(&scimd(
        &url,
        &["key", "list", "--tenant", "acme", "--json"],
    )))
    .unwrap();
    assert_eq!(
        after[0]["clientId"],
        client_id.as_str(),
        "stable across rotation"
    );
    assert!(works(&url, &token).await, "old value in grace");
    assert!(works(&url, &rotated).await);

    ok(&scimd(
        &url,
        &[&["key", "revoke"], &t[..], &["entra"]].concat(),
    ));
    assert!(!works(&url, &rotated).await && !works(&url, &token).await);
    assert_eq!(
        status_of(
            &ok(&scimd(&url, &["key", "list", "--tenant", "acme"])),
            "entra"
        ),
        "revoked"
    );
    let again = scimd(&url, &[&["key", "enable"], &t[..], &["entra"]].concat());
    assert!(!again.status.success(), "a revoked key cannot be enabled");
    assert!(String::from_utf8_lossy(&again.stderr).contains("revoked"));

    ok(&scimd(
        &url,
        &[&["key", "delete"], &t[..], &["entra"]].concat(),
    ));
    assert!(!ok(&scimd(&url, &["key", "list", "--tenant", "acme"])).contains("entra"));
    for args in [
        vec!["key", "delete", "--tenant", "acme", "--name", "entra"],
        vec!["key", "revoke", "--tenant", "nope", "--name", "entra"],
        vec![
            "key",
            "create",
            "--tenant",
            "acme",
            "--name",
            "x",
            "--scope",
            "scim",
            "--permissions",
            "tenant.apiKey:read",
        ],
    ] {
        let out = scimd(&url, &args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).trim().is_empty(),
            "{args:?}"
        );
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[actix_web::test]
async fn key_federation_set_show_clear() {
    let path =
        std::env::temp_dir().join(format!("scimd-fedcli-{}.db", uuid::Uuid::new_v4().simple()));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    ok(&scimd(&url, &["tenant", "create", "acme"]));
    let k = ["--tenant", "acme", "--name", "entra"];
    ok(&scimd(
        &url,
        &[&["key", "create"], &k[..], &["--scope", "scim"]].concat(),
    ));
    let issuer = "https://login.microsoftonline.com/t/v2.0";
    let set = |jwks: &str| {
        scimd(
            &url,
            &[
                &["key", "federation", "set"],
                &k[..],
                &[
                    "--issuer",
                    issuer,
                    "--jwks-uri",
                    jwks,
                    "--subject",
                    "object-id",
                ],
                &["--audiences", "api://AzureADTokenExchange,api://app"],
            ]
            .concat(),
        )
    };
    // A host outside the default allow-list (login.microsoftonline.com) is refused.
    let refused = set("https://evil.example/keys");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("SCIMD_FEDERATION_JWKS_HOSTS"));
    ok(&set(
        "https://login.microsoftonline.com/t/discovery/v2.0/keys",
    ));
    let shown: serde_json::Value = serde_json::from_str(&ok(&scimd(
        &url,
        &[&["key", "federation", "show"], &k[..]].concat(),
    )))
    .unwrap();
    assert_eq!(shown["issuer"], issuer);
    assert_eq!(
        shown["audiences"],
        serde_json::json!(["api://AzureADTokenExchange", "api://app"])
    );
    ok(&scimd(
        &url,
        &[&["key", "federation", "clear"], &k[..]].concat(),
    ));
    let gone = scimd(&url, &[&["key", "federation", "show"], &k[..]].concat());
    assert!(!gone.status.success());
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
