//! Provisioning events: what each SCIM change emits (issue 20). The store captures them in the
//! change's transaction ([`scim_store::Capture`]); this module holds the rule.
//!
//! | change | events |
//! | --- | --- |
//! | create | `user.created` / `group.created`, then `group.members_added` for initial members |
//! | replace, patch | `user.updated` / `group.updated` when attributes changed; `user.activated` / `user.deactivated` when `active` did; `group.members_added` / `group.members_removed` for membership |
//! | delete | `user.deleted` / `group.deleted`, naming the groups it left |
//!
//! A change that changes nothing emits nothing. Member lists go in events of at most
//! [`MEMBERS_PER_EVENT`] ids; an event never carries a group's whole member list.

use chrono::{DateTime, Utc};
use scim_auth::Caller;
use scim_model::{
    diff::{all_paths, changed_paths},
    ResourceKind,
};
use scim_store::{EventSettings, NewEvent, Store, TenantId, Written, EVENT_RETENTION_DAYS};
use serde_json::{Map, Value};

use crate::{ServiceError, ServiceResult};

/// A user was created.
pub const USER_CREATED: &str = "user.created";
/// A user's attributes changed (other than `active` alone).
pub const USER_UPDATED: &str = "user.updated";
/// A user's `active` became true.
pub const USER_ACTIVATED: &str = "user.activated";
/// A user's `active` became false.
pub const USER_DEACTIVATED: &str = "user.deactivated";
/// A user was deleted.
pub const USER_DELETED: &str = "user.deleted";
/// A group was created.
pub const GROUP_CREATED: &str = "group.created";
/// A group's attributes changed.
pub const GROUP_UPDATED: &str = "group.updated";
/// A group was deleted.
pub const GROUP_DELETED: &str = "group.deleted";
/// Members were added to a group.
pub const GROUP_MEMBERS_ADDED: &str = "group.members_added";
/// Members were removed from a group.
pub const GROUP_MEMBERS_REMOVED: &str = "group.members_removed";

/// Every event type, in the order the documentation lists them.
pub const EVENT_TYPES: [&str; 10] = [
    USER_CREATED,
    USER_UPDATED,
    USER_ACTIVATED,
    USER_DEACTIVATED,
    USER_DELETED,
    GROUP_CREATED,
    GROUP_UPDATED,
    GROUP_DELETED,
    GROUP_MEMBERS_ADDED,
    GROUP_MEMBERS_REMOVED,
];

/// Most member ids in one membership event.
pub const MEMBERS_PER_EVENT: usize = 1000;

/// The event type named `name`, if it is one.
pub fn event_type(name: &str) -> Option<&'static str> {
    EVENT_TYPES.iter().copied().find(|t| *t == name)
}

/// Replaces the tenant's events settings: events are kept `retention_days` days (1–365).
pub async fn put_event_settings(
    store: &Store,
    tenant: &TenantId,
    retention_days: i64,
    caller: &Caller,
    now: DateTime<Utc>,
) -> ServiceResult<EventSettings> {
    let days = i32::try_from(retention_days)
        .ok()
        .filter(|d| EVENT_RETENTION_DAYS.contains(d))
        .ok_or_else(|| ServiceError::Invalid {
            code: "out_of_range",
            field: "retentionDays",
            message: format!(
                "retentionDays must be between {} and {}",
                EVENT_RETENTION_DAYS.start(),
                EVENT_RETENTION_DAYS.end()
            ),
        })?;
    Ok(store
        .put_event_settings(
            tenant,
            EventSettings {
                retention_days: days,
            },
            &caller.actor,
            now,
        )
        .await?)
}

/// An event as the events API and webhooks show it (docs/EVENTS.md): `members` for the
/// membership events, `groups` for the deletes.
pub fn render_event(e: &scim_store::Event) -> Value {
    let mut out = serde_json::json!({
        "id": e.id,
        "sequence": e.sequence,
        "type": e.event_type,
        "time": e.time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "resourceType": e.resource_type,
        "resourceId": e.resource_id,
        "externalId": e.external_id,
        "version": format!("W/\"{}\"", e.version),
        "attributes": e.attributes,
        "actor": {"type": e.actor.kind, "name": e.actor.name},
        "requestId": e.request_id,
    });
    if let (Some(related), Value::Object(map)) = (&e.related, &mut out) {
        let key = if e.event_type.starts_with("group.members_") {
            "members"
        } else {
            "groups"
        };
        map.insert(key.into(), serde_json::json!(related));
    }
    out
}

/// `active` as stored (absent means active).
fn is_active(attributes: &Map<String, Value>) -> bool {
    attributes
        .get("active")
        .and_then(Value::as_bool)
        .unwrap_or(true)
}

/// The events `written` emits (the rule of this module's table).
pub fn emit(written: &Written<'_>) -> Vec<NewEvent> {
    let event =
        |event_type: &'static str, attributes: Vec<String>, related: Option<Vec<String>>| {
            NewEvent {
                event_type,
                resource_type: written.kind,
                resource_id: written.id.to_owned(),
                external_id: written.external_id.map(str::to_owned),
                version: written.version,
                attributes,
                related,
                data: None,
                replaced: false,
            }
        };
    let mut out = Vec::new();
    match (written.kind, written.before, written.after) {
        (ResourceKind::User, None, Some(after)) => {
            out.push(event(USER_CREATED, all_paths(after), None))
        }
        (ResourceKind::Group, None, Some(after)) => {
            out.push(event(GROUP_CREATED, all_paths(after), None))
        }
        (ResourceKind::User, Some(before), Some(after)) => {
            let mut paths = changed_paths(before, after);
            let (was, is) = (is_active(before), is_active(after));
            paths.retain(|p| p != "active");
            if !paths.is_empty() {
                out.push(event(USER_UPDATED, paths, None));
            }
            if was != is {
                let kind = if is { USER_ACTIVATED } else { USER_DEACTIVATED };
                out.push(event(kind, vec!["active".into()], None));
            }
        }
        (ResourceKind::Group, Some(before), Some(after)) => {
            let paths = changed_paths(before, after);
            if !paths.is_empty() {
                out.push(event(GROUP_UPDATED, paths, None));
            }
        }
        (kind, _, None) => {
            let deleted = match kind {
                ResourceKind::User => USER_DELETED,
                ResourceKind::Group => GROUP_DELETED,
            };
            out.push(event(deleted, Vec::new(), Some(written.left.to_vec())));
        }
    }
    for chunk in written.added.chunks(MEMBERS_PER_EVENT) {
        out.push(event(
            GROUP_MEMBERS_ADDED,
            vec!["members".into()],
            Some(chunk.to_vec()),
        ));
    }
    for chunk in written.removed.chunks(MEMBERS_PER_EVENT) {
        out.push(event(
            GROUP_MEMBERS_REMOVED,
            vec!["members".into()],
            Some(chunk.to_vec()),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn written<'a>(
        kind: ResourceKind,
        before: Option<&'a Map<String, Value>>,
        after: Option<&'a Map<String, Value>>,
        added: &'a [String],
        removed: &'a [String],
        left: &'a [String],
    ) -> Written<'a> {
        Written {
            kind,
            id: "r1",
            before,
            after,
            external_id: Some("ext"),
            version: 4,
            added,
            removed,
            left,
        }
    }

    fn types(events: &[NewEvent]) -> Vec<&str> {
        events.iter().map(|e| e.event_type).collect()
    }

    #[test]
    fn a_deactivation_with_other_changes_is_two_events_and_alone_is_one() {
        let before = map(json!({"userName": "a", "active": true}));
        let both = map(json!({"userName": "b", "active": false}));
        let only = map(json!({"userName": "a", "active": false}));
        let e = emit(&written(
            ResourceKind::User,
            Some(&before),
            Some(&both),
            &[],
            &[],
            &[],
        ));
        assert_eq!(types(&e), [USER_UPDATED, USER_DEACTIVATED]);
        assert_eq!(e[0].attributes, ["userName"]);
        assert_eq!(e[1].attributes, ["active"]);
        assert!(e
            .iter()
            .all(|e| e.version == 4 && e.external_id.as_deref() == Some("ext")));
        let e = emit(&written(
            ResourceKind::User,
            Some(&only),
            Some(&before),
            &[],
            &[],
            &[],
        ));
        assert_eq!(types(&e), [USER_ACTIVATED]);
        // `active` absent counts as active: setting it to true changes nothing.
        let absent = map(json!({"userName": "a"}));
        let e = emit(&written(
            ResourceKind::User,
            Some(&absent),
            Some(&before),
            &[],
            &[],
            &[],
        ));
        assert!(e.is_empty());
    }

    #[test]
    fn membership_goes_in_chunks_and_group_updated_only_for_attributes() {
        let g = map(json!({"displayName": "G"}));
        let added: Vec<String> = (0..2500).map(|i| format!("u{i}")).collect();
        let removed = vec!["x".to_owned()];
        let e = emit(&written(
            ResourceKind::Group,
            Some(&g),
            Some(&g),
            &added,
            &removed,
            &[],
        ));
        assert_eq!(
            types(&e),
            [
                GROUP_MEMBERS_ADDED,
                GROUP_MEMBERS_ADDED,
                GROUP_MEMBERS_ADDED,
                GROUP_MEMBERS_REMOVED
            ]
        );
        let sizes: Vec<usize> = e
            .iter()
            .map(|e| e.related.as_ref().map_or(0, Vec::len))
            .collect();
        assert_eq!(sizes, [1000, 1000, 500, 1]);
        let renamed = map(json!({"displayName": "H"}));
        let e = emit(&written(
            ResourceKind::Group,
            Some(&g),
            Some(&renamed),
            &[],
            &[],
            &[],
        ));
        assert_eq!(types(&e), [GROUP_UPDATED]);
        assert_eq!(e[0].attributes, ["displayName"]);
    }

    #[test]
    fn creates_name_their_attributes_and_deletes_the_groups_left() {
        let u = map(json!({"userName": "a", "name": {"givenName": "A"}}));
        let e = emit(&written(ResourceKind::User, None, Some(&u), &[], &[], &[]));
        assert_eq!(types(&e), [USER_CREATED]);
        assert_eq!(e[0].attributes, ["name.givenName", "userName"]);
        let members = vec!["u1".to_owned()];
        let g = map(json!({"displayName": "G"}));
        let e = emit(&written(
            ResourceKind::Group,
            None,
            Some(&g),
            &members,
            &[],
            &[],
        ));
        assert_eq!(types(&e), [GROUP_CREATED, GROUP_MEMBERS_ADDED]);
        let left = vec!["g1".to_owned(), "g2".to_owned()];
        let e = emit(&written(ResourceKind::User, None, None, &[], &[], &left));
        assert_eq!(types(&e), [USER_DELETED]);
        assert_eq!(e[0].related.as_deref(), Some(left.as_slice()));
    }

    #[test]
    fn unchanged_writes_emit_nothing() {
        let u = map(json!({"userName": "a"}));
        assert!(emit(&written(
            ResourceKind::User,
            Some(&u),
            Some(&u),
            &[],
            &[],
            &[]
        ))
        .is_empty());
        assert!(emit(&written(
            ResourceKind::Group,
            Some(&u),
            Some(&u),
            &[],
            &[],
            &[]
        ))
        .is_empty());
    }
}
