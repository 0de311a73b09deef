//! The operator's commands on event delivery (`scimd webhook list|create|delete`, `scimd stream
//! list|create|delete`): parse, call the service or the store, print a table or JSON. The
//! rules (URLs, types, secrets) are `scim-service`'s, as for the admin API.

use chrono::Utc;
use clap::Subcommand;
use scim_auth::Caller;
use scim_service::{event_streams::StreamRequest, webhooks::OutboundPolicy};
use scim_store::{Actor, WebhookSettings};
use serde_json::json;

use crate::admin_commands::existing_tenant;

type CliResult = Result<(), Box<dyn std::error::Error>>;

/// `scimd webhook …`.
#[derive(Subcommand)]
pub enum WebhookCommand {
    /// List the tenant's webhook endpoints and their health.
    List {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Register an endpoint; prints its signing secret, once.
    Create {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// Where events are posted (https://…).
        #[arg(long)]
        url: String,
        /// Event types to send, comma-separated, or `*` (default) for all.
        #[arg(long, default_value = "*")]
        events: String,
        /// Register it switched off.
        #[arg(long)]
        disabled: bool,
    },
    /// Remove an endpoint.
    Delete {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// The endpoint's id.
        #[arg(long)]
        id: String,
    },
}

/// `scimd stream …`.
#[derive(Subcommand)]
pub enum StreamCommand {
    /// List the tenant's RFC 9967 event streams.
    List {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Create a stream; a poll stream's secret is printed, once.
    Create {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// `push` (to --endpoint-url, RFC 8935) or `poll` (RFC 8936).
        #[arg(long)]
        delivery: String,
        /// The SETs' `aud`.
        #[arg(long)]
        audience: String,
        /// `notice` (the default) or `full`.
        #[arg(long)]
        format: Option<String>,
        /// The receiver's endpoint (push).
        #[arg(long)]
        endpoint_url: Option<String>,
        /// A file holding the receiver's bearer token (push; `-` for stdin).
        #[arg(long)]
        endpoint_token_file: Option<std::path::PathBuf>,
        /// Event types to send, comma-separated, or `*` (the default) for all.
        #[arg(long)]
        events: Option<String>,
        /// A name for people.
        #[arg(long)]
        description: Option<String>,
    },
    /// Remove a stream.
    Delete {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// The stream's id.
        #[arg(long)]
        id: String,
    },
}

fn types(list: &str) -> Vec<String> {
    list.split(',')
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

/// `scimd webhook …`.
pub async fn webhook_command(
    store: &scim_store::Store,
    policy: OutboundPolicy,
    command: WebhookCommand,
) -> CliResult {
    let caller = Caller::operator(Actor::local("cli"));
    let now = Utc::now();
    match command {
        WebhookCommand::List { tenant, json } => {
            let tenant = existing_tenant(store, &tenant).await?;
            let hooks = store.list_webhooks(&tenant).await?;
            if json {
                let list: Vec<_> = hooks
                    .iter()
                    .map(|w| {
                        json!({"id": w.id, "url": w.url, "eventTypes": w.event_types,
                               "enabled": w.enabled, "position": w.position,
                               "state": scim_service::webhooks::WebhookState::of(w, now).as_str(),
                               "lastError": w.last_error})
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            println!("{:<38} {:<9} {:<9} URL", "ID", "STATE", "POSITION");
            for w in hooks {
                println!(
                    "{:<38} {:<9} {:<9} {}",
                    w.id,
                    scim_service::webhooks::WebhookState::of(&w, now).as_str(),
                    w.position,
                    w.url
                );
            }
        }
        WebhookCommand::Create {
            tenant,
            url,
            events,
            disabled,
        } => {
            let tenant = existing_tenant(store, &tenant).await?;
            let (hook, secret) = scim_service::webhooks::create_webhook(
                store,
                &tenant,
                WebhookSettings {
                    url,
                    event_types: types(&events),
                    enabled: !disabled,
                },
                policy,
                &caller,
                now,
            )
            .await?;
            eprintln!(
                "webhook {} created; its signing secret (shown once):",
                hook.id
            );
            println!("{secret}");
        }
        WebhookCommand::Delete { tenant, id } => {
            let tenant = existing_tenant(store, &tenant).await?;
            store
                .delete_webhook(&tenant, &id, &caller.actor, now)
                .await
                .map_err(|_| format!("no webhook endpoint '{id}' in tenant '{tenant}'"))?;
            println!("webhook {id} deleted");
        }
    }
    Ok(())
}

/// `scimd stream …`.
pub async fn stream_command(
    store: &scim_store::Store,
    policy: OutboundPolicy,
    command: StreamCommand,
) -> CliResult {
    let caller = Caller::operator(Actor::local("cli"));
    let now = Utc::now();
    match command {
        StreamCommand::List { tenant, json } => {
            let tenant = existing_tenant(store, &tenant).await?;
            let streams = store.list_event_streams(&tenant).await?;
            if json {
                let list: Vec<_> = streams
                    .iter()
                    .map(|s| {
                        json!({"id": s.id, "delivery": s.delivery, "endpointUrl": s.url,
                               "audience": s.audience, "format": s.format,
                               "eventTypes": s.event_types, "enabled": s.enabled,
                               "position": s.position, "lastError": s.last_error})
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            println!(
                "{:<38} {:<8} {:<7} {:<9} AUDIENCE",
                "ID", "DELIVERY", "FORMAT", "POSITION"
            );
            for s in streams {
                println!(
                    "{:<38} {:<8} {:<7} {:<9} {}",
                    s.id, s.delivery, s.format, s.position, s.audience
                );
            }
        }
        StreamCommand::Create {
            tenant,
            delivery,
            audience,
            format,
            endpoint_url,
            endpoint_token_file,
            events,
            description,
        } => {
            let tenant = existing_tenant(store, &tenant).await?;
            let endpoint_token = match endpoint_token_file {
                None => None,
                Some(path) if path.as_os_str() == "-" => {
                    Some(std::io::read_to_string(std::io::stdin())?.trim().to_owned())
                }
                Some(path) => Some(
                    std::fs::read_to_string(&path)
                        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
                        .trim()
                        .to_owned(),
                ),
            };
            let (stream, secret) = scim_service::event_streams::create_event_stream(
                store,
                &tenant,
                StreamRequest {
                    description,
                    delivery,
                    endpoint_url,
                    endpoint_token,
                    audience,
                    format,
                    event_types: events.as_deref().map(types),
                    enabled: None,
                },
                policy,
                &caller,
                now,
            )
            .await?;
            match secret {
                Some(secret) => {
                    eprintln!(
                        "stream {} created; its receiver polls POST /events/{tenant}/streams/{}/poll \
                         with this secret as bearer (shown once):",
                        stream.id, stream.id
                    );
                    println!("{secret}");
                }
                None => println!("stream {} created", stream.id),
            }
        }
        StreamCommand::Delete { tenant, id } => {
            let tenant = existing_tenant(store, &tenant).await?;
            store
                .delete_event_stream(&tenant, &id, &caller.actor, now)
                .await
                .map_err(|_| format!("no event stream '{id}' in tenant '{tenant}'"))?;
            println!("stream {id} deleted");
        }
    }
    Ok(())
}
