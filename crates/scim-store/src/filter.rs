//! SCIM filter → SQL, in one place.
//!
//! One recursive function, [`Translator::filter`], turns a parsed filter into a SQL condition
//! with bound parameters, for SQLite and PostgreSQL. Lookups that identity providers make on
//! every sync (`id`, `externalId`, `userName`, group `displayName`, `active`, `meta.created`,
//! `meta.lastModified`, `groups.value`, `members.value`) use indexed columns; any other
//! attribute is read from the resource JSON (`json_extract`/`json_each` on SQLite, `#>>` /
//! `jsonb_array_elements` on PostgreSQL). The schema decides case-sensitivity (`caseExact`) and
//! the type of every comparison. Anything that cannot be evaluated is
//! [`StoreError::InvalidFilter`]: a filter is never ignored.
//!
//! Values are always bound parameters; identifiers and JSON paths come from the schema's
//! canonical names, never from the request text.

use scim_filter_parser::{AttrPath, CompValue, CompareOp, Filter};
use scim_model::{
    schema::{AttrType, AttributeDef, SchemaRegistry},
    ResourceKind,
};
use sea_orm::{sea_query::Expr, DbBackend, Value};

use crate::{StoreError, StoreResult};

/// Most nodes one filter may have.
const MAX_NODES: usize = 200;

/// A SQL fragment with `?` placeholders and its values, in order.
#[derive(Debug, Default, Clone)]
pub(crate) struct Sql {
    text: String,
    values: Vec<Value>,
}

impl Sql {
    /// The values bound by this expression, in order.
    pub(crate) fn values(&self) -> &[Value] {
        &self.values
    }

    fn raw(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            values: Vec::new(),
        }
    }

    fn bind(mut self, v: impl Into<Value>) -> Self {
        self.values.push(v.into());
        self
    }

    /// Renders `template`, where `{L}` stands for `lhs` (its text and values) and `{V}` for one
    /// bound `value`.
    fn template(template: &str, lhs: &Sql, value: Option<&Value>) -> Sql {
        let mut out = Sql::default();
        let mut rest = template;
        while let Some(i) = rest.find('{') {
            out.text.push_str(&rest[..i]);
            let tail = &rest[i..];
            if let Some(after) = tail.strip_prefix("{L}") {
                out.text.push_str(&lhs.text);
                out.values.extend(lhs.values.iter().cloned());
                rest = after;
            } else if let (Some(after), Some(v)) = (tail.strip_prefix("{V}"), value) {
                out.text.push('?');
                out.values.push(v.clone());
                rest = after;
            } else {
                out.text.push('{');
                rest = &tail[1..];
            }
        }
        out.text.push_str(rest);
        out
    }

    /// `NOT`, where a comparison on a missing attribute (NULL) counts as false.
    fn negated(self) -> Sql {
        Sql {
            text: format!("(NOT COALESCE({}, FALSE))", self.text),
            values: self.values,
        }
    }

    fn join(a: Sql, op: &str, b: Sql) -> Sql {
        let mut values = a.values;
        values.extend(b.values);
        Sql {
            text: format!("({} {op} {})", a.text, b.text),
            values,
        }
    }

    /// `(x IS NULL)` for a sort key, so that missing values sort last in either direction.
    pub(crate) fn null_last(key: &Sql) -> Sql {
        Sql::template("({L} IS NULL)", key, None)
    }

    /// The fragment as a sea-query expression. PostgreSQL's placeholders are numbered
    /// (`$1`), the others are `?`.
    pub(crate) fn into_expr(self, backend: DbBackend) -> sea_orm::sea_query::SimpleExpr {
        if backend != DbBackend::Postgres {
            return Expr::cust_with_values(self.text, self.values);
        }
        let mut text = String::with_capacity(self.text.len() + 8);
        let mut n = 0;
        for c in self.text.chars() {
            if c == '?' {
                n += 1;
                text.push_str(&format!("${n}"));
            } else {
                text.push(c);
            }
        }
        Expr::cust_with_values(text, self.values)
    }
}

/// Where an attribute's value lives.
enum Source {
    /// A column of the resource table; `folded` is its lower-cased shadow, if any.
    Column {
        column: &'static str,
        folded: Option<&'static str>,
        kind: AttrType,
    },
    /// A scalar inside the resource JSON.
    Json {
        path: Vec<String>,
        def: AttributeDef,
    },
    /// Elements of a multi-valued attribute inside the resource JSON; `sub` selects a
    /// sub-attribute of each element (None for simple multi-valued attributes).
    Elements {
        path: Vec<String>,
        sub: Option<AttributeDef>,
        def: AttributeDef,
    },
    /// The membership relation (`members.value` on groups, `groups.value` on users).
    Membership,
}

/// Translates filters (and sort keys) for one resource type on one backend.
pub(crate) struct Translator<'a> {
    backend: DbBackend,
    kind: ResourceKind,
    registry: &'a SchemaRegistry,
    nodes: std::cell::Cell<usize>,
}

impl<'a> Translator<'a> {
    pub(crate) fn new(
        backend: DbBackend,
        kind: ResourceKind,
        registry: &'a SchemaRegistry,
    ) -> Self {
        Self {
            backend,
            kind,
            registry,
            nodes: std::cell::Cell::new(0),
        }
    }

    fn table(&self) -> &'static str {
        match self.kind {
            ResourceKind::User => "\"users\"",
            ResourceKind::Group => "\"groups\"",
        }
    }

    fn pg(&self) -> bool {
        self.backend == DbBackend::Postgres
    }

    /// The SQL condition of `filter`.
    pub(crate) fn filter(&self, filter: &Filter) -> StoreResult<Sql> {
        self.logic(filter, &|leaf| self.resource_leaf(leaf))
    }

    /// `and`, `or`, `not` and grouping, the same at every level; `leaf` translates the rest.
    /// Every node counts against the budget.
    fn logic(
        &self,
        filter: &Filter,
        leaf: &dyn Fn(&Filter) -> StoreResult<Sql>,
    ) -> StoreResult<Sql> {
        self.nodes.set(self.nodes.get() + 1);
        if self.nodes.get() > MAX_NODES {
            return Err(invalid(format!(
                "The filter has more than {MAX_NODES} nodes"
            )));
        }
        match filter {
            Filter::And(a, b) => Ok(Sql::join(self.logic(a, leaf)?, "AND", self.logic(b, leaf)?)),
            Filter::Or(a, b) => Ok(Sql::join(self.logic(a, leaf)?, "OR", self.logic(b, leaf)?)),
            Filter::Not(inner) => Ok(self.logic(inner, leaf)?.negated()),
            // Nothing stored holds a NUL (writes refuse it), and PostgreSQL cannot compare one.
            Filter::Compare {
                path,
                value: CompValue::String(s),
                ..
            } if s.contains('\0') => Err(invalid(format!(
                "The value compared with '{}' contains a NUL character (U+0000)",
                display_path(path)
            ))),
            other => leaf(other),
        }
    }

    /// A comparison, presence test or value path on the resource.
    fn resource_leaf(&self, filter: &Filter) -> StoreResult<Sql> {
        match filter {
            Filter::Present(path) => Ok(self.present(&self.source(path)?)),
            Filter::Compare { path, op, value } => self.compare(&self.source(path)?, *op, value),
            Filter::ValuePath(vp) => {
                let attr = AttrPath {
                    sub: None,
                    ..vp.attr.clone()
                };
                if let Source::Membership = self.source(&attr)? {
                    let cond = self.logic(&vp.filter, &|leaf| self.membership_leaf(leaf))?;
                    return Ok(self.exists_membership(cond));
                }
                let (path, def) = self.multi_valued(&vp.attr)?;
                let cond = self.logic(&vp.filter, &|leaf| self.element_leaf(leaf, &def))?;
                Ok(self.exists_elements(&path, cond))
            }
            _ => Err(invalid("Unexpected filter node")),
        }
    }

    /// A leaf inside `members[...]` / `groups[...]`: on `value` (the id) and, for members,
    /// `type`.
    fn membership_leaf(&self, filter: &Filter) -> StoreResult<Sql> {
        match filter {
            Filter::Present(_) => Ok(Sql::raw("TRUE")),
            Filter::Compare { path, op, value } => {
                let name = path
                    .sub
                    .as_deref()
                    .unwrap_or(&path.name)
                    .to_ascii_lowercase();
                let column = match (self.kind, name.as_str()) {
                    (ResourceKind::Group, "value") => "gm.\"member_id\"",
                    (ResourceKind::User, "value") => "gm.\"group_id\"",
                    (ResourceKind::Group, "type") => "gm.\"member_type\"",
                    (_, other) => {
                        return Err(invalid(format!("Cannot filter membership on '{other}'")))
                    }
                };
                self.comparison(Sql::raw(column), AttrType::String, false, false, *op, value)
            }
            _ => Err(invalid("Value paths cannot be nested")),
        }
    }

    /// A leaf inside `attr[...]`: its paths name sub-attributes of the element.
    fn element_leaf(&self, filter: &Filter, parent: &AttributeDef) -> StoreResult<Sql> {
        match filter {
            Filter::Present(path) => {
                let (name, def) = element_sub(parent, path)?;
                let v = self.element_scalar(name.as_deref(), &def);
                Ok(Sql::template("({L} IS NOT NULL)", &v, None))
            }
            Filter::Compare { path, op, value } => {
                let (name, def) = element_sub(parent, path)?;
                let lhs = self.element_scalar(name.as_deref(), &def);
                let fold = !def.case_exact && is_text(def.kind);
                self.comparison(lhs, def.kind, fold, true, *op, value)
            }
            _ => Err(invalid("Value paths cannot be nested")),
        }
    }

    /// The SQL expression to sort by `path` (single-valued attributes and the first value of
    /// multi-valued ones).
    pub(crate) fn sort_key(&self, path: &AttrPath) -> StoreResult<Sql> {
        match self.source(path)? {
            Source::Column { column, folded, .. } => Ok(Sql::raw(format!(
                "{}.\"{}\"",
                self.table(),
                folded.unwrap_or(column)
            ))),
            Source::Json { path, def } => Ok(self.json_scalar(&path, &def, true)),
            Source::Elements { mut path, sub, def } => {
                path.push("0".into());
                if let Some(sub) = &sub {
                    path.push(sub.name.clone());
                }
                Ok(self.json_scalar(&path, sub.as_ref().unwrap_or(&def), true))
            }
            Source::Membership => Err(invalid("Cannot sort by a membership attribute")),
        }
    }

    /// Resolves an attribute path against the schemas and the indexed columns.
    fn source(&self, path: &AttrPath) -> StoreResult<Source> {
        let path = &*self.registry.qualify(self.kind, path);
        let core = self.registry.core_schema(self.kind);
        let (ext, top) = match path.urn.as_deref() {
            None => (None, None),
            Some(urn) if urn.eq_ignore_ascii_case(&core.id) => (None, None),
            Some(urn) => match self.registry.extension(self.kind, urn) {
                Some(ext) => (Some(ext), Some(ext.id.clone())),
                None => return Err(invalid(format!("Unknown schema '{urn}' in filter"))),
            },
        };
        let name = path.name.to_ascii_lowercase();
        let sub = path.sub.as_deref().map(str::to_ascii_lowercase);
        if ext.is_none() {
            let col = |column, folded, kind| {
                Ok(Source::Column {
                    column,
                    folded,
                    kind,
                })
            };
            match (self.kind, name.as_str(), sub.as_deref()) {
                (_, "id", None) => return col("id", None, AttrType::String),
                (_, "externalid", None) => return col("external_id", None, AttrType::String),
                (ResourceKind::User, "username", None) => {
                    return col("user_name", Some("user_name_lower"), AttrType::String)
                }
                (ResourceKind::User, "active", None) => return col("active", None, AttrType::Boolean),
                (ResourceKind::Group, "displayname", None) => {
                    return col("display_name", Some("display_name_lower"), AttrType::String)
                }
                (_, "meta", Some("created")) => return col("created_at", None, AttrType::DateTime),
                (_, "meta", Some("lastmodified")) => {
                    return col("last_modified", None, AttrType::DateTime)
                }
                (_, "meta", Some("resourcetype")) => {
                    return Err(invalid("Filtering on meta.resourceType is not supported; query the endpoint of that type"))
                }
                (ResourceKind::User, "groups", None | Some("value"))
                | (ResourceKind::Group, "members", None | Some("value")) => return Ok(Source::Membership),
                (ResourceKind::User, "groups", Some(_)) | (ResourceKind::Group, "members", Some(_)) => {
                    return Err(invalid(format!(
                        "Only '{}.value' can be filtered on",
                        path.name
                    )))
                }
                _ => {}
            }
        }
        let schema = ext.unwrap_or(core);
        let def = schema.attribute(&path.name).ok_or_else(|| {
            invalid(format!(
                "Unknown attribute '{}' in filter",
                display_path(path)
            ))
        })?;
        let mut json_path: Vec<String> = top.into_iter().collect();
        json_path.push(def.name.clone());
        let sub_def = match &path.sub {
            None => None,
            Some(s) => Some(def.sub_attribute(s).cloned().ok_or_else(|| {
                invalid(format!(
                    "Unknown attribute '{}' in filter",
                    display_path(path)
                ))
            })?),
        };
        match (def.multi_valued, def.kind == AttrType::Complex, sub_def) {
            (true, true, sub) => {
                // `emails op v` means `emails.value op v` (RFC 7644 §3.4.2.2).
                let sub = match sub {
                    Some(s) => s,
                    None => def
                        .sub_attribute("value")
                        .cloned()
                        .ok_or_else(|| invalid(format!("'{}' needs a sub-attribute", def.name)))?,
                };
                Ok(Source::Elements {
                    path: json_path,
                    sub: Some(sub),
                    def: def.clone(),
                })
            }
            (true, false, None) => Ok(Source::Elements {
                path: json_path,
                sub: None,
                def: def.clone(),
            }),
            (false, true, Some(sub)) => {
                json_path.push(sub.name.clone());
                Ok(Source::Json {
                    path: json_path,
                    def: sub,
                })
            }
            // `manager eq "M"` means `manager.value eq "M"`, as for multi-valued attributes.
            (false, true, None) => match def.sub_attribute("value") {
                Some(value) => {
                    json_path.push(value.name.clone());
                    Ok(Source::Json {
                        path: json_path,
                        def: value.clone(),
                    })
                }
                None => Err(invalid(format!(
                    "'{}' is complex: filter on one of its sub-attributes",
                    def.name
                ))),
            },
            (_, false, Some(_)) => Err(invalid(format!("'{}' has no sub-attributes", def.name))),
            (false, false, None) => Ok(Source::Json {
                path: json_path,
                def: def.clone(),
            }),
        }
    }

    /// `path` must name a multi-valued attribute (for `attr[filter]`).
    fn multi_valued(&self, path: &AttrPath) -> StoreResult<(Vec<String>, AttributeDef)> {
        match self.source(&AttrPath {
            sub: None,
            ..path.clone()
        })? {
            Source::Elements { path, def, .. } => Ok((path, def)),
            _ => Err(invalid(format!(
                "'{}[...]' needs a multi-valued attribute",
                display_path(path)
            ))),
        }
    }

    /// A JSON scalar at `path` of the resource, typed for comparison.
    fn json_scalar(&self, path: &[String], def: &AttributeDef, fold: bool) -> Sql {
        let base = format!("{}.\"attributes\"", self.table());
        self.typed_scalar(&base, path, def, fold)
    }

    fn typed_scalar(&self, base: &str, path: &[String], def: &AttributeDef, fold: bool) -> Sql {
        let fold = fold && !def.case_exact && is_text(def.kind);
        let (text, value) = if self.pg() {
            (format!("({base} #>> CAST(? AS text[]))"), pg_path(path))
        } else {
            (format!("json_extract({base}, ?)"), sqlite_path(path))
        };
        let text = match (self.pg(), def.kind) {
            (true, AttrType::Integer | AttrType::Decimal) => {
                format!("CAST({text} AS double precision)")
            }
            _ if fold => format!("lower({text})"),
            _ => text,
        };
        Sql::raw(text).bind(value)
    }

    fn present(&self, source: &Source) -> Sql {
        match source {
            Source::Column { column, .. } => {
                let c = format!("{}.\"{column}\"", self.table());
                Sql::raw(format!("({c} IS NOT NULL AND {c} <> '')"))
            }
            Source::Json { path, def } => {
                let v = self.json_scalar(path, def, false);
                if is_text(def.kind) {
                    Sql::template("({L} IS NOT NULL AND {L} <> '')", &v, None)
                } else {
                    Sql::template("({L} IS NOT NULL)", &v, None)
                }
            }
            Source::Elements { path, .. } => self.exists_elements(path, Sql::raw("TRUE")),
            Source::Membership => self.exists_membership(Sql::raw("TRUE")),
        }
    }

    fn compare(&self, source: &Source, op: CompareOp, value: &CompValue) -> StoreResult<Sql> {
        // `ne` is `not eq`: true when the attribute is missing, false when any value equals
        // (the same rule as the in-memory evaluator of scim-filter-parser).
        if op == CompareOp::Ne && !matches!(value, CompValue::Null) {
            return Ok(self.compare(source, CompareOp::Eq, value)?.negated());
        }
        match source {
            Source::Column {
                column,
                folded,
                kind,
            } => {
                let (col, fold) = match folded {
                    Some(f) => (*f, true),
                    None => (*column, false),
                };
                let lhs = Sql::raw(format!("{}.\"{col}\"", self.table()));
                self.comparison(lhs, *kind, fold, false, op, value)
            }
            Source::Json { path, def } => {
                let lhs = self.json_scalar(path, def, true);
                self.comparison(
                    lhs,
                    def.kind,
                    !def.case_exact && is_text(def.kind),
                    true,
                    op,
                    value,
                )
            }
            Source::Elements { path, sub, def } => {
                let elem = sub.as_ref().unwrap_or(def);
                let lhs = self.element_scalar(sub.as_ref().map(|s| s.name.as_str()), elem);
                let cond = self.comparison(
                    lhs,
                    elem.kind,
                    !elem.case_exact && is_text(elem.kind),
                    true,
                    op,
                    value,
                )?;
                Ok(self.exists_elements(path, cond))
            }
            Source::Membership => {
                let lhs = Sql::raw(if self.kind == ResourceKind::Group {
                    "gm.\"member_id\""
                } else {
                    "gm.\"group_id\""
                });
                let cond = self.comparison(lhs, AttrType::String, false, false, op, value)?;
                Ok(self.exists_membership(cond))
            }
        }
    }

    /// The scalar of the current array element (`e`), or of its sub-attribute `sub`.
    fn element_scalar(&self, sub: Option<&str>, def: &AttributeDef) -> Sql {
        let fold = !def.case_exact && is_text(def.kind);
        let text = match (self.pg(), sub) {
            (true, Some(s)) => format!("(e.v ->> '{}')", s.replace('\'', "''")),
            (true, None) => "(e.v #>> '{}')".to_owned(),
            (false, Some(s)) => format!(
                "json_extract(e.value, '$.\"{}\"')",
                s.replace('\'', "''").replace('"', "")
            ),
            (false, None) => "e.value".to_owned(),
        };
        let text = match (self.pg(), def.kind) {
            (true, AttrType::Integer | AttrType::Decimal) => {
                format!("CAST({text} AS double precision)")
            }
            _ if fold => format!("lower({text})"),
            _ => text,
        };
        Sql::raw(text)
    }

    fn exists_elements(&self, path: &[String], cond: Sql) -> Sql {
        let base = format!("{}.\"attributes\"", self.table());
        let (text, value) = if self.pg() {
            (
                format!(
                    "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof({base} #> CAST(? AS text[])) = 'array' THEN {base} #> CAST(? AS text[]) ELSE '[]'::jsonb END) AS e(v) WHERE {})",
                    cond.text
                ),
                pg_path(path),
            )
        } else {
            (
                format!(
                    "EXISTS (SELECT 1 FROM json_each({base}, ?) AS e WHERE {})",
                    cond.text
                ),
                sqlite_path(path),
            )
        };
        let mut values = vec![Value::from(value.clone())];
        if self.pg() {
            values.push(Value::from(value));
        }
        values.extend(cond.values);
        Sql { text, values }
    }

    fn exists_membership(&self, cond: Sql) -> Sql {
        let link = if self.kind == ResourceKind::Group {
            "gm.\"group_id\" = \"groups\".\"id\""
        } else {
            "gm.\"member_id\" = \"users\".\"id\" AND gm.\"tenant_id\" = \"users\".\"tenant_id\""
        };
        Sql {
            text: format!(
                "EXISTS (SELECT 1 FROM \"group_members\" AS gm WHERE {link} AND {})",
                cond.text
            ),
            values: cond.values,
        }
    }

    /// `lhs op value` for an attribute of type `kind`; `fold` lower-cases strings; `json` says
    /// the left side comes from JSON (booleans are then JSON-typed).
    fn comparison(
        &self,
        lhs: Sql,
        kind: AttrType,
        fold: bool,
        json: bool,
        op: CompareOp,
        value: &CompValue,
    ) -> StoreResult<Sql> {
        if let CompValue::Null = value {
            return match op {
                CompareOp::Eq => Ok(Sql {
                    text: format!("({} IS NULL)", lhs.text),
                    values: lhs.values,
                }),
                CompareOp::Ne => Ok(Sql {
                    text: format!("({} IS NOT NULL)", lhs.text),
                    values: lhs.values,
                }),
                _ => Err(invalid("null can only be compared with 'eq' or 'ne'")),
            };
        }
        let bound: Value = match (kind, value) {
            (AttrType::String | AttrType::Reference | AttrType::Binary, CompValue::String(s)) => {
                Value::from(if fold { s.to_lowercase() } else { s.clone() })
            }
            (AttrType::Boolean, CompValue::Bool(b)) => {
                if matches!(op, CompareOp::Eq | CompareOp::Ne) {
                    self.bool_value(*b, json)
                } else {
                    return Err(invalid("Booleans can only be compared with 'eq' or 'ne'"));
                }
            }
            (AttrType::Boolean, CompValue::String(s))
                if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") =>
            {
                self.bool_value(s.eq_ignore_ascii_case("true"), json)
            }
            (AttrType::Integer | AttrType::Decimal, CompValue::Number(n)) => {
                Value::from(n.as_f64())
            }
            (AttrType::DateTime, CompValue::String(s)) => {
                let t = chrono::DateTime::parse_from_rfc3339(s)
                    .map_err(|_| invalid(format!("'{s}' is not an RFC 3339 dateTime")))?
                    .with_timezone(&chrono::Utc);
                if json {
                    Value::from(scim_model::validate::canonical_date_time(&t))
                } else {
                    Value::from(t)
                }
            }
            (AttrType::Complex, _) => {
                return Err(invalid("A complex attribute cannot be compared"))
            }
            (k, v) => {
                return Err(invalid(format!(
                    "Cannot compare a {} attribute with {}",
                    type_name(k),
                    value_name(v)
                )))
            }
        };
        let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
        if substring && !is_text(kind) {
            return Err(invalid("co, sw and ew apply to strings only"));
        }
        let template = match op {
            CompareOp::Eq => "({L} = {V})",
            CompareOp::Ne => "({L} IS NULL OR {L} <> {V})",
            CompareOp::Gt => "({L} > {V})",
            CompareOp::Ge => "({L} >= {V})",
            CompareOp::Lt => "({L} < {V})",
            CompareOp::Le => "({L} <= {V})",
            CompareOp::Co if self.pg() => "(strpos({L}, {V}) > 0)",
            CompareOp::Co => "(instr({L}, {V}) > 0)",
            CompareOp::Sw => "(substr({L}, 1, length(CAST({V} AS text))) = {V})",
            CompareOp::Ew if self.pg() => "(right({L}, length(CAST({V} AS text))) = {V})",
            CompareOp::Ew => "(substr({L}, -length(CAST({V} AS text))) = {V})",
        };
        Ok(Sql::template(template, &lhs, Some(&bound)))
    }

    fn bool_value(&self, b: bool, json: bool) -> Value {
        match (self.pg(), json) {
            (true, true) => Value::from(if b { "true" } else { "false" }),
            (false, true) => Value::from(i64::from(b)),
            (_, false) => Value::from(b),
        }
    }
}

/// The sub-attribute an inner path of `parent[...]` names (`type`, or `emails.type`); the
/// element itself is `value` for simple multi-valued attributes.
fn element_sub(
    parent: &AttributeDef,
    path: &AttrPath,
) -> StoreResult<(Option<String>, AttributeDef)> {
    let name = match (&path.urn, &path.sub) {
        (None, None) => &path.name,
        (None, Some(sub)) if path.name.eq_ignore_ascii_case(&parent.name) => sub,
        _ => {
            return Err(invalid(format!(
                "'{}' is not a sub-attribute of '{}'",
                display_path(path),
                parent.name
            )))
        }
    };
    let missing = || invalid(format!("'{}' has no sub-attribute '{name}'", parent.name));
    if parent.kind != AttrType::Complex {
        return if name.eq_ignore_ascii_case("value") {
            Ok((None, parent.clone()))
        } else {
            Err(missing())
        };
    }
    let def = parent.sub_attribute(name).cloned().ok_or_else(missing)?;
    Ok((Some(def.name.clone()), def))
}

fn is_text(kind: AttrType) -> bool {
    matches!(
        kind,
        AttrType::String | AttrType::Reference | AttrType::Binary | AttrType::DateTime
    )
}

fn type_name(kind: AttrType) -> &'static str {
    match kind {
        AttrType::String => "string",
        AttrType::Boolean => "boolean",
        AttrType::Decimal => "decimal",
        AttrType::Integer => "integer",
        AttrType::DateTime => "dateTime",
        AttrType::Binary => "binary",
        AttrType::Reference => "reference",
        AttrType::Complex => "complex",
    }
}

fn value_name(v: &CompValue) -> &'static str {
    match v {
        CompValue::Null => "null",
        CompValue::Bool(_) => "a boolean",
        CompValue::Number(_) => "a number",
        CompValue::String(_) => "a string",
    }
}

fn display_path(p: &AttrPath) -> String {
    let mut s = String::new();
    if let Some(urn) = &p.urn {
        s.push_str(urn);
        s.push(':');
    }
    s.push_str(&p.name);
    if let Some(sub) = &p.sub {
        s.push('.');
        s.push_str(sub);
    }
    s
}

fn sqlite_path(path: &[String]) -> String {
    let mut s = String::from("$");
    for seg in path {
        if seg.chars().all(|c| c.is_ascii_digit()) {
            s.push_str(&format!("[{seg}]"));
        } else {
            s.push_str(&format!(".\"{}\"", seg.replace('"', "")));
        }
    }
    s
}

fn pg_path(path: &[String]) -> String {
    let items: Vec<String> = path
        .iter()
        .map(|p| format!("\"{}\"", p.replace('"', "")))
        .collect();
    format!("{{{}}}", items.join(","))
}

fn invalid(msg: impl Into<String>) -> StoreError {
    StoreError::InvalidFilter(msg.into())
}
