//! `scimd`: the SCIM 2.0 provisioning service and its command line.

use std::process::ExitCode;

use chrono::Utc;
use clap::{Parser, Subcommand, ValueEnum};
use scim_auth::{Caller, Scope};
use scim_service::{key_lifecycle as keys, ChangeKey, CreateKey, RotateKey, ServiceError};
use scim_store::{Actor, Store, TenantId};
use scimd::{bootstrap, build_app, config::Config, open_store, telemetry, AppContext};

mod activity_command;
mod admin_commands;
mod event_commands;
use admin_commands::{existing_tenant, machine_id, MachineCommand};

/// Multi-tenant SCIM 2.0 provisioning service.
///
/// Configuration comes from SCIMD_* environment variables (see the README); with none set,
/// scimd keeps its data in ./data/scimd.db and listens on 127.0.0.1:8080.
#[derive(Parser)]
#[command(version, about, after_help = environment_help())]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

/// The environment variables, for `--help`.
fn environment_help() -> String {
    let mut text = String::from("Environment (see the README's configuration table):\n");
    for chunk in scimd::config::KNOWN.chunks(3) {
        text.push_str("  ");
        text.push_str(&chunk.join("  "));
        text.push('\n');
    }
    text
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (the default when no command is given).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Exit 0 when the service at SCIMD_LISTEN answers /readyz with 200 (for container
    /// health checks: the image has no curl). Touches no database.
    Healthcheck {
        /// Another base URL than SCIMD_LISTEN's (http://host:port).
        #[arg(long)]
        url: Option<String>,
    },
    /// Manage tenants.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Manage API keys.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Manage machines (service accounts that own keys).
    Machine {
        #[command(subcommand)]
        command: MachineCommand,
    },
    /// Manage webhook endpoints (provisioning events pushed to the downstream application).
    Webhook {
        #[command(subcommand)]
        command: event_commands::WebhookCommand,
    },
    /// Manage RFC 9967 event streams (Security Event Tokens, pushed or polled).
    Stream {
        #[command(subcommand)]
        command: event_commands::StreamCommand,
    },
    /// Show a tenant's provisioning activity: the SCIM requests its identity providers sent.
    Activity(activity_command::ActivityArgs),
    /// Key expiry: warn before, purge after (what `serve` also does on an interval).
    Expiry {
        #[command(subcommand)]
        command: ExpiryCommand,
    },
}

#[derive(Subcommand)]
enum ExpiryCommand {
    /// Sweep (queue due warnings, purge keys 90 days past expiry) and send queued mail.
    ///
    /// With --once: one pass, a summary, exit (for cron). Without: every
    /// SCIMD_EXPIRY_INTERVAL until SIGINT/SIGTERM, without the HTTP service.
    Run {
        /// One pass, then exit.
        #[arg(long)]
        once: bool,
        /// Pretend it is this time (RFC 3339), for tests and catch-up runs; needs --once.
        #[arg(long, requires = "once")]
        now: Option<chrono::DateTime<chrono::FixedOffset>>,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant.
    Create {
        /// Tenant id: 1-64 lowercase letters, digits or '-'.
        id: String,
        /// Address that receives key expiry warnings.
        #[arg(long)]
        admin_email: Option<String>,
    },
    /// List the tenants with their admin e-mail and locale.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Change a tenant's admin e-mail (who gets the expiry warnings) and/or locale.
    Update {
        /// The tenant's id.
        id: String,
        /// The new admin e-mail.
        #[arg(long, conflicts_with = "clear_admin_email")]
        admin_email: Option<String>,
        /// Remove the admin e-mail (expiry warnings become undeliverable).
        #[arg(long)]
        clear_admin_email: bool,
        /// Language of the e-mails: en or fr.
        #[arg(long)]
        locale: Option<String>,
    },
    /// Delete a tenant with all its data (asks for its id on a terminal; --yes elsewhere).
    Delete {
        /// The tenant's id.
        id: String,
        /// Do not ask.
        #[arg(long)]
        yes: bool,
    },
    /// Show or change the tenant's SCIM custom attributes: the tenant-wide switch (for every
    /// SCIM and on-premise key at once) and the declared extension schema. Prints the
    /// resulting settings as JSON.
    CustomAttributes {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// Declare the schema in this file: RFC 7643 §7 schema JSON with `id` (the URN),
        /// `name`, `description` and `attributes` ('-' reads standard input).
        #[arg(long, conflicts_with = "reset_schema")]
        schema: Option<std::path::PathBuf>,
        /// Go back to the default schema (no attributes; stored values are kept).
        #[arg(long)]
        reset_schema: bool,
        /// Turn the switch on: declared attributes are accepted, stored and returned.
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        /// Turn the switch off: custom attributes are ignored; stored values are kept.
        #[arg(long)]
        disable: bool,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create an API key and print its token once.
    Create {
        /// The tenant the key belongs to.
        #[arg(long)]
        tenant: String,
        /// Unique key name: 1-64 of A-Z a-z 0-9 . _ -
        #[arg(long)]
        name: String,
        /// What the key is for.
        #[arg(long, value_enum)]
        scope: ScopeArg,
        /// Display label.
        #[arg(long)]
        label: Option<String>,
        /// Lifetime in days (1-365, default 365).
        #[arg(long)]
        expires_in_days: Option<i64>,
        /// Permissions, comma-separated: required for public_api keys ('*' = all, written
        /// out); scim and on_premise keys default to scim:read,scim:write.
        #[arg(long, value_delimiter = ',')]
        permissions: Option<Vec<String>>,
        /// The machine the key belongs to (its name or id).
        #[arg(long)]
        machine: Option<String>,
    },
    /// List the keys of a tenant (never their values).
    List {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// Only the keys of this machine (its name or id).
        #[arg(long)]
        machine: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key permanently: it stops working at once and can never be enabled again.
    Revoke(KeyName),
    /// Disable a key (reversible with `enable`; the value stays the same).
    Disable(KeyName),
    /// Enable a disabled key.
    Enable(KeyName),
    /// Give a key a new value and print it once.
    Rotate {
        #[command(flatten)]
        key: KeyName,
        /// Minutes the old value keeps working (0-10080, default 0).
        #[arg(long)]
        grace_minutes: Option<i64>,
        /// Lifetime of the new value in days (1-365, default 365).
        #[arg(long)]
        expires_in_days: Option<i64>,
    },
    /// Delete a key: it stops working at once.
    Delete(KeyName),
    /// The federated credential of a SCIM key (workload identity federation): whose signed
    /// tokens the token endpoint takes instead of the key's value.
    Federation {
        #[command(subcommand)]
        command: FederationCommand,
    },
}

#[derive(Subcommand)]
enum FederationCommand {
    /// Set the credential (a scim key; the JWKS host must be in SCIMD_FEDERATION_JWKS_HOSTS).
    Set {
        #[command(flatten)]
        key: KeyName,
        /// The `iss` of the assertions (Entra ID: https://login.microsoftonline.com/{tenant}/v2.0).
        #[arg(long)]
        issuer: String,
        /// The issuer's signing keys (JWKS), https.
        #[arg(long)]
        jwks_uri: String,
        /// The `sub` of the assertions (Entra ID: the identity's object id).
        #[arg(long)]
        subject: String,
        /// Accepted `aud` values, comma-separated (1-10).
        #[arg(long, value_delimiter = ',', required = true)]
        audiences: Vec<String>,
    },
    /// Print the credential as JSON.
    Show(KeyName),
    /// Remove the credential (the key's value keeps working).
    Clear(KeyName),
}

/// Names one key.
#[derive(clap::Args)]
struct KeyName {
    /// The tenant.
    #[arg(long)]
    tenant: String,
    /// The key's name.
    #[arg(long)]
    name: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum ScopeArg {
    /// SCIM provisioning (Entra ID, Okta): scim:read and scim:write.
    Scim,
    /// An on-premise directory script: scim:read and scim:write.
    #[value(name = "on_premise")]
    OnPremise,
    /// The admin API, with the permissions given.
    #[value(name = "public_api")]
    PublicApi,
}

impl From<ScopeArg> for Scope {
    fn from(s: ScopeArg) -> Self {
        match s {
            ScopeArg::Scim => Scope::Scim,
            ScopeArg::OnPremise => Scope::OnPremise,
            ScopeArg::PublicApi => Scope::PublicApi,
        }
    }
}

/// See the workspace manifest for why the allocator is replaced.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init();
    let (config, warnings) = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("scimd: {e}");
            return ExitCode::from(2);
        }
    };
    for w in warnings {
        tracing::warn!("{w}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("scimd: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli.command.unwrap_or(Command::Serve), config));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scimd: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> Result<(), Box<dyn std::error::Error>> {
    if let Command::Healthcheck { url } = &command {
        return scimd::healthcheck::check(url.as_deref(), config.listen);
    }
    let store = open_store(&config).await?;
    match command {
        Command::Serve => serve(store, config).await,
        Command::Healthcheck { .. } => Ok(()),
        Command::Migrate => {
            println!("migrations applied to {}", config.database_url);
            Ok(())
        }
        Command::Tenant {
            command: TenantCommand::Create { id, admin_email },
        } => {
            let tenant =
                scim_service::tenants::create_tenant(&store, &id, admin_email, Utc::now()).await?;
            println!("tenant '{}' created", tenant.id);
            Ok(())
        }
        Command::Tenant {
            command:
                TenantCommand::CustomAttributes {
                    tenant,
                    schema,
                    reset_schema,
                    enable,
                    disable,
                },
        } => {
            let tenant = existing_tenant(&store, &tenant).await?;
            let mut settings = store.get_scim_settings(&tenant).await?;
            if let Some(path) = schema {
                let text = if path.as_os_str() == "-" {
                    std::io::read_to_string(std::io::stdin())?
                } else {
                    std::fs::read_to_string(&path)
                        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
                };
                let value: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
                settings.custom_schema = Some(value);
            } else if reset_schema {
                settings.custom_schema = None;
            }
            if enable || disable {
                settings.custom_attributes_enabled = enable;
            }
            let settings = scim_service::settings::put_scim_settings(
                &store,
                &tenant,
                settings,
                &Actor::local("cli"),
                Utc::now(),
            )
            .await?;
            let view = serde_json::json!({
                "customAttributesEnabled": settings.custom_attributes_enabled,
                "customSchema": settings
                    .custom_schema
                    .unwrap_or_else(scim_model::custom::default_declaration),
            });
            println!("{}", serde_json::to_string_pretty(&view)?);
            Ok(())
        }
        Command::Key { command } => key_command(&store, &config, command).await,
        Command::Machine { command } => admin_commands::machine_command(&store, command).await,
        Command::Webhook { command } => {
            event_commands::webhook_command(&store, scimd::outbound_policy(&config), command).await
        }
        Command::Stream { command } => {
            event_commands::stream_command(&store, scimd::outbound_policy(&config), command).await
        }
        Command::Activity(args) => activity_command::activity_command(&store, args).await,
        Command::Tenant {
            command: TenantCommand::List { json },
        } => admin_commands::list_tenants(&store, json).await,
        Command::Tenant {
            command:
                TenantCommand::Update {
                    id,
                    admin_email,
                    clear_admin_email,
                    locale,
                },
        } => {
            admin_commands::update_tenant(&store, &id, admin_email, clear_admin_email, locale).await
        }
        Command::Tenant {
            command: TenantCommand::Delete { id, yes },
        } => admin_commands::delete_tenant(&store, &id, yes).await,
        Command::Expiry {
            command: ExpiryCommand::Run { once, now },
        } => expiry_run(store, config, once, now.map(|t| t.with_timezone(&Utc))).await,
    }
}

async fn key_command(
    store: &Store,
    config: &Config,
    command: KeyCommand,
) -> Result<(), Box<dyn std::error::Error>> {
    let caller = Caller::operator(Actor::local("cli"));
    let now = Utc::now();
    let no_key = |tenant: &TenantId, name: &str| format!("no key '{name}' in tenant '{tenant}'");
    let store_err = |e: scim_store::StoreError, tenant: &TenantId, name: &str| -> String {
        match e {
            scim_store::StoreError::NotFound => no_key(tenant, name),
            other => other.to_string(),
        }
    };
    let key_err = |e: ServiceError, tenant: &TenantId, name: &str| -> String {
        match e {
            ServiceError::Store(e) => store_err(e, tenant, name),
            other => other.to_string(),
        }
    };
    match command {
        KeyCommand::Federation { command } => {
            return federation_command(store, config, command).await;
        }
        KeyCommand::Create {
            tenant,
            name,
            scope,
            label,
            expires_in_days,
            permissions,
            machine,
        } => {
            let tenant = existing_tenant(store, &tenant).await?;
            let machine = match machine {
                Some(m) => Some(machine_id(store, &tenant, &m).await?),
                None => None,
            };
            let request = CreateKey {
                name: name.clone(),
                label,
                scope: Some(scope.into()),
                enabled: true,
                permissions,
                options: None,
                machine,
                expires_in_days,
            };
            let (key, token) = keys::create_key(store, &tenant, request, &caller, now)
                .await
                .map_err(|e| key_err(e, &tenant, &name))?;
            eprintln!(
                "key '{}' created for tenant '{tenant}' (scope {}, expires {}).\n\
                 The token below is shown only this time:",
                key.name,
                key.scope,
                key.expires_at.format("%Y-%m-%d")
            );
            println!("{}", token.expose());
        }
        KeyCommand::List {
            tenant,
            machine,
            json,
        } => {
            let tenant = existing_tenant(store, &tenant).await?;
            let machine = match machine {
                Some(m) => Some(machine_id(store, &tenant, &m).await?),
                None => None,
            };
            let list = store.list_api_keys(&tenant, machine.as_deref()).await?;
            if json {
                let rows: Vec<_> = list
                    .iter()
                    .map(|key| {
                        serde_json::json!({
                            "name": key.name, "label": key.label, "scope": key.scope,
                            "clientId": key.client_id,
                            "status": keys::key_status(key, now),
                            "permissions": key.permissions, "machine": key.machine_id,
                            "tokenHint": key.token_hint, "expiresAt": key.expires_at,
                            "lastUsedAt": key.last_used_at,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(());
            }
            println!(
                "{:<24} {:<10} {:<8} {:<10} {:<16} {:<36} LABEL",
                "NAME", "SCOPE", "STATUS", "EXPIRES", "HINT", "CLIENT ID"
            );
            for key in list {
                println!(
                    "{:<24} {:<10} {:<8} {:<10} {:<16} {:<36} {}",
                    key.name,
                    key.scope,
                    keys::key_status(&key, now),
                    key.expires_at.format("%Y-%m-%d"),
                    key.token_hint,
                    key.client_id.as_deref().unwrap_or("-"),
                    key.label.as_deref().unwrap_or("")
                );
            }
        }
        KeyCommand::Revoke(KeyName { tenant, name }) => {
            let tenant = existing_tenant(store, &tenant).await?;
            store
                .revoke_api_key(&tenant, &name, &caller.actor, now)
                .await
                .map_err(|e| store_err(e, &tenant, &name))?;
            println!("key '{name}' revoked");
        }
        KeyCommand::Disable(KeyName { tenant, name }) => {
            set_enabled(store, &caller, &tenant, &name, false).await?;
            println!("key '{name}' disabled");
        }
        KeyCommand::Enable(KeyName { tenant, name }) => {
            set_enabled(store, &caller, &tenant, &name, true).await?;
            println!("key '{name}' enabled");
        }
        KeyCommand::Rotate {
            key: KeyName { tenant, name },
            grace_minutes,
            expires_in_days,
        } => {
            let tenant = existing_tenant(store, &tenant).await?;
            let request = RotateKey {
                grace_minutes,
                expires_in_days,
            };
            let (key, token) = keys::rotate_key(store, &tenant, &name, request, &caller, now)
                .await
                .map_err(|e| key_err(e, &tenant, &name))?;
            let grace = key
                .previous_valid_until
                .map(|t| {
                    format!(
                        "the old value works until {}",
                        t.format("%Y-%m-%d %H:%M UTC")
                    )
                })
                .unwrap_or_else(|| "the old value stopped working".into());
            eprintln!(
                "key '{name}' rotated ({grace}).\nThe new token below is shown only this time:"
            );
            println!("{}", token.expose());
        }
        KeyCommand::Delete(KeyName { tenant, name }) => {
            let tenant = existing_tenant(store, &tenant).await?;
            store
                .delete_api_key(&tenant, &name, &caller.actor, now)
                .await
                .map_err(|e| store_err(e, &tenant, &name))?;
            println!("key '{name}' deleted");
        }
    }
    Ok(())
}

async fn federation_command(
    store: &Store,
    config: &Config,
    command: FederationCommand,
) -> Result<(), Box<dyn std::error::Error>> {
    use scim_service::federation::{self, credential_of, FederatedCredential, JwksHosts};
    let caller = Caller::operator(Actor::local("cli"));
    let now = Utc::now();
    let message = |e: ServiceError, tenant: &TenantId, name: &str| -> String {
        match e {
            ServiceError::Store(scim_store::StoreError::NotFound) => {
                format!("no key '{name}' in tenant '{tenant}', or no federated credential on it")
            }
            other => other.to_string(),
        }
    };
    match command {
        FederationCommand::Set {
            key,
            issuer,
            jwks_uri,
            subject,
            audiences,
        } => {
            let tenant = existing_tenant(store, &key.tenant).await?;
            let hosts = JwksHosts::new(config.federation_jwks_hosts.clone());
            let credential = FederatedCredential {
                issuer,
                jwks_uri,
                subject,
                audiences: audiences.into_iter().map(|a| a.trim().to_owned()).collect(),
            };
            federation::set_federation(store, &tenant, &key.name, credential, &hosts, &caller, now)
                .await
                .map_err(|e| message(e, &tenant, &key.name))?;
            println!("federated credential of key '{}' set", key.name);
        }
        FederationCommand::Show(KeyName { tenant, name }) => {
            let tenant = existing_tenant(store, &tenant).await?;
            let key = store
                .get_api_key(&tenant, &name)
                .await
                .map_err(|e| message(ServiceError::Store(e), &tenant, &name))?;
            let credential = credential_of(&key).ok_or_else(|| {
                message(
                    ServiceError::Store(scim_store::StoreError::NotFound),
                    &tenant,
                    &name,
                )
            })?;
            println!("{}", serde_json::to_string_pretty(&credential)?);
        }
        FederationCommand::Clear(KeyName { tenant, name }) => {
            let tenant = existing_tenant(store, &tenant).await?;
            federation::clear_federation(store, &tenant, &name, &caller, now)
                .await
                .map_err(|e| message(e, &tenant, &name))?;
            println!("federated credential of key '{name}' removed");
        }
    }
    Ok(())
}

async fn set_enabled(
    store: &Store,
    caller: &Caller,
    tenant: &str,
    name: &str,
    enabled: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let tenant = existing_tenant(store, tenant).await?;
    let change = ChangeKey {
        enabled: Some(enabled),
        ..ChangeKey::default()
    };
    keys::change_key(store, &tenant, name, change, caller, Utc::now())
        .await
        .map_err(|e| match e {
            ServiceError::Store(scim_store::StoreError::NotFound) => {
                format!("no key '{name}' in tenant '{tenant}'")
            }
            other => other.to_string(),
        })?;
    Ok(())
}

async fn expiry_run(
    store: Store,
    config: Config,
    once: bool,
    now: Option<chrono::DateTime<Utc>>,
) -> Result<(), Box<dyn std::error::Error>> {
    if once {
        let (sweep, delivery) =
            scimd::expiry::run_once(&store, &config, now.unwrap_or_else(Utc::now)).await?;
        println!(
            "warnings queued: {}, undeliverable (no admin e-mail): {}, keys purged: {}",
            sweep.warnings_queued, sweep.undeliverable, sweep.purged
        );
        match delivery {
            Some(d) => println!(
                "mails sent: {}, to retry: {}, given up: {}",
                d.sent, d.retried, d.gave_up
            ),
            None => println!("mails not sent: SCIMD_SMTP_URL is not set"),
        }
        store.close().await?;
        return Ok(());
    }
    let metrics = actix_web::web::Data::new(scimd::metrics::Metrics::default());
    let Some((stop, handle)) = scimd::expiry::spawn(store.clone(), &config, metrics)? else {
        return Err("SCIMD_EXPIRY_INTERVAL is 0: nothing to run (use --once)".into());
    };
    shutdown_signal().await;
    let _ = stop.send(true);
    handle.await?;
    store.close().await?;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Says loudly, at every start, what would let a key expire without anyone being told: a
/// tenant with keys and no admin e-mail, or no SMTP server to send the warnings.
async fn warn_about_silent_expiry(store: &scim_store::Store, config: &Config) {
    let Ok(tenants) = store.list_tenants().await else {
        return;
    };
    let mut with_keys = 0;
    for tenant in &tenants {
        let has_keys = store
            .list_api_keys(&tenant.id, None)
            .await
            .is_ok_and(|k| !k.is_empty());
        if !has_keys {
            continue;
        }
        with_keys += 1;
        if tenant.admin_email.is_none() {
            tracing::warn!(
                tenant = %tenant.id,
                "tenant has API keys but no admin e-mail: its keys will expire (at most 365 \
                 days after creation) without a warning; set one with `scimd tenant update {} \
                 --admin-email ADDR` or PUT /api/{}/admin/settings/tenant",
                tenant.id,
                tenant.id
            );
        }
    }
    if with_keys > 0 && config.smtp_url.is_none() {
        tracing::warn!(
            "SCIMD_SMTP_URL is not set: key expiry warnings are queued, never sent; keys will \
             expire without an e-mail (see GET /api/{{tenantId}}/admin/expiryNotices)"
        );
    }
}

/// The first address a server bound, or the configured one if it reports none.
fn bound(addrs: &[std::net::SocketAddr], configured: std::net::SocketAddr) -> std::net::SocketAddr {
    addrs.first().copied().unwrap_or(configured)
}

async fn serve(store: scim_store::Store, config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let ctx = AppContext::new(store.clone(), &config)?;
    let scheduler = scimd::expiry::spawn(store.clone(), &config, ctx.metrics())?;
    let webhooks = scimd::webhooks::spawn(store.clone(), ctx.set_issuer(), &config, ctx.metrics())?;
    let metrics_server = match config.metrics_listen {
        None => None,
        Some(addr) => {
            let ctx = ctx.clone();
            let server = actix_web::HttpServer::new(move || scimd::metrics_app(&ctx))
                .workers(1)
                .bind(addr)
                .map_err(|e| format!("cannot listen on {addr} (SCIMD_METRICS_LISTEN): {e}"))?
                .disable_signals();
            tracing::info!(listen = %bound(&server.addrs(), addr), "metrics listening");
            let server = server.run();
            Some(server)
        }
    };
    let metrics_handle = metrics_server.as_ref().map(actix_web::dev::Server::handle);
    if let Some(server) = metrics_server {
        tokio::spawn(server);
    }
    let activity_writer = ctx.take_activity_writer();
    let mut server = actix_web::HttpServer::new(move || build_app(ctx.clone()))
        // An answer sent in parts (a large group's members) must not wait for the client's
        // delayed ACK before each part's last segment (Nagle): measured 28 ms for a 0.7 MB
        // group answered in 4 ms of CPU.
        .tcp_nodelay(true)
        .bind(config.listen)
        .map_err(|e| format!("cannot listen on {} (SCIMD_LISTEN): {e}", config.listen))?
        .shutdown_timeout(30);
    if let Some(workers) = config.workers {
        server = server.workers(workers);
    }
    // The address actually bound: with port 0 the system picks a free one, and this line is
    // where a supervisor (or the test harness) learns it.
    tracing::info!(
        listen = %bound(&server.addrs(), config.listen),
        database = store.backend_name(),
        "scimd listening"
    );
    // The port is bound: only now create the first keys, so that a start that cannot listen
    // never prints (and loses) them.
    if config.bootstrap {
        if let Some(keys) =
            bootstrap::bootstrap(&store, config.admin_email.as_deref(), Utc::now()).await?
        {
            println!("{}", bootstrap::banner(&keys));
        }
    }
    warn_about_silent_expiry(&store, &config).await;
    // actix-web stops gracefully on SIGINT and SIGTERM: in-flight requests finish first.
    server.run().await?;
    // The records of the last requests are written before the database is closed.
    if let Some(writer) = activity_writer {
        writer.finish().await;
    }
    if let Some(handle) = metrics_handle {
        handle.stop(true).await;
    }
    if let Some((stop, handle)) = scheduler {
        let _ = stop.send(true);
        let _ = handle.await;
    }
    if let Some((stop, handle)) = webhooks {
        let _ = stop.send(true);
        let _ = handle.await;
    }
    store.close().await?;
    tracing::info!("scimd stopped");
    Ok(())
}
