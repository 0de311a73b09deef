//! A group's JSON with its member list written apart from the rest, for a response that sends a
//! large group's members as they are read: the part before the members ([`MembersSplit::head`]),
//! each member as the projection leaves it ([`MemberWriter`]), then [`MEMBERS_TAIL`].
//!
//! Equal to [`render`] followed by [`Projection::apply`]: the split renders the group with one
//! stand-in member, applies the projection, and keeps the sub-attributes the stand-in kept (a
//! projection treats every member alike), so each member is then written straight into the
//! response's bytes instead of through a `serde_json::Value` of its own.

use serde_json::Value;

use crate::{
    projection::Projection,
    render::render,
    resource::{MemberRef, Resource, ResourceKind},
    schema::SchemaRegistry,
};

/// What closes the member list and the group.
pub const MEMBERS_TAIL: &[u8] = b"]}";

/// The group's JSON up to its member list, and how each member is written.
#[derive(Debug, Clone)]
pub struct MembersSplit {
    /// The group's JSON without its members, ending with `"members":[`.
    pub head: Vec<u8>,
    /// Writes one member.
    pub writer: MemberWriter,
}

impl MembersSplit {
    /// The group's JSON when it has no member (as [`render`] and the projection give it: no
    /// `members` key), derived from [`MembersSplit::head`].
    pub fn without_members(&self) -> Vec<u8> {
        let mut whole = self.head.clone();
        whole.truncate(whole.len() - MEMBERS_KEY.len());
        if whole.last() == Some(&b',') {
            whole.pop();
        }
        whole.push(b'}');
        whole
    }
}

/// What opens the member list in [`MembersSplit::head`].
const MEMBERS_KEY: &[u8] = br#""members":["#;

/// A member sub-attribute the projection keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Value,
    Ref,
    Type,
    Display,
}

/// Writes members as [`render`] and the projection would, in the same order of sub-attributes.
#[derive(Debug, Clone)]
pub struct MemberWriter {
    fields: Vec<Field>,
    /// `$ref` up to the id, JSON-escaped, without quotes: users', then groups'.
    ref_prefix: [String; 2],
}

/// Splits the JSON of group `res` (its `members` ignored) around its member list, as `projection`
/// shapes it; `None` when the projection returns no `members`.
pub fn split_members(
    registry: &SchemaRegistry,
    res: &Resource,
    base_url: &str,
    projection: &Projection,
) -> Option<MembersSplit> {
    let mut probe = res.clone();
    probe.members = Some(vec![MemberRef {
        value: "probe".into(),
        kind: ResourceKind::User,
        display: None,
    }]);
    let Value::Object(mut shaped) =
        projection.apply(registry, res.kind, render(registry, &probe, base_url))
    else {
        return None;
    };
    let member = match shaped.remove("members")? {
        Value::Array(mut list) if !list.is_empty() => list.swap_remove(0),
        _ => return None,
    };
    let Value::Object(member) = member else {
        return None;
    };
    let fields = member
        .keys()
        .filter_map(|k| match k.as_str() {
            "value" => Some(Field::Value),
            "$ref" => Some(Field::Ref),
            "type" => Some(Field::Type),
            "display" => Some(Field::Display),
            _ => None,
        })
        .collect();
    let mut head = serde_json::to_vec(&Value::Object(shaped.clone())).ok()?;
    head.pop(); // the closing brace
    if !shaped.is_empty() {
        head.push(b',');
    }
    head.extend_from_slice(MEMBERS_KEY);
    let prefix = |kind: ResourceKind| escaped(&format!("{base_url}{}/", kind.endpoint()));
    Some(MembersSplit {
        head,
        writer: MemberWriter {
            fields,
            ref_prefix: [prefix(ResourceKind::User), prefix(ResourceKind::Group)],
        },
    })
}

/// `text` JSON-escaped, without the quotes.
fn escaped(text: &str) -> String {
    let quoted = serde_json::to_string(text).unwrap_or_default();
    quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or_default()
        .to_owned()
}

/// Whether `text` can go into a JSON string as it is.
fn plain(text: &str) -> bool {
    !text.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20)
}

/// Appends `text` as a JSON string.
fn push_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    if plain(text) {
        out.extend_from_slice(text.as_bytes());
    } else {
        out.extend_from_slice(escaped(text).as_bytes());
    }
    out.push(b'"');
}

impl MemberWriter {
    /// Appends `member` to `out`, after a comma unless it is the list's first.
    pub fn write(&self, out: &mut Vec<u8>, member: &MemberRef, first: bool) {
        if !first {
            out.push(b',');
        }
        out.push(b'{');
        for (i, field) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            match field {
                Field::Value => {
                    out.extend_from_slice(br#""value":"#);
                    push_string(out, &member.value);
                }
                Field::Ref => {
                    out.extend_from_slice(br#""$ref":""#);
                    let prefix = match member.kind {
                        ResourceKind::User => &self.ref_prefix[0],
                        ResourceKind::Group => &self.ref_prefix[1],
                    };
                    out.extend_from_slice(prefix.as_bytes());
                    if plain(&member.value) {
                        out.extend_from_slice(member.value.as_bytes());
                    } else {
                        out.extend_from_slice(escaped(&member.value).as_bytes());
                    }
                    out.push(b'"');
                }
                Field::Type => {
                    out.extend_from_slice(br#""type":"#);
                    push_string(out, member.kind.name());
                }
                Field::Display => {
                    out.extend_from_slice(br#""display":"#);
                    match &member.display {
                        Some(d) => push_string(out, d),
                        None => out.extend_from_slice(b"null"),
                    }
                }
            }
        }
        out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    fn group(members: Vec<MemberRef>) -> Resource {
        let at = Utc.with_ymd_and_hms(2026, 12, 7, 8, 0, 0).unwrap();
        Resource {
            kind: ResourceKind::Group,
            id: "g1".into(),
            attributes: json!({"displayName": "Sales \"EU\"", "externalId": "x\\1"})
                .as_object()
                .cloned()
                .unwrap(),
            members: Some(members),
            groups: None,
            version: 3,
            created: at,
            last_modified: at,
        }
    }

    fn member(value: &str, kind: ResourceKind) -> MemberRef {
        MemberRef {
            value: value.into(),
            kind,
            display: None,
        }
    }

    /// The head, the members written one by one and the tail parse to exactly what rendering
    /// the whole group and projecting it gives, for every projection that keeps members.
    #[test]
    fn split_json_equals_the_rendered_and_projected_group() {
        let registry = SchemaRegistry::core().unwrap();
        let members = vec![
            member("u1", ResourceKind::User),
            member("g\"2\\", ResourceKind::Group),
            member("u\n3", ResourceKind::User),
        ];
        let full = group(members.clone());
        let base = "https://h.example/scim/v2";
        for (attributes, excluded) in [
            (None, None),
            (Some("members"), None),
            (Some("members.value"), None),
            (Some("members.value,members.type,displayName"), None),
            (Some("displayName,members.$ref"), None),
            (None, Some("members.$ref")),
            (None, Some("displayName,meta,externalId")),
            (None, Some("members.type,members.value")),
        ] {
            let projection = Projection::parse(attributes, excluded).unwrap();
            let expected = projection.apply(
                &registry,
                ResourceKind::Group,
                render(&registry, &full, base),
            );
            let split = split_members(&registry, &group(Vec::new()), base, &projection)
                .unwrap_or_else(|| panic!("{attributes:?} {excluded:?} lost the members"));
            let mut body = split.head.clone();
            for (i, m) in members.iter().enumerate() {
                split.writer.write(&mut body, m, i == 0);
            }
            body.extend_from_slice(MEMBERS_TAIL);
            let got: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(got, expected, "{attributes:?} {excluded:?}");
            let empty = group(Vec::new());
            let expected = projection.apply(
                &registry,
                ResourceKind::Group,
                render(&registry, &empty, base),
            );
            let got: Value = serde_json::from_slice(&split.without_members()).unwrap();
            assert_eq!(
                got, expected,
                "without members: {attributes:?} {excluded:?}"
            );
        }
    }

    /// A projection without members gives no split (the group is answered whole).
    #[test]
    fn no_split_when_members_are_not_returned() {
        let registry = SchemaRegistry::core().unwrap();
        for (attributes, excluded) in [(Some("displayName"), None), (None, Some("members"))] {
            let projection = Projection::parse(attributes, excluded).unwrap();
            assert!(split_members(&registry, &group(Vec::new()), "b", &projection).is_none());
        }
    }
}
