//! `scimd activity --tenant ID [--since 1h] [--errors]`: the tenant's provisioning activity as a
//! table (or JSON), newest first, the same records as `GET /api/{tenantId}/admin/activity`.

use chrono::{DateTime, Duration, Utc};
use clap::Args;
use scim_store::{ActivityQuery, StatusFilter};
use serde_json::json;

use crate::admin_commands::existing_tenant;

type CliResult = Result<(), Box<dyn std::error::Error>>;

/// The options of `scimd activity`.
#[derive(Args)]
pub struct ActivityArgs {
    /// The tenant.
    #[arg(long)]
    tenant: String,
    /// Only records of this period: `30m`, `1h`, `7d` (back from now) or an RFC 3339 time.
    #[arg(long)]
    since: Option<String>,
    /// Only failed requests (status 400 and above).
    #[arg(long)]
    errors: bool,
    /// Only requests of this key (its name) or OAuth client (its id).
    #[arg(long)]
    key: Option<String>,
    /// Only requests about this user or group (its id).
    #[arg(long)]
    resource: Option<String>,
    /// Most records, 1–500.
    #[arg(long, default_value_t = 100)]
    limit: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// `30m`, `1h`, `7d` back from `now`, or an RFC 3339 time.
fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let bad = || format!("--since '{text}': give 30m, 1h, 7d or an RFC 3339 time");
    let unit = text.chars().last().ok_or_else(bad)?;
    let n: i64 = text
        .get(..text.len() - unit.len_utf8())
        .and_then(|n| n.parse().ok())
        .filter(|n| (1..=100_000).contains(n))
        .ok_or_else(bad)?;
    let span = match unit {
        'm' => Duration::minutes(n),
        'h' => Duration::hours(n),
        'd' => Duration::days(n),
        _ => return Err(bad()),
    };
    Ok(now - span)
}

/// Runs `scimd activity`.
pub async fn activity_command(store: &scim_store::Store, args: ActivityArgs) -> CliResult {
    let tenant = existing_tenant(store, &args.tenant).await?;
    let now = Utc::now();
    if !(1..=scim_store::MAX_ACTIVITY_PAGE).contains(&args.limit) {
        return Err(format!("--limit must be 1–{}", scim_store::MAX_ACTIVITY_PAGE).into());
    }
    let query = ActivityQuery {
        since: args
            .since
            .as_deref()
            .map(|s| parse_since(s, now))
            .transpose()?,
        status: None,
        actor: args.key,
        resource_id: args.resource,
        limit: args.limit,
        ..ActivityQuery::default()
    };
    // Errors are 4xx and 5xx: read both classes, newest first together.
    let mut records = Vec::new();
    if args.errors {
        for class in [4, 5] {
            let q = ActivityQuery {
                status: Some(StatusFilter::Class(class)),
                ..query.clone()
            };
            records.extend(store.list_activity(&tenant, &q).await?.records);
        }
        records.sort_by(|a, b| b.time.cmp(&a.time).then_with(|| b.id.cmp(&a.id)));
        records.truncate(usize::try_from(args.limit).unwrap_or(usize::MAX));
    } else {
        records = store.list_activity(&tenant, &query).await?.records;
    }
    if args.json {
        let list: Vec<_> = records
            .iter()
            .map(|r| {
                json!({"id": r.id, "time": r.time, "requestId": r.request_id, "actor": r.actor,
                       "actorType": r.actor_kind, "identityProvider": r.identity_provider,
                       "method": r.method, "path": r.path, "resourceType": r.resource_type,
                       "resourceId": r.resource_id, "filter": r.filter, "status": r.status,
                       "scimType": r.scim_type, "detail": r.detail, "latencyMs": r.latency_ms,
                       "summary": r.summary, "attributes": r.attributes,
                       "hint": scim_service::activity::hint(r).map(|h| h.code())})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    println!(
        "{:<20} {:<16} {:<6} {:<40} {:>6} {:>6}  WHAT",
        "TIME (UTC)", "KEY/CLIENT", "METHOD", "PATH", "STATUS", "MS"
    );
    for r in &records {
        let what = match &r.detail {
            Some(d) if r.status >= 400 => format!("{} — {d}", r.summary),
            _ => r.summary.to_string(),
        };
        println!(
            "{:<20} {:<16} {:<6} {:<40} {:>6} {:>6}  {}",
            r.time.format("%Y-%m-%d %H:%M:%S"),
            scim_service::activity::clip(&r.actor, 16),
            r.method,
            scim_service::activity::clip(&r.path, 40),
            r.status,
            r.latency_ms,
            what
        );
    }
    if records.is_empty() {
        println!("(no request recorded)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_spans_and_times() {
        let now = Utc::now();
        assert_eq!(parse_since("1h", now).unwrap(), now - Duration::hours(1));
        assert_eq!(
            parse_since("30m", now).unwrap(),
            now - Duration::minutes(30)
        );
        assert_eq!(parse_since("7d", now).unwrap(), now - Duration::days(7));
        assert!(parse_since("2026-12-01T00:00:00Z", now).is_ok());
        for bad in ["", "h", "1y", "-1h", "abc", "99999999999d"] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }
}
