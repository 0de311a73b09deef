//! Schema definitions as data (RFC 7643 §7) and the registry that serves them.
//!
//! The same definitions drive `/Schemas`, input validation, case-insensitive attribute
//! resolution, mutability and `returned` handling. The core definitions are the RFC 7643 §8.7.1
//! representation, embedded from `schemas/*.json`.

use scim_filter_parser::AttrPath;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{resource::ResourceKind, urn};

/// The data type of an attribute (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AttrType {
    /// A Unicode string.
    String,
    /// `true` or `false`.
    Boolean,
    /// A real number.
    Decimal,
    /// A whole number.
    Integer,
    /// An `xsd:dateTime` (RFC 3339) timestamp.
    DateTime,
    /// Base64-encoded bytes.
    Binary,
    /// A URI reference.
    Reference,
    /// A composite of sub-attributes.
    Complex,
}

/// When an attribute may be written (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    /// Set by the service provider only; ignored on input.
    ReadOnly,
    /// Freely writable.
    ReadWrite,
    /// Written once, never changed.
    Immutable,
    /// Written but never returned.
    WriteOnly,
}

/// When an attribute is returned (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    /// Always returned, whatever `attributes` says.
    Always,
    /// Never returned.
    Never,
    /// Returned unless excluded.
    Default,
    /// Returned only when asked for in `attributes`.
    Request,
}

/// How the service provider enforces uniqueness (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Uniqueness {
    /// No uniqueness.
    None,
    /// Unique within the tenant.
    Server,
    /// Globally unique.
    Global,
}

/// One attribute definition, as in RFC 7643 §7.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributeDef {
    /// The attribute's name, in its canonical case.
    pub name: String,
    /// The attribute's data type.
    #[serde(rename = "type")]
    pub kind: AttrType,
    /// Whether the attribute holds a list of values.
    pub multi_valued: bool,
    /// Human-readable description.
    pub description: String,
    /// Whether the attribute must be present.
    pub required: bool,
    /// Whether string comparisons are case-sensitive.
    pub case_exact: bool,
    /// Who may write the attribute, and when.
    pub mutability: Mutability,
    /// When the attribute is returned.
    pub returned: Returned,
    /// How uniqueness is enforced.
    pub uniqueness: Uniqueness,
    /// Sub-attributes of a complex attribute.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_attributes: Vec<AttributeDef>,
    /// Suggested values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canonical_values: Vec<String>,
    /// What a reference may point to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reference_types: Vec<String>,
}

impl AttributeDef {
    /// The sub-attribute called `name`, compared case-insensitively.
    pub fn sub_attribute(&self, name: &str) -> Option<&AttributeDef> {
        find(&self.sub_attributes, name)
    }
}

/// A schema: an id (URN) and its attribute definitions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// The schema URN.
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Human-readable description.
    pub description: String,
    /// Top-level attribute definitions.
    pub attributes: Vec<AttributeDef>,
}

impl Schema {
    /// The top-level attribute called `name`, compared case-insensitively.
    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        find(&self.attributes, name)
    }

    /// The RFC 7643 §7 representation served by `/Schemas`, with `meta`.
    pub fn to_json(&self, base_url: &str) -> Value {
        let mut value = serde_json::json!({
            "schemas": [urn::SCHEMA],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes,
        });
        if let Some(obj) = value.as_object_mut() {
            obj.insert(
                "meta".into(),
                serde_json::json!({
                    "resourceType": "Schema",
                    "location": format!("{base_url}/Schemas/{}", self.id),
                }),
            );
        }
        value
    }
}

fn find<'a>(defs: &'a [AttributeDef], name: &str) -> Option<&'a AttributeDef> {
    defs.iter().find(|d| d.name.eq_ignore_ascii_case(name))
}

/// A schema definition file that does not parse (a build defect, caught by the unit tests).
#[derive(Debug, thiserror::Error)]
#[error("schema definition {file} is invalid: {source}")]
pub struct SchemaLoadError {
    file: &'static str,
    source: serde_json::Error,
}

/// All schemas the service knows, keyed by resource type.
#[derive(Debug, Clone)]
pub struct SchemaRegistry {
    user: Schema,
    group: Schema,
    enterprise_user: Schema,
    /// The tenant's custom User extension and whether the tenant switch is on.
    custom: Option<(Schema, bool)>,
    limits: crate::validate::ValueLimits,
}

fn load(file: &'static str, text: &str) -> Result<Schema, SchemaLoadError> {
    serde_json::from_str(text).map_err(|source| SchemaLoadError { file, source })
}

impl SchemaRegistry {
    /// The RFC 7643 core User and Group schemas and the enterprise User extension.
    pub fn core() -> Result<Self, SchemaLoadError> {
        Ok(Self {
            user: load("user.json", include_str!("../schemas/user.json"))?,
            group: load("group.json", include_str!("../schemas/group.json"))?,
            enterprise_user: load(
                "enterprise_user.json",
                include_str!("../schemas/enterprise_user.json"),
            )?,
            custom: None,
            limits: Default::default(),
        })
    }

    /// A registry of the given schemas (tests and tenant-specific registries).
    pub fn from_parts(user: Schema, group: Schema, enterprise_user: Schema) -> Self {
        Self {
            user,
            group,
            enterprise_user,
            custom: None,
            limits: Default::default(),
        }
    }

    /// The same registry with a tenant's custom User extension. `enabled` is the tenant
    /// switch: when off the extension is dormant — not advertised, validated, returned or
    /// filterable, but its URN is known, so that requests naming it are accepted and their
    /// custom parts ignored (see [`Self::custom_urn`]).
    pub fn with_custom(mut self, schema: Schema, enabled: bool) -> Self {
        self.custom = Some((schema, enabled));
        self
    }

    /// The URN of the tenant's custom extension, in force or dormant.
    pub fn custom_urn(&self) -> Option<&str> {
        self.custom.as_ref().map(|(s, _)| s.id.as_str())
    }

    /// The tenant's custom extension, when the switch is on.
    pub fn custom(&self) -> Option<&Schema> {
        self.custom.as_ref().filter(|(_, on)| *on).map(|(s, _)| s)
    }

    /// Whether `urn` is the tenant's custom extension URN (in force or dormant).
    pub fn is_custom(&self, urn: &str) -> bool {
        self.custom_urn()
            .is_some_and(|u| u.eq_ignore_ascii_case(urn))
    }

    /// The same registry with these limits on values.
    pub fn with_value_limits(mut self, limits: crate::validate::ValueLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The limits on values of writes.
    pub fn value_limits(&self) -> &crate::validate::ValueLimits {
        &self.limits
    }

    /// Whether any attribute of `kind` is `immutable` (so that writes must compare).
    pub fn has_immutable(&self, kind: ResourceKind) -> bool {
        std::iter::once(self.core_schema(kind))
            .chain(self.extensions(kind))
            .any(|s| {
                s.attributes
                    .iter()
                    .any(|d| d.mutability == Mutability::Immutable)
            })
    }

    /// The core schema of a resource type.
    pub fn core_schema(&self, kind: ResourceKind) -> &Schema {
        match kind {
            ResourceKind::User => &self.user,
            ResourceKind::Group => &self.group,
        }
    }

    /// The extension schemas of a resource type.
    pub fn extensions(&self, kind: ResourceKind) -> Vec<&Schema> {
        match kind {
            ResourceKind::User => std::iter::once(&self.enterprise_user)
                .chain(self.custom())
                .collect(),
            ResourceKind::Group => vec![],
        }
    }

    /// The extension of `kind` whose URN equals `urn`, compared case-insensitively.
    pub fn extension(&self, kind: ResourceKind, urn: &str) -> Option<&Schema> {
        self.extensions(kind)
            .into_iter()
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// `path` with the URN of the schema that defines it made explicit, when it names an
    /// extension attribute without its URN (RFC 7644 §3.10 lets a client leave the URN out).
    /// An unqualified name resolves against the core schema first, then the enterprise
    /// extension, then the tenant's custom extension (switched on); the first that has it
    /// wins. A tenant cannot declare a custom attribute an enterprise attribute's name
    /// ([`crate::custom::enterprise_clash`]), so the order hides none. Common attributes
    /// (`id`, `externalId`, `meta`, `schemas`), qualified paths and unknown names come back
    /// unchanged.
    pub fn qualify<'p>(
        &self,
        kind: ResourceKind,
        path: &'p AttrPath,
    ) -> std::borrow::Cow<'p, AttrPath> {
        use std::borrow::Cow;
        if path.urn.is_some()
            || ["id", "meta", "schemas"]
                .iter()
                .any(|n| n.eq_ignore_ascii_case(&path.name))
            || self.core_schema(kind).attribute(&path.name).is_some()
        {
            return Cow::Borrowed(path);
        }
        match self
            .extensions(kind)
            .into_iter()
            .find(|ext| ext.attribute(&path.name).is_some())
        {
            Some(ext) => Cow::Owned(AttrPath {
                urn: Some(ext.id.clone()),
                ..path.clone()
            }),
            None => Cow::Borrowed(path),
        }
    }

    /// Whether `urn` is a schema URN under which a write of `kind` is ignored rather than
    /// refused: not a core schema, not an extension of `kind` and not the tenant's custom
    /// extension (dormant or in force, which have their own rules). docs/COMPATIBILITY.md
    /// promises that attributes of undeclared extensions never stall provisioning.
    pub fn is_unknown_extension(&self, kind: ResourceKind, urn: &str) -> bool {
        urn.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
            && ![&self.user.id, &self.group.id]
                .iter()
                .any(|id| id.eq_ignore_ascii_case(urn))
            && self.extension(kind, urn).is_none()
            && !self.is_custom(urn)
            && !(kind == ResourceKind::Group && self.enterprise_user.id.eq_ignore_ascii_case(urn))
    }

    /// Every schema, in the order `/Schemas` lists them.
    pub fn all(&self) -> Vec<&Schema> {
        [&self.user, &self.group, &self.enterprise_user]
            .into_iter()
            .chain(self.custom())
            .collect()
    }

    /// The schema with id `urn`, compared case-insensitively.
    pub fn by_id(&self, urn: &str) -> Option<&Schema> {
        self.all()
            .into_iter()
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }
}

/// Answers the filter evaluator's questions (case-exactness, dateTime) from the schemas.
#[derive(Debug, Clone, Copy)]
pub struct SchemaTypes<'a> {
    registry: &'a SchemaRegistry,
    kind: ResourceKind,
}

impl<'a> SchemaTypes<'a> {
    /// The types of resources of `kind`.
    pub fn new(registry: &'a SchemaRegistry, kind: ResourceKind) -> Self {
        Self { registry, kind }
    }

    fn def(&self, path: &scim_filter_parser::AttrPath) -> Option<&'a AttributeDef> {
        let schema = match path.urn.as_deref() {
            None => self.registry.core_schema(self.kind),
            Some(urn) => self
                .registry
                .extension(self.kind, urn)
                .unwrap_or(self.registry.core_schema(self.kind)),
        };
        let top = schema.attribute(&path.name)?;
        match &path.sub {
            None => Some(top),
            Some(sub) => top.sub_attribute(sub),
        }
    }
}

impl scim_filter_parser::AttrTypes for SchemaTypes<'_> {
    fn case_exact(&self, path: &scim_filter_parser::AttrPath) -> bool {
        path.name.eq_ignore_ascii_case("id")
            || path.name.eq_ignore_ascii_case("externalId")
            || self.def(path).is_some_and(|d| d.case_exact)
    }

    fn is_date_time(&self, path: &scim_filter_parser::AttrPath) -> bool {
        self.def(path).is_some_and(|d| d.kind == AttrType::DateTime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(defs: &[AttributeDef], f: &mut impl FnMut(&AttributeDef)) {
        for d in defs {
            f(d);
            walk(&d.sub_attributes, f);
        }
    }

    #[test]
    fn core_schemas_load_and_are_complete() {
        let reg = SchemaRegistry::core().expect("schemas load");
        let user = reg.core_schema(ResourceKind::User);
        assert_eq!(user.id, urn::USER);
        for name in [
            "userName",
            "name",
            "emails",
            "password",
            "groups",
            "x509Certificates",
        ] {
            assert!(user.attribute(name).is_some(), "{name} missing");
        }
        assert_eq!(
            user.attribute("USERNAME").map(|a| a.name.as_str()),
            Some("userName")
        );
        let group = reg.core_schema(ResourceKind::Group);
        let members = group.attribute("members").expect("members");
        for sub in ["value", "$ref", "type"] {
            assert!(
                members.sub_attribute(sub).is_some(),
                "members.{sub} missing"
            );
        }
        assert!(reg
            .extension(ResourceKind::User, urn::ENTERPRISE_USER)
            .is_some());
    }

    #[test]
    fn password_is_never_returned_and_groups_read_only() {
        let reg = SchemaRegistry::core().expect("schemas load");
        let user = reg.core_schema(ResourceKind::User);
        assert_eq!(
            user.attribute("password").map(|a| a.returned),
            Some(Returned::Never)
        );
        let mut read_only = true;
        walk(
            std::slice::from_ref(user.attribute("groups").expect("groups")),
            &mut |d| read_only &= d.mutability == Mutability::ReadOnly,
        );
        assert!(read_only);
    }

    #[test]
    fn complex_attributes_have_sub_attributes_and_others_do_not() {
        let reg = SchemaRegistry::core().expect("schemas load");
        for schema in reg.all() {
            walk(&schema.attributes, &mut |d| {
                assert_eq!(
                    d.kind == AttrType::Complex,
                    !d.sub_attributes.is_empty(),
                    "{}.{}",
                    schema.id,
                    d.name
                );
            });
        }
    }
}
