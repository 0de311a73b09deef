//! Key expiry for scimd (DESIGN §3): keys live a year; the tenant's admin e-mail is warned 30,
//! 7 and 1 day(s) before a key expires and told when it has expired; keys are purged 90 days
//! after expiry.
//!
//! Scheduled work is a pure pass plus a dumb loop: [`sweep`] queues the warnings that are due
//! and purges what is past retention, [`deliver`] sends queued warnings over SMTP; both take the
//! time as an argument, are idempotent and safe to run in many processes against one database
//! (the store claims work with unique indexes and `FOR UPDATE SKIP LOCKED`). [`run`] calls them
//! on an interval until shutdown. Mails never contain a key's value or its hint.

mod delivery;
mod mail;
mod schedule;
mod sweep;

pub use delivery::{deliver, DeliveryPolicy, DeliveryReport, MailError, MailTransport, SmtpMailer};
pub use mail::{render, RenderedMail};
pub use schedule::{run, Schedule};
pub use sweep::{sweep, ExpiryPolicy, SweepReport};
