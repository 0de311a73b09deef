//! Black-box tests of scimd over HTTP: one test binary, the real app, a fresh database per
//! test, on SQLite always and on PostgreSQL when `SCIMD_TEST_DATABASE_URL` is set.

// A test binary: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

mod activity;
mod admin;
mod architecture;
mod auth;
mod bulk;
mod cli;
mod compatibility;
mod console;
mod counts;
mod custom_attributes;
mod deadlines;
mod discovery;
mod event_streams;
mod events;
mod expiry;
mod faults;
mod federation;
mod filters;
mod groups;
mod hostile;
mod isolation;
mod limits;
mod oauth;
mod patch;
mod query_plans;
mod requests;
mod round_trips;
mod users;
mod webhooks;
