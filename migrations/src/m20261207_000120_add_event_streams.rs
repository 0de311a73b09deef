//! RFC 9967 event streams (issue 20): Security Event Tokens for a tenant's provisioning events,
//! pushed to a receiver (RFC 8935) or polled by it (RFC 8936).
//!
//! A stream is a destination like a webhook endpoint: it follows the tenant's events in
//! sequence order from `position`, is claimed by one delivery process at a time, backs off
//! after a failure and has its attempts recorded. So it is a row of `webhook_endpoints` with
//! `kind = 'set'` rather than a table that would repeat every delivery column:
//! - `delivery`: `push` (sent to `url` with `secret` as the receiver's bearer token, empty when
//!   the receiver wants none) or `poll` (fetched by the receiver, authenticated by the secret
//!   whose SHA-256 is `poll_secret_hash`; `url` and `secret` are empty);
//! - `audience`: the SETs' `aud`; `format`: `notice` (changed attribute names) or `full` (the
//!   resource after the change).
//!
//! A polled stream's `position` is the last event acknowledged with every one before it;
//! `event_stream_acks` holds acknowledgements above it until the gap below them closes.
//!
//! `webhook_resends`: events an admin asked to send again to one destination ("send again",
//! for one event or a time range), sent by the delivery loop before the destination's next
//! new event and removed once acknowledged.
//!
//! `expiry_notices.kind`: the mail outbox also carries `destination_failing` notices (a webhook
//! endpoint or pushed stream failing for a day: `api_key_id` is the destination's id,
//! `key_label` its URL, `key_scope` `webhook` or `event_stream`, `key_expires_at` the start of
//! the failures, so one notice per run of failures), delivered by the same mailer.
//!
//! A full stream needs the resource as it was after each change: `events.data` keeps it, written
//! only while the tenant has a full stream (`tenants.events_full_data`, read with the key on
//! every SCIM request). `events.replaced` tells a PUT (RFC 9967 `prov:put`) from a PATCH.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    EventsFullData,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Data,
    Replaced,
}

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Id,
    Kind,
    Delivery,
    Audience,
    Format,
    PollSecretHash,
    Description,
}

#[derive(DeriveIden)]
enum ExpiryNotices {
    Table,
    Kind,
}

#[derive(DeriveIden)]
enum WebhookResends {
    Table,
    EndpointId,
    Sequence,
    RequestedAt,
}

#[derive(DeriveIden)]
enum EventStreamAcks {
    Table,
    StreamId,
    Sequence,
}

/// One `ALTER TABLE … ADD COLUMN` (SQLite takes one change per statement).
async fn add(
    manager: &SchemaManager<'_>,
    table: impl IntoIden + 'static,
    col: ColumnDef,
) -> Result<(), DbErr> {
    manager
        .alter_table(Table::alter().table(table).add_column(col).to_owned())
        .await
}

async fn drop(
    manager: &SchemaManager<'_>,
    table: impl IntoIden + 'static,
    col: impl IntoIden + 'static,
) -> Result<(), DbErr> {
    manager
        .alter_table(Table::alter().table(table).drop_column(col).to_owned())
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add(
            manager,
            Tenants::Table,
            ColumnDef::new(Tenants::EventsFullData)
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
        )
        .await?;
        add(
            manager,
            Events::Table,
            ColumnDef::new(Events::Data).json_binary().to_owned(),
        )
        .await?;
        add(
            manager,
            Events::Table,
            ColumnDef::new(Events::Replaced)
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
        )
        .await?;
        add(
            manager,
            ExpiryNotices::Table,
            ColumnDef::new(ExpiryNotices::Kind)
                .string_len(24)
                .not_null()
                .default("key_expiry")
                .to_owned(),
        )
        .await?;
        add(
            manager,
            WebhookEndpoints::Table,
            ColumnDef::new(WebhookEndpoints::Kind)
                .string_len(8)
                .not_null()
                .default("webhook")
                .to_owned(),
        )
        .await?;
        for col in [
            ColumnDef::new(WebhookEndpoints::Delivery)
                .string_len(8)
                .to_owned(),
            ColumnDef::new(WebhookEndpoints::Audience).text().to_owned(),
            ColumnDef::new(WebhookEndpoints::Format)
                .string_len(8)
                .to_owned(),
            ColumnDef::new(WebhookEndpoints::PollSecretHash)
                .string_len(64)
                .to_owned(),
            ColumnDef::new(WebhookEndpoints::Description)
                .string_len(200)
                .to_owned(),
        ] {
            add(manager, WebhookEndpoints::Table, col).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ux_webhook_endpoints_poll_secret")
                    .table(WebhookEndpoints::Table)
                    .col(WebhookEndpoints::PollSecretHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EventStreamAcks::Table)
                    .col(
                        ColumnDef::new(EventStreamAcks::StreamId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(EventStreamAcks::Sequence)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(EventStreamAcks::StreamId)
                            .col(EventStreamAcks::Sequence),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(EventStreamAcks::Table, EventStreamAcks::StreamId)
                            .to(WebhookEndpoints::Table, WebhookEndpoints::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookResends::Table)
                    .col(
                        ColumnDef::new(WebhookResends::EndpointId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookResends::Sequence)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookResends::RequestedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(WebhookResends::EndpointId)
                            .col(WebhookResends::Sequence),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookResends::Table, WebhookResends::EndpointId)
                            .to(WebhookEndpoints::Table, WebhookEndpoints::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebhookResends::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(EventStreamAcks::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ux_webhook_endpoints_poll_secret")
                    .table(WebhookEndpoints::Table)
                    .to_owned(),
            )
            .await?;
        for col in [
            WebhookEndpoints::Description,
            WebhookEndpoints::PollSecretHash,
            WebhookEndpoints::Format,
            WebhookEndpoints::Audience,
            WebhookEndpoints::Delivery,
            WebhookEndpoints::Kind,
        ] {
            drop(manager, WebhookEndpoints::Table, col).await?;
        }
        drop(manager, ExpiryNotices::Table, ExpiryNotices::Kind).await?;
        drop(manager, Events::Table, Events::Replaced).await?;
        drop(manager, Events::Table, Events::Data).await?;
        drop(manager, Tenants::Table, Tenants::EventsFullData).await?;
        Ok(())
    }
}
