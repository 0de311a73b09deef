//! sea-orm entities, one file per table. Conversions into model types live beside each entity.

pub mod access_token;
pub mod activity_actor;
pub mod activity_batch;
pub mod activity_body;
pub mod activity_count;
pub mod activity_drop;
pub mod api_key;
pub mod audit_event;
pub mod console_session;
pub mod event;
pub mod event_stream_ack;
pub mod expiry_notice;
pub mod group;
pub mod group_member;
pub mod machine;
pub mod resource_count;
pub mod server_key;
pub mod tenant;
pub mod user;
pub mod webhook_attempt;
pub mod webhook_endpoint;
pub mod webhook_resend;
