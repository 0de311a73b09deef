//! Resource types and the resource shape shared by the store and the HTTP layer.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::urn;

/// The resource types scimd serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    /// `/Users`
    User,
    /// `/Groups`
    Group,
}

impl ResourceKind {
    /// The resource type name (`meta.resourceType`, `/ResourceTypes/{name}`).
    pub fn name(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::Group => "Group",
        }
    }

    /// The endpoint relative to the SCIM base URL.
    pub fn endpoint(self) -> &'static str {
        match self {
            Self::User => "/Users",
            Self::Group => "/Groups",
        }
    }

    /// The URN of the core schema.
    pub fn schema_urn(self) -> &'static str {
        match self {
            Self::User => urn::USER,
            Self::Group => urn::GROUP,
        }
    }

    /// The kind named `name` (`User` or `Group`, any case).
    pub fn parse(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("User") {
            Some(Self::User)
        } else if name.eq_ignore_ascii_case("Group") {
            Some(Self::Group)
        } else {
            None
        }
    }
}

/// A reference from a group to a member, or from a user to a group it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRef {
    /// The id of the referenced resource.
    pub value: String,
    /// The kind of the referenced resource.
    pub kind: ResourceKind,
    /// The referenced resource's display name (a group's `displayName` in a user's `groups`;
    /// group members carry none, as RFC 7643 §4.2 defines no `display` for them).
    pub display: Option<String>,
}

/// A stored resource as the store returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// User or Group.
    pub kind: ResourceKind,
    /// Server-assigned id.
    pub id: String,
    /// Validated attributes with canonical names; extension attributes under their URN key.
    /// Never holds `id`, `meta`, `groups` or `members`.
    pub attributes: Map<String, Value>,
    /// A group's members; `None` when not loaded.
    pub members: Option<Vec<MemberRef>>,
    /// The groups a user belongs to directly; `None` when not loaded.
    pub groups: Option<Vec<MemberRef>>,
    /// Incremented on every write; the weak ETag is `W/"<version>"`.
    pub version: i64,
    /// When the resource was created.
    pub created: DateTime<Utc>,
    /// When the resource was last changed.
    pub last_modified: DateTime<Utc>,
}

impl Resource {
    /// The weak entity tag of this version.
    pub fn etag(&self) -> String {
        etag_of(self.version)
    }
}

/// A stored resource read for an answer: its attributes still the stored JSON text (an object
/// of the same shape as [`Resource::attributes`]), parsed only when something needs them as
/// values ([`StoredResource::into_resource`]); [`crate::render::render_stored`] writes the
/// answer from the text.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResource {
    /// User or Group.
    pub kind: ResourceKind,
    /// Server-assigned id.
    pub id: String,
    /// The stored attributes, a JSON object in text.
    pub attributes_json: String,
    /// A group's members; `None` when not loaded.
    pub members: Option<Vec<MemberRef>>,
    /// The groups a user belongs to directly; `None` when not loaded.
    pub groups: Option<Vec<MemberRef>>,
    /// Incremented on every write; the weak ETag is `W/"<version>"`.
    pub version: i64,
    /// When the resource was created.
    pub created: DateTime<Utc>,
    /// When the resource was last changed.
    pub last_modified: DateTime<Utc>,
}

impl StoredResource {
    /// The weak entity tag of this version.
    pub fn etag(&self) -> String {
        etag_of(self.version)
    }

    /// The resource with its attributes parsed (a stored text that is not a JSON object is an
    /// error; an object of another shape than a map gives no attributes, as before).
    pub fn into_resource(self) -> Result<Resource, serde_json::Error> {
        let attributes = match serde_json::from_str::<Value>(&self.attributes_json)? {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Ok(Resource {
            kind: self.kind,
            id: self.id,
            attributes,
            members: self.members,
            groups: self.groups,
            version: self.version,
            created: self.created,
            last_modified: self.last_modified,
        })
    }
}

/// The weak ETag of a resource at `version`.
pub(crate) fn etag_of(version: i64) -> String {
    format!("W/\"{version}\"")
}
