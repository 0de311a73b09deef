//! PATCH (RFC 7644 §3.5.2): parsing a PatchOp message and applying it to a resource document.
//!
//! Operations apply in order to a copy of the resource; the result is validated again against
//! the schema, so a PATCH either applies completely or not at all. Group membership is not
//! applied to the document: operations on `members` become [`MemberChange`]s that the store
//! applies as deltas, so that their cost does not depend on the group's size.
//!
//! Microsoft Entra ID compatibility, on by default: `op` in any case; `"True"`/`"False"`
//! strings (through validation); `remove` of `members` with a value list removes just those;
//! `add`/`replace` on a value path that matches nothing creates the element from the filter's
//! `eq` terms; no-path values with dotted (`name.givenName`) or URN-qualified keys; a complex
//! attribute with a `value` sub-attribute (such as `manager`) may be set with a plain string;
//! `""` and `null` clear an attribute.

use scim_filter_parser::{
    matching_elements, parse_patch_path, AttrPath, CompValue, CompareOp, Filter, PatchPath,
};
use serde_json::{Map, Value};

use crate::{
    custom::carry_hidden,
    error::ScimError,
    resource::ResourceKind,
    schema::{AttrType, AttributeDef, Mutability, Schema, SchemaRegistry, SchemaTypes},
    urn,
    validate::{
        check_immutable, check_required_extensions, validate_patched, MemberInput,
        ValidatedResource,
    },
    ScimType,
};

/// The three PATCH operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// `add`
    Add,
    /// `replace`
    Replace,
    /// `remove`
    Remove,
}

/// One operation of a PatchOp message.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    /// What to do.
    pub op: OpKind,
    /// Where; `None` means the resource itself.
    pub path: Option<PatchPath>,
    /// The value, for `add` and `replace` (and Entra's `remove` with a value list).
    pub value: Option<Value>,
}

/// A change to a group's members, applied by the store in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberChange {
    /// Remove every member.
    Clear,
    /// Add these members (existing ones are kept once).
    Add(Vec<MemberInput>),
    /// Remove these member ids.
    Remove(Vec<String>),
}

/// The outcome of applying a PATCH: the new attributes and the member changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Patched {
    /// The validated new state of the resource's attributes.
    pub resource: ValidatedResource,
    /// Member deltas (groups only).
    pub members: Vec<MemberChange>,
}

/// Parses a PatchOp body.
pub fn parse_patch(body: &Value) -> Result<Vec<PatchOperation>, ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("The request body must be a JSON object"))?;
    if let Some(schemas) = get_ci(obj, "schemas") {
        let ok = schemas.as_array().is_some_and(|s| {
            s.iter().any(|u| {
                u.as_str()
                    .is_some_and(|u| u.eq_ignore_ascii_case(urn::PATCH_OP))
            })
        });
        if !ok {
            return Err(ScimError::invalid_syntax(format!(
                "'schemas' must contain {}",
                urn::PATCH_OP
            )));
        }
    }
    let ops = get_ci(obj, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("'Operations' must be an array"))?;
    ops.iter().map(parse_operation).collect()
}

fn parse_operation(op: &Value) -> Result<PatchOperation, ScimError> {
    let obj = op
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("Each operation must be an object"))?;
    let kind = match get_ci(obj, "op")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("add") => OpKind::Add,
        Some("replace") => OpKind::Replace,
        Some("remove") => OpKind::Remove,
        other => {
            return Err(ScimError::invalid_syntax(format!(
                "Unknown operation {}: use add, replace or remove",
                other.map_or("(missing)".into(), |o| format!("'{o}'"))
            )))
        }
    };
    let path = match get_ci(obj, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => Some(
            parse_patch_path(p)
                .map_err(|e| ScimError::bad_request(ScimType::InvalidPath, e.to_string()))?,
        ),
        Some(_) => {
            return Err(ScimError::bad_request(
                ScimType::InvalidPath,
                "'path' must be a string",
            ))
        }
    };
    let value = get_ci(obj, "value").cloned();
    if kind == OpKind::Remove && path.is_none() {
        return Err(ScimError::bad_request(
            ScimType::NoTarget,
            "A remove operation needs a path",
        ));
    }
    if kind != OpKind::Remove && path.is_none() && !value.as_ref().is_some_and(Value::is_object) {
        return Err(ScimError::invalid_value(
            "An add or replace without a path needs an object value",
        ));
    }
    if kind != OpKind::Remove && value.is_none() {
        return Err(ScimError::invalid_value(
            "An add or replace operation needs a value",
        ));
    }
    Ok(PatchOperation {
        op: kind,
        path,
        value,
    })
}

/// Applies `ops` to `attributes` (the stored document of a resource of `kind`) and validates
/// the result.
pub fn apply_patch(
    registry: &SchemaRegistry,
    kind: ResourceKind,
    attributes: &Map<String, Value>,
    ops: &[PatchOperation],
) -> Result<Patched, ScimError> {
    let mut doc = Doc {
        registry,
        kind,
        map: attributes.clone(),
        members: Vec::new(),
        ignored: Vec::new(),
    };
    for op in ops {
        doc.apply(op)?;
    }
    let mut resource = validate_patched(registry, kind, &Value::Object(doc.map))?;
    check_required_extensions(registry, kind, &resource.attributes, Some(attributes))?;
    // Only what this request sent counts as ignored, not what was stored before.
    resource.ignored = doc.ignored;
    carry_hidden(registry, kind, attributes, &mut resource.attributes);
    check_immutable(registry, kind, attributes, &resource.attributes)?;
    Ok(Patched {
        resource,
        members: doc.members,
    })
}

/// Where a path points, resolved against the schemas.
struct Target {
    /// `None` for the core schema, else the extension's URN (the key of its object).
    container: Option<String>,
    def: AttributeDef,
    sub: Option<AttributeDef>,
}

struct Doc<'a> {
    registry: &'a SchemaRegistry,
    kind: ResourceKind,
    map: Map<String, Value>,
    members: Vec<MemberChange>,
    /// Attributes named under undeclared extensions, or undeclared under the custom one.
    ignored: Vec<crate::validate::IgnoredAttribute>,
}

impl Doc<'_> {
    /// Whether `path` lies under the tenant's custom extension and is to be skipped: the
    /// switch is off (the request succeeds, nothing changes), or the switch is on and the
    /// attribute is not declared (noted in `ignored`).
    fn skip_custom(&mut self, path: &AttrPath) -> bool {
        let registry = self.registry;
        let Some(custom) = registry
            .custom_urn()
            .filter(|_| self.kind == ResourceKind::User)
        else {
            return false;
        };
        if path
            .as_schema_urn()
            .is_some_and(|u| u.eq_ignore_ascii_case(custom))
        {
            return registry.custom().is_none();
        }
        if !path
            .urn
            .as_deref()
            .is_some_and(|u| u.eq_ignore_ascii_case(custom))
        {
            return false;
        }
        match registry.custom() {
            None => true,
            Some(schema) if schema.attribute(&path.name).is_none() => {
                self.note_ignored(&schema.id, &path.name);
                true
            }
            Some(_) => false,
        }
    }

    fn note_ignored(&mut self, schema: &str, name: &str) {
        crate::validate::note_ignored(&mut self.ignored, schema, name);
    }

    /// Whether the key or path `key` (with `value`) lies under an extension the tenant does
    /// not have: then it is ignored (and noted), as on POST and PUT.
    fn skip_unknown_extension(&mut self, key: &str, value: Option<&Value>) -> bool {
        match crate::validate::unknown_extension_attributes(self.registry, self.kind, key, value) {
            Some(names) => {
                for i in names {
                    self.note_ignored(&i.schema, &i.name);
                }
                true
            }
            None => false,
        }
    }

    fn apply(&mut self, op: &PatchOperation) -> Result<(), ScimError> {
        match &op.path {
            None => {
                let Some(Value::Object(values)) = &op.value else {
                    return Err(ScimError::invalid_value("The value must be an object"));
                };
                for (key, value) in values {
                    self.apply_key(op.op, key, value)?;
                }
                Ok(())
            }
            Some(PatchPath::Attr(path)) => {
                if self.skip_custom(path)
                    || self.skip_unknown_extension(&path.to_string(), op.value.as_ref())
                {
                    return Ok(());
                }
                let whole = path
                    .as_schema_urn()
                    .and_then(|u| self.registry.extension(self.kind, &u));
                if let Some(ext) = whole {
                    return self.apply_extension(op.op, &ext.id.clone(), op.value.as_ref());
                }
                let target = self.resolve(path)?;
                self.apply_attr(op.op, &target, op.value.as_ref())
            }
            Some(PatchPath::Value { path, sub }) => {
                if self.skip_custom(&path.attr)
                    || self.skip_unknown_extension(&path.attr.to_string(), None)
                {
                    return Ok(());
                }
                let attr = AttrPath {
                    sub: None,
                    ..path.attr.clone()
                };
                let mut target = self.resolve(&attr)?;
                if let Some(s) = sub {
                    target.sub = Some(target.def.sub_attribute(s).cloned().ok_or_else(|| {
                        ScimError::bad_request(
                            ScimType::InvalidPath,
                            format!("'{}' has no sub-attribute '{s}'", target.def.name),
                        )
                    })?);
                }
                self.apply_value_path(op.op, &target, &path.filter, op.value.as_ref())
            }
        }
    }

    /// An operation on a whole extension (`path` is its URN): `remove` drops it, `replace`
    /// sets it to the value, `add` merges the value into it.
    fn apply_extension(
        &mut self,
        op: OpKind,
        urn: &str,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        match (op, value) {
            (OpKind::Remove, _) => {
                self.map.remove(urn);
                Ok(())
            }
            (_, Some(v)) if is_empty_value(v) => {
                self.map.remove(urn);
                Ok(())
            }
            (_, Some(v @ Value::Object(_))) => {
                if op == OpKind::Replace {
                    self.map.remove(urn);
                }
                self.apply_key(OpKind::Add, urn, v)
            }
            _ => Err(ScimError::invalid_value(format!(
                "The value for '{urn}' must be an object"
            ))),
        }
    }

    /// A key of a no-path value: an attribute name, `name.sub`, an extension URN (its object),
    /// or an URN-qualified attribute.
    fn apply_key(&mut self, op: OpKind, key: &str, value: &Value) -> Result<(), ScimError> {
        if ["schemas", "id", "meta"]
            .iter()
            .any(|k| k.eq_ignore_ascii_case(key))
        {
            return Ok(());
        }
        if let Some(ext) = self.registry.extension(self.kind, key) {
            let ext_id = ext.id.clone();
            let custom = self.registry.is_custom(&ext_id);
            if let Value::Object(inner) = value {
                for (k, v) in inner {
                    if custom && ext.attribute(k).is_none() {
                        self.note_ignored(&ext_id, k);
                        continue;
                    }
                    let path = AttrPath {
                        urn: Some(ext_id.clone()),
                        name: k.clone(),
                        sub: None,
                    };
                    if let Ok(target) = self.resolve(&path) {
                        self.apply_attr(op, &target, Some(v))?;
                    }
                }
            }
            return Ok(());
        }
        let path = scim_filter_parser::parse_attr_path(key)
            .map_err(|e| ScimError::bad_request(ScimType::InvalidPath, e.to_string()))?;
        if self.skip_custom(&path) || self.skip_unknown_extension(key, Some(value)) {
            return Ok(());
        }
        match self.resolve(&path) {
            Ok(target) => self.apply_attr(op, &target, Some(value)),
            // Unknown attributes in a body are ignored, as on POST and PUT.
            Err(e) if e.scim_type == Some(ScimType::NoTarget) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn schema_for(&self, container: Option<&str>) -> &Schema {
        match container.and_then(|u| self.registry.extension(self.kind, u)) {
            Some(ext) => ext,
            None => self.registry.core_schema(self.kind),
        }
    }

    fn resolve(&self, path: &AttrPath) -> Result<Target, ScimError> {
        let path = &*self.registry.qualify(self.kind, path);
        let core = self.registry.core_schema(self.kind);
        let container = match path.urn.as_deref() {
            None => None,
            Some(u) if u.eq_ignore_ascii_case(&core.id) => None,
            Some(u) => match self.registry.extension(self.kind, u) {
                Some(ext) => Some(ext.id.clone()),
                None => {
                    // `urn:…:enterprise:2.0:User` parsed as urn `…:2.0` + name `User`.
                    return Err(ScimError::bad_request(
                        ScimType::InvalidPath,
                        format!("Unknown schema '{u}'"),
                    ));
                }
            },
        };
        if container.is_none()
            && ["id", "meta"]
                .iter()
                .any(|n| n.eq_ignore_ascii_case(&path.name))
        {
            return Err(ScimError::bad_request(
                ScimType::Mutability,
                format!("'{}' is read-only", path.name),
            ));
        }
        let schema = self.schema_for(container.as_deref());
        let def = schema.attribute(&path.name).cloned().ok_or_else(|| {
            ScimError::bad_request(
                ScimType::NoTarget,
                format!("Unknown attribute '{}'", path.name),
            )
        })?;
        if def.mutability == Mutability::ReadOnly {
            return Err(ScimError::bad_request(
                ScimType::Mutability,
                format!("'{}' is read-only", def.name),
            ));
        }
        let sub = match &path.sub {
            None => None,
            Some(s) => Some(def.sub_attribute(s).cloned().ok_or_else(|| {
                ScimError::bad_request(
                    ScimType::InvalidPath,
                    format!("'{}' has no sub-attribute '{s}'", def.name),
                )
            })?),
        };
        if let Some(sub) = &sub {
            if sub.mutability == Mutability::ReadOnly {
                return Err(ScimError::bad_request(
                    ScimType::Mutability,
                    format!("'{}.{}' is read-only", def.name, sub.name),
                ));
            }
        }
        Ok(Target {
            container,
            def,
            sub,
        })
    }

    fn is_members(&self, t: &Target) -> bool {
        self.kind == ResourceKind::Group && t.container.is_none() && t.def.name == "members"
    }

    /// Runs `f` on the map holding the target's attribute: the resource, or its extension
    /// object (created when needed, dropped when left empty).
    fn with_container<R>(
        &mut self,
        container: Option<&str>,
        f: impl FnOnce(&mut Map<String, Value>) -> R,
    ) -> R {
        match container {
            None => f(&mut self.map),
            Some(urn) => {
                let mut inner = match self.map.remove(urn) {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                };
                let r = f(&mut inner);
                if !inner.is_empty() {
                    self.map.insert(urn.to_owned(), Value::Object(inner));
                }
                r
            }
        }
    }

    fn apply_attr(
        &mut self,
        op: OpKind,
        t: &Target,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        if self.is_members(t) {
            return self.members_change(op, None, value);
        }
        self.with_container(t.container.as_deref(), |map| {
            set_attribute(map, op, &t.def, t.sub.as_ref(), value);
        });
        Ok(())
    }

    fn apply_value_path(
        &mut self,
        op: OpKind,
        t: &Target,
        filter: &Filter,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        if !t.def.multi_valued {
            return Err(ScimError::bad_request(
                ScimType::InvalidPath,
                format!("'{}[...]' needs a multi-valued attribute", t.def.name),
            ));
        }
        if self.is_members(t) {
            if t.sub.is_some() {
                return Err(ScimError::bad_request(
                    ScimType::InvalidPath,
                    "Member sub-attributes cannot be changed",
                ));
            }
            return self.members_change(op, Some(filter), value);
        }
        if op != OpKind::Remove && t.sub.is_none() && !value.is_some_and(Value::is_object) {
            return Err(ScimError::invalid_value(format!(
                "The value for '{}[...]' must be an object",
                t.def.name
            )));
        }
        let types = SchemaTypes::new(self.registry, self.kind);
        let parent = AttrPath {
            urn: t.container.clone(),
            name: t.def.name.clone(),
            sub: None,
        };
        self.with_container(t.container.as_deref(), |map| {
            let items = match map.get(&t.def.name) {
                Some(Value::Array(items)) => items.as_slice(),
                _ => &[],
            };
            let hits = matching_elements(items, filter, &types, &parent);
            set_elements(map, op, &t.def, t.sub.as_ref(), filter, &hits, value);
        });
        Ok(())
    }

    fn members_change(
        &mut self,
        op: OpKind,
        filter: Option<&Filter>,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        let listed = || -> Result<Vec<MemberInput>, ScimError> {
            let items: Vec<Value> = match value {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => items.clone(),
                Some(single) => vec![single.clone()],
            };
            items
                .iter()
                .map(|m| {
                    let v = m
                        .get("value")
                        .or_else(|| m.get("Value"))
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty());
                    let value = v.ok_or_else(|| {
                        ScimError::invalid_value("Each member needs a 'value' (the member's id)")
                    })?;
                    let kind = match m.get("type").and_then(Value::as_str) {
                        None => None,
                        Some(t) => Some(ResourceKind::parse(t).ok_or_else(|| {
                            ScimError::invalid_value(format!(
                                "Member type '{t}' is not supported; use 'User' or 'Group'"
                            ))
                        })?),
                    };
                    Ok(MemberInput {
                        value: value.to_owned(),
                        kind,
                    })
                })
                .collect()
        };
        match (op, filter) {
            (OpKind::Add, None) => self.members.push(MemberChange::Add(listed()?)),
            (OpKind::Replace, None) => {
                self.members.push(MemberChange::Clear);
                self.members.push(MemberChange::Add(listed()?));
            }
            (OpKind::Remove, None) => {
                let ids: Vec<String> = listed()?.into_iter().map(|m| m.value).collect();
                self.members.push(if ids.is_empty() {
                    MemberChange::Clear
                } else {
                    MemberChange::Remove(ids)
                });
            }
            (OpKind::Remove, Some(f)) => self.members.push(MemberChange::Remove(member_ids(f)?)),
            (_, Some(f)) => {
                // `members[value eq "x"]` with add/replace: (re)add that member.
                let ids = member_ids(f)?;
                self.members.push(MemberChange::Add(
                    ids.into_iter()
                        .map(|value| MemberInput { value, kind: None })
                        .collect(),
                ));
            }
        }
        Ok(())
    }
}

/// add / replace / remove of an attribute (or one of its sub-attributes) in `map`.
fn set_attribute(
    map: &mut Map<String, Value>,
    op: OpKind,
    def: &AttributeDef,
    sub: Option<&AttributeDef>,
    value: Option<&Value>,
) {
    let name = def.name.clone();
    match (op, sub) {
        (OpKind::Remove, None) => match value.filter(|_| def.multi_valued) {
            // Entra: remove with a value list removes the listed values only.
            Some(Value::Array(listed)) if !listed.is_empty() => {
                if let Some(Value::Array(items)) = map.get_mut(&name) {
                    items.retain(|item| !listed.iter().any(|l| same_value(item, l)));
                }
            }
            _ => {
                map.remove(&name);
            }
        },
        (OpKind::Remove, Some(sub)) => remove_sub(map, &name, &sub.name),
        (_, Some(sub)) => {
            let v = value.cloned().unwrap_or(Value::Null);
            match map.get_mut(&name) {
                Some(Value::Array(items)) => {
                    for item in items.iter_mut().filter_map(Value::as_object_mut) {
                        set_or_clear(item, &sub.name, &v);
                    }
                }
                Some(Value::Object(obj)) => set_or_clear(obj, &sub.name, &v),
                _ if is_empty_value(&v) => {}
                _ => {
                    let mut obj = Map::new();
                    obj.insert(sub.name.clone(), v);
                    let obj = Value::Object(obj);
                    map.insert(
                        name,
                        if def.multi_valued {
                            Value::Array(vec![obj])
                        } else {
                            obj
                        },
                    );
                }
            }
        }
        (_, None) if value.is_none_or(is_empty_value) => {
            // `""` and `null` clear the attribute (Entra).
            map.remove(&name);
        }
        (op, None) => {
            let v = shape(def, value.cloned().unwrap_or(Value::Null));
            match (op, def.multi_valued, def.kind == AttrType::Complex) {
                (OpKind::Add, true, _) => {
                    let new = match v {
                        Value::Array(items) => items,
                        other => vec![other],
                    };
                    let existing = map.entry(name).or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(items) = existing {
                        for n in new {
                            if !items.contains(&n) {
                                items.push(n);
                            }
                        }
                    }
                }
                (_, true, _) => {
                    let v = match v {
                        Value::Array(_) => v,
                        other => Value::Array(vec![other]),
                    };
                    map.insert(name, v);
                }
                (_, false, true) => match (map.get_mut(&name), v) {
                    // Sub-attributes not given are left unchanged (RFC 7644 §3.5.2.3).
                    (Some(Value::Object(existing)), Value::Object(new)) => {
                        for (k, nv) in new {
                            let key = def.sub_attribute(&k).map_or(k, |s| s.name.clone());
                            set_or_clear(existing, &key, &nv);
                        }
                    }
                    (_, v) => {
                        map.insert(name, v);
                    }
                },
                (_, false, false) => {
                    map.insert(name, v);
                }
            }
        }
    }
}

/// add / replace / remove on the elements of a multi-valued attribute selected by `filter`.
fn set_elements(
    map: &mut Map<String, Value>,
    op: OpKind,
    def: &AttributeDef,
    sub: Option<&AttributeDef>,
    filter: &Filter,
    matching: &[usize],
    value: Option<&Value>,
) {
    let name = def.name.clone();
    let mut items = match map.remove(&name) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    let hits: Vec<bool> = (0..items.len()).map(|i| matching.contains(&i)).collect();
    let any_hit = hits.iter().any(|h| *h);
    match (op, sub) {
        (OpKind::Remove, None) => {
            let mut flags = hits.iter();
            items.retain(|_| !flags.next().copied().unwrap_or(false));
        }
        (OpKind::Remove, Some(sub)) => {
            for (item, _) in items.iter_mut().zip(&hits).filter(|(_, h)| **h) {
                if let Some(obj) = item.as_object_mut() {
                    obj.remove(&sub.name);
                }
            }
        }
        (_, Some(sub)) => {
            let v = value.cloned().unwrap_or(Value::Null);
            if any_hit {
                for (item, _) in items.iter_mut().zip(&hits).filter(|(_, h)| **h) {
                    if let Some(obj) = item.as_object_mut() {
                        set_or_clear(obj, &sub.name, &v);
                    }
                }
            } else if !is_empty_value(&v) {
                // Entra: a value path that matches nothing creates the element.
                let mut obj = seed_from_filter(filter, def);
                set_or_clear(&mut obj, &sub.name, &v);
                items.push(Value::Object(obj));
            }
        }
        (op, None) => {
            let new = value
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            if !any_hit {
                let mut obj = seed_from_filter(filter, def);
                obj.extend(new);
                items.push(Value::Object(obj));
            } else {
                for (item, _) in items.iter_mut().zip(&hits).filter(|(_, h)| **h) {
                    match (op, item.as_object_mut()) {
                        (OpKind::Add, Some(obj)) => obj.extend(new.clone()),
                        _ => *item = Value::Object(new.clone()),
                    }
                }
            }
        }
    }
    if !items.is_empty() {
        map.insert(name, Value::Array(items));
    }
}

/// The member ids a `members[...]` filter selects: `value eq "id"` terms joined by `or`.
fn member_ids(filter: &Filter) -> Result<Vec<String>, ScimError> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(v),
        } if path.urn.is_none()
            && path.sub.is_none()
            && path.name.eq_ignore_ascii_case("value") =>
        {
            Ok(vec![v.clone()])
        }
        Filter::Or(a, b) => {
            let mut ids = member_ids(a)?;
            ids.extend(member_ids(b)?);
            Ok(ids)
        }
        _ => Err(ScimError::bad_request(
            ScimType::InvalidFilter,
            "Member paths support 'value eq \"id\"' terms joined by 'or'",
        )),
    }
}

/// The element an unmatched value path creates: its `eq` terms (`type eq "work"`).
fn seed_from_filter(filter: &Filter, def: &AttributeDef) -> Map<String, Value> {
    let mut obj = Map::new();
    let mut stack = vec![filter];
    while let Some(f) = stack.pop() {
        match f {
            Filter::And(a, b) => {
                stack.push(a);
                stack.push(b);
            }
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value,
            } => {
                let name = path
                    .sub
                    .as_deref()
                    .filter(|_| path.name.eq_ignore_ascii_case(&def.name))
                    .unwrap_or(&path.name);
                if let Some(sub) = def.sub_attribute(name) {
                    let v = match value {
                        CompValue::String(s) => Value::String(s.clone()),
                        CompValue::Bool(b) => Value::Bool(*b),
                        CompValue::Number(n) => serde_json::Number::from_f64(n.as_f64())
                            .map_or(Value::Null, Value::Number),
                        CompValue::Null => Value::Null,
                    };
                    obj.insert(sub.name.clone(), v);
                }
            }
            _ => {}
        }
    }
    obj
}

/// Wraps a plain string for a complex attribute with a `value` sub-attribute (Entra sends the
/// manager's id as a string).
fn shape(def: &AttributeDef, v: Value) -> Value {
    match v {
        // A one-element list for a single-valued attribute (Entra sends manager that way).
        Value::Array(mut items) if !def.multi_valued && items.len() == 1 => {
            shape(def, items.remove(0))
        }
        Value::String(s)
            if def.kind == AttrType::Complex && def.sub_attribute("value").is_some() =>
        {
            let mut obj = Map::new();
            obj.insert("value".into(), Value::String(s));
            if def.multi_valued {
                Value::Array(vec![Value::Object(obj)])
            } else {
                Value::Object(obj)
            }
        }
        other => other,
    }
}

fn set_or_clear(obj: &mut Map<String, Value>, key: &str, v: &Value) {
    let existing = obj.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned();
    if let Some(k) = existing {
        obj.remove(&k);
    }
    if !is_empty_value(v) {
        obj.insert(key.to_owned(), v.clone());
    }
}

fn remove_sub(map: &mut Map<String, Value>, name: &str, sub: &str) {
    match map.get_mut(name) {
        Some(Value::Object(obj)) => {
            obj.remove(sub);
            if obj.is_empty() {
                map.remove(name);
            }
        }
        Some(Value::Array(items)) => {
            items
                .iter_mut()
                .filter_map(Value::as_object_mut)
                .for_each(|o| {
                    o.remove(sub);
                })
        }
        _ => {}
    }
}

fn same_value(item: &Value, listed: &Value) -> bool {
    match (item, listed) {
        (Value::Object(i), Value::Object(l)) => match (get_ci(i, "value"), get_ci(l, "value")) {
            (Some(a), Some(b)) => a == b,
            _ => i == l,
        },
        (a, b) => a == b,
    }
}

fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn get_ci<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reg() -> SchemaRegistry {
        SchemaRegistry::core().expect("schemas")
    }

    fn user() -> Map<String, Value> {
        json!({
            "userName": "bjensen",
            "active": true,
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "b@work.x", "type": "work", "primary": true}, {"value": "b@home.x", "type": "home"}],
            urn::ENTERPRISE_USER: {"department": "Eng", "manager": {"value": "m1"}}
        })
        .as_object()
        .cloned()
        .expect("object")
    }

    fn patch(ops: Value) -> Result<Patched, ScimError> {
        let body = json!({"schemas": [urn::PATCH_OP], "Operations": ops});
        apply_patch(&reg(), ResourceKind::User, &user(), &parse_patch(&body)?)
    }

    fn attrs(ops: Value) -> Map<String, Value> {
        patch(ops).expect("patch applies").resource.attributes
    }

    #[test]
    fn entra_capitalised_ops_and_string_booleans() {
        let a = attrs(json!([
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Add", "path": "title", "value": "Boss"}
        ]));
        assert_eq!(a["active"], false);
        assert_eq!(a["title"], "Boss");
    }

    #[test]
    fn value_path_with_sub_attribute_updates_or_creates() {
        let a = attrs(
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@work.x"}]),
        );
        assert_eq!(a["emails"][0]["value"], "new@work.x");
        assert_eq!(a["emails"][1]["value"], "b@home.x");
        // no match: Entra expects the element to be created
        let a = attrs(
            json!([{"op": "Add", "path": "addresses[type eq \"work\"].Formatted", "value": "1 Main St"}]),
        );
        assert_eq!(
            a["addresses"],
            json!([{"type": "work", "formatted": "1 Main St"}])
        );
    }

    #[test]
    fn no_path_replace_with_dotted_and_urn_keys() {
        let a = attrs(json!([{"op": "Replace", "value": {
            "name.givenName": "Babs",
            format!("{}:department", urn::ENTERPRISE_USER): "Sales",
            "displayName": "Babs Jensen"
        }}]));
        assert_eq!(
            a["name"],
            json!({"givenName": "Babs", "familyName": "Jensen"})
        );
        assert_eq!(a[urn::ENTERPRISE_USER]["department"], "Sales");
        assert_eq!(a["displayName"], "Babs Jensen");
    }

    #[test]
    fn manager_set_by_string_changed_and_cleared() {
        let path = format!("{}:manager", urn::ENTERPRISE_USER);
        let a = attrs(json!([{"op": "Replace", "path": path, "value": "m2"}]));
        assert_eq!(a[urn::ENTERPRISE_USER]["manager"], json!({"value": "m2"}));
        let a = attrs(json!([{"op": "Replace", "path": path, "value": {"value": "m3"}}]));
        assert_eq!(a[urn::ENTERPRISE_USER]["manager"], json!({"value": "m3"}));
        for clear in [
            json!({"op": "Remove", "path": path}),
            json!({"op": "Replace", "path": path, "value": ""}),
            json!({"op": "Replace", "path": path, "value": null}),
        ] {
            let a = attrs(json!([clear]));
            assert!(a[urn::ENTERPRISE_USER].get("manager").is_none(), "{clear}");
            assert_eq!(a[urn::ENTERPRISE_USER]["department"], "Eng");
        }
    }

    #[test]
    fn whole_extension_paths() {
        let a = attrs(
            json!([{"op": "replace", "path": urn::ENTERPRISE_USER, "value": {"costCenter": "42"}}]),
        );
        assert_eq!(a[urn::ENTERPRISE_USER], json!({"costCenter": "42"}));
        let a = attrs(
            json!([{"op": "add", "path": urn::ENTERPRISE_USER, "value": {"costCenter": "42"}}]),
        );
        assert_eq!(a[urn::ENTERPRISE_USER]["department"], "Eng");
        assert_eq!(a[urn::ENTERPRISE_USER]["costCenter"], "42");
        let a = attrs(json!([{"op": "remove", "path": urn::ENTERPRISE_USER}]));
        assert!(a.get(urn::ENTERPRISE_USER).is_none());
    }

    #[test]
    fn remove_forms() {
        let a = attrs(json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]));
        assert_eq!(a["emails"].as_array().map(Vec::len), Some(1));
        let a = attrs(json!([{"op": "remove", "path": "name.givenName"}]));
        assert_eq!(a["name"], json!({"familyName": "Jensen"}));
        let a = attrs(json!([{"op": "remove", "path": "emails"}]));
        assert!(a.get("emails").is_none());
    }

    #[test]
    fn errors_have_the_right_scim_type() {
        let e = patch(json!([{"op": "remove"}])).expect_err("no path");
        assert_eq!(e.scim_type, Some(ScimType::NoTarget));
        let e =
            patch(json!([{"op": "replace", "path": "id", "value": "x"}])).expect_err("read only");
        assert_eq!(e.scim_type, Some(ScimType::Mutability));
        let e = patch(json!([{"op": "replace", "path": "emails[type eq", "value": "x"}]))
            .expect_err("bad path");
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
        let e = patch(json!([{"op": "jump", "path": "title", "value": "x"}])).expect_err("bad op");
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        let e = patch(json!([{"op": "replace", "path": "active", "value": "perhaps"}]))
            .expect_err("bad value");
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        let e = patch(json!([{"op": "remove", "path": "userName"}])).expect_err("required");
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    }

    #[test]
    fn group_members_become_deltas() {
        let group = json!({"displayName": "G"})
            .as_object()
            .cloned()
            .expect("object");
        let body = json!({"schemas": [urn::PATCH_OP], "Operations": [
            {"op": "Add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]},
            {"op": "Remove", "path": "members", "value": [{"value": "u3"}]},
            {"op": "remove", "path": "members[value eq \"u4\" or value eq \"u5\"]"},
            {"op": "replace", "path": "displayName", "value": "G2"}
        ]});
        let p = apply_patch(
            &reg(),
            ResourceKind::Group,
            &group,
            &parse_patch(&body).expect("parse"),
        )
        .expect("apply");
        assert_eq!(p.resource.attributes["displayName"], "G2");
        assert_eq!(
            p.members,
            vec![
                MemberChange::Add(vec![
                    MemberInput {
                        value: "u1".into(),
                        kind: None
                    },
                    MemberInput {
                        value: "u2".into(),
                        kind: None
                    }
                ]),
                MemberChange::Remove(vec!["u3".into()]),
                MemberChange::Remove(vec!["u4".into(), "u5".into()]),
            ]
        );
        let body = json!({"Operations": [{"op": "remove", "path": "members"}]});
        let p = apply_patch(
            &reg(),
            ResourceKind::Group,
            &group,
            &parse_patch(&body).expect("parse"),
        )
        .expect("apply");
        assert_eq!(p.members, vec![MemberChange::Clear]);
    }
}
