//! The operator's commands on tenants and machines (`scimd tenant list|update|delete`,
//! `scimd machine list|create|delete`): parse, call the service or the store's reads, print a
//! table or, with `--json`, JSON. The rules are in `scim-service`, as for the admin API.

use std::io::{BufRead, IsTerminal, Write};

use chrono::Utc;
use clap::Subcommand;
use scim_service::ServiceError;
use scim_store::{Actor, StoreError, TenantId};
use serde_json::json;

type CliResult = Result<(), Box<dyn std::error::Error>>;

/// `scimd machine …`.
#[derive(Subcommand)]
pub enum MachineCommand {
    /// List the tenant's machines (service accounts).
    List {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Create a machine.
    Create {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// Name, unique in the tenant: 1-128 characters.
        #[arg(long)]
        name: String,
        /// Free text.
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a machine and its keys (they stop working at once).
    Delete {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// The machine's name or id.
        #[arg(long)]
        machine: String,
    },
}

/// The tenant named on the command line, which must exist.
pub async fn existing_tenant(
    store: &scim_store::Store,
    id: &str,
) -> Result<TenantId, Box<dyn std::error::Error>> {
    let tenant = TenantId::parse(id)?;
    store
        .get_tenant(&tenant)
        .await
        .map_err(|_| format!("no tenant '{tenant}'"))?;
    Ok(tenant)
}

/// The id of the machine named (by name or id) on the command line.
pub async fn machine_id(
    store: &scim_store::Store,
    tenant: &TenantId,
    id_or_name: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    match scim_service::machines::find_machine(store, tenant, id_or_name).await {
        Ok(m) => Ok(m.id),
        Err(ServiceError::Store(StoreError::NotFound)) => {
            Err(format!("no machine '{id_or_name}' in tenant '{tenant}'").into())
        }
        Err(e) => Err(e.into()),
    }
}

/// `scimd tenant list`.
pub async fn list_tenants(store: &scim_store::Store, as_json: bool) -> CliResult {
    let tenants = store.list_tenants().await?;
    if as_json {
        let list: Vec<_> = tenants
            .iter()
            .map(|t| {
                json!({"id": t.id.as_str(), "adminEmail": t.admin_email, "locale": t.locale,
                       "createdAt": t.created_at})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    println!(
        "{:<24} {:<8} {:<12} ADMIN E-MAIL",
        "ID", "LOCALE", "CREATED"
    );
    for t in tenants {
        println!(
            "{:<24} {:<8} {:<12} {}",
            t.id,
            t.locale,
            t.created_at.format("%Y-%m-%d"),
            t.admin_email
                .as_deref()
                .unwrap_or("(none: expiry warnings are undeliverable)")
        );
    }
    Ok(())
}

/// `scimd tenant update`: the admin e-mail and/or the locale.
pub async fn update_tenant(
    store: &scim_store::Store,
    id: &str,
    admin_email: Option<String>,
    clear_admin_email: bool,
    locale: Option<String>,
) -> CliResult {
    let tenant = existing_tenant(store, id).await?;
    let current = store.get_tenant(&tenant).await?;
    if admin_email.is_none() && !clear_admin_email && locale.is_none() {
        return Err(
            "nothing to change: give --admin-email, --clear-admin-email or --locale".into(),
        );
    }
    let email = match (admin_email, clear_admin_email) {
        (Some(e), _) => Some(e),
        (None, true) => None,
        (None, false) => current.admin_email,
    };
    let locale = locale.unwrap_or(current.locale);
    let updated = scim_service::tenants::set_contact(
        store,
        &tenant,
        email,
        &locale,
        &Actor::local("cli"),
        Utc::now(),
    )
    .await?;
    println!(
        "tenant '{}': admin e-mail {}, locale {}",
        updated.id,
        updated.admin_email.as_deref().unwrap_or("(none)"),
        updated.locale
    );
    Ok(())
}

/// `scimd tenant delete`: asks for the tenant's id on a terminal, or takes `--yes`.
pub async fn delete_tenant(store: &scim_store::Store, id: &str, yes: bool) -> CliResult {
    let tenant = existing_tenant(store, id).await?;
    if !yes {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Err(format!(
                "deleting tenant '{tenant}' deletes its keys, machines, users, groups and audit \
                 events: confirm with --yes"
            )
            .into());
        }
        eprint!(
            "This deletes tenant '{tenant}' with all its keys, machines, users, groups and audit \
             events.\nType the tenant id to confirm: "
        );
        std::io::stderr().flush()?;
        let mut answer = String::new();
        stdin.lock().read_line(&mut answer)?;
        if answer.trim() != tenant.as_str() {
            return Err("not confirmed: nothing was deleted".into());
        }
    }
    store.delete_tenant(&tenant).await?;
    println!("tenant '{tenant}' deleted");
    Ok(())
}

/// `scimd machine …`.
pub async fn machine_command(store: &scim_store::Store, command: MachineCommand) -> CliResult {
    let actor = Actor::local("cli");
    match command {
        MachineCommand::List { tenant, json } => {
            let tenant = existing_tenant(store, &tenant).await?;
            let machines = store.list_machines(&tenant).await?;
            if json {
                let list: Vec<_> = machines
                    .iter()
                    .map(|m| {
                        json!({"id": m.id, "name": m.name, "description": m.description,
                               "createdAt": m.created_at})
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            println!("{:<38} {:<24} DESCRIPTION", "ID", "NAME");
            for m in machines {
                println!(
                    "{:<38} {:<24} {}",
                    m.id,
                    m.name,
                    m.description.as_deref().unwrap_or("")
                );
            }
        }
        MachineCommand::Create {
            tenant,
            name,
            description,
        } => {
            let tenant = existing_tenant(store, &tenant).await?;
            let m = scim_service::machines::create_machine(
                store,
                &tenant,
                &name,
                description.as_deref(),
                &actor,
                Utc::now(),
            )
            .await?;
            println!("machine '{}' created (id {})", m.name, m.id);
        }
        MachineCommand::Delete { tenant, machine } => {
            let tenant = existing_tenant(store, &tenant).await?;
            let id = machine_id(store, &tenant, &machine).await?;
            store
                .delete_machine(&tenant, &id, &actor, Utc::now())
                .await?;
            println!("machine '{machine}' deleted, with its keys");
        }
    }
    Ok(())
}
