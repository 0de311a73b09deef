//! The request deadline (`SCIMD_REQUEST_TIMEOUT_SECS`): a request that has not begun a write
//! by then is answered `503` with `Retry-After` and changes nothing; a write that has begun runs
//! to its commit and answers what it did (so a client retrying after a timeout never meets its
//! own committed twin as a `409`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;

use crate::common::{assert_scim_error, backends, spawn_with, user_body, Backend};

fn one_second() -> HashMap<String, String> {
    [("SCIMD_REQUEST_TIMEOUT_SECS".to_owned(), "1".to_owned())].into()
}

#[actix_web::test]
async fn a_write_that_cannot_begin_by_the_deadline_is_503_and_changes_nothing() {
    for backend in backends() {
        let Backend::Sqlite = backend else { continue };
        let app = spawn_with(backend, one_second()).await;
        // Another process holds SQLite's write lock for 2.5 s.
        let path = app.sqlite_path().expect("a SQLite database");
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let holder = std::thread::spawn(move || {
            let c = rusqlite::Connection::open(path).unwrap();
            c.execute_batch("BEGIN IMMEDIATE").unwrap();
            locked_tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(2500));
            c.execute_batch("COMMIT").unwrap();
        });
        locked_rx.recv().unwrap();
        let started = Instant::now();
        let r = app
            .post("/scim/v2/Users", user_body("late@example.com"))
            .await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert_scim_error(&r, 503, None);
        assert_eq!(r.header("retry-after"), Some("5"));
        holder.join().unwrap();

        let r = app
            .get("/scim/v2/Users?filter=userName%20eq%20%22late@example.com%22")
            .await;
        assert_eq!(r.body["totalResults"], 0, "{}", r.body);
        // The retry succeeds.
        let r = app
            .post("/scim/v2/Users", user_body("late@example.com"))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
}

#[actix_web::test]
async fn a_begun_write_runs_past_the_deadline_and_answers_what_it_did() {
    for backend in backends() {
        let Backend::Postgres(_) = &backend else {
            continue;
        };
        let app = spawn_with(backend, one_second()).await;
        // Another session blocks inserts into `users` for 2.5 s; the create has begun its
        // transaction and waits inside it.
        let mut holder = std::process::Command::new("psql")
            .args([
                app.db_url(),
                "-qc",
                "BEGIN; LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE; SELECT pg_sleep(2.5); COMMIT;",
            ])
            .spawn()
            .expect("psql");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let started = Instant::now();
        let r = app
            .post("/scim/v2/Users", user_body("slow@example.com"))
            .await;
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert!(holder.wait().unwrap().success());
        let r = app
            .get("/scim/v2/Users?filter=userName%20eq%20%22slow@example.com%22")
            .await;
        assert_eq!(r.body["totalResults"], 1, "{}", r.body);
    }
}
