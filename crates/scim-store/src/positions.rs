//! Where a deep `startIndex` page of an unfiltered, unsorted list starts, without stepping over
//! every row before it (issue 23, deep lists): an Okta import walks 1,000,000 users by
//! `startIndex` in 10,000 pages, and a page at depth `o` stepped over `o` index entries (~60 ns
//! each on SQLite), so the walk was quadratic.
//!
//! A [`SparseIndex`] holds the id at every [`STRIDE`]th position of a tenant's resources of one
//! kind in id order, read in one scan, with the tenant's change count (`resource_counts.changes`,
//! which every insert and delete moves) at that moment. A deep page then starts after the id of
//! the stride before it and steps over fewer than [`STRIDE`] rows. Each page reads the change
//! count in its own statement: the page is kept only if nothing was added or removed since the
//! index was read (else the index is read again, and while writes keep coming the page steps
//! over its rows as before). So a page is exactly the page `OFFSET` would give, on any process:
//! each process reads the index once per state of the tenant (a walk behind two processes
//! round-robin reads it twice), not once per page.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use scim_model::ResourceKind;
use sea_orm::{
    sea_query::{Expr, Query, SimpleExpr},
    DbBackend, Statement,
};

use crate::TenantId;

/// Positions between two ids of an index.
pub(crate) const STRIDE: u64 = 1000;
/// Pages starting before this position step over their rows (a millisecond at most); deeper
/// ones read and use an index.
pub(crate) const DEEP: u64 = 10_000;
/// Indexes kept per process (1,000 ids of ~40 bytes each per million resources).
const KEPT: usize = 64;

/// The id at every [`STRIDE`]th position, read when the tenant's change count was `version`.
#[derive(Debug)]
pub(crate) struct SparseIndex {
    pub(crate) version: i64,
    /// `ids[k]` is the id at 0-based position `(k + 1) * STRIDE - 1`.
    pub(crate) ids: Vec<String>,
}

impl SparseIndex {
    /// For a page starting at 0-based `offset`: the id to start after and the rows to step over
    /// after it; `None` before the first stride or past the index.
    pub(crate) fn seek(&self, offset: u64) -> Option<(&str, u64)> {
        let strides = offset / STRIDE;
        let k = usize::try_from(strides.checked_sub(1)?).ok()?;
        let id = self.ids.get(k)?;
        Some((id.as_str(), offset - strides * STRIDE))
    }
}

/// The tenant's change count for `kind` (as `list_version` beside each row of a page): a page
/// read with it was read in the state it names (one statement, one snapshot).
pub(crate) fn version_expr(tenant: &TenantId, kind: ResourceKind) -> SimpleExpr {
    use crate::entity::resource_count;
    use sea_orm::ColumnTrait;
    let changes = Query::select()
        .expr(Expr::cust("CAST(COALESCE(SUM(changes), 0) AS BIGINT)"))
        .from(resource_count::Entity)
        .and_where(resource_count::Column::TenantId.eq(tenant.as_str()))
        .and_where(resource_count::Column::Kind.eq(kind.name()))
        .to_owned();
    SimpleExpr::SubQuery(None, Box::new(changes.into_sub_query_statement()))
}

/// The ids at every [`STRIDE`]th position of the tenant's resources of `kind` in id order, each
/// row with the tenant's change count (one statement: both from one state).
pub(crate) fn index_statement(
    backend: DbBackend,
    tenant: &TenantId,
    kind: ResourceKind,
) -> Statement {
    let table = match kind {
        ResourceKind::User => "users",
        ResourceKind::Group => "groups",
    };
    let [p1, p2, p3] = match backend {
        DbBackend::Postgres => ["$1", "$2", "$3"],
        _ => ["?", "?", "?"],
    };
    Statement::from_sql_and_values(
        backend,
        format!(
            "SELECT n.id AS id, (SELECT CAST(COALESCE(SUM(c.changes), 0) AS BIGINT) \
             FROM resource_counts c WHERE c.tenant_id = {p1} AND c.kind = {p2}) AS list_version \
             FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS rn FROM {table} \
             WHERE tenant_id = {p3}) n WHERE n.rn % {STRIDE} = 0 ORDER BY n.id"
        ),
        [
            tenant.as_str().into(),
            kind.name().into(),
            tenant.as_str().into(),
        ],
    )
}

/// This process's indexes, by tenant and kind.
#[derive(Debug, Default)]
pub(crate) struct Positions {
    kept: Mutex<HashMap<(String, ResourceKind), Arc<SparseIndex>>>,
}

impl Positions {
    pub(crate) fn get(&self, tenant: &TenantId, kind: ResourceKind) -> Option<Arc<SparseIndex>> {
        lock(&self.kept)
            .get(&(tenant.as_str().to_owned(), kind))
            .cloned()
    }

    pub(crate) fn put(&self, tenant: &TenantId, kind: ResourceKind, index: Arc<SparseIndex>) {
        let mut kept = lock(&self.kept);
        if kept.len() >= KEPT {
            kept.clear();
        }
        kept.insert((tenant.as_str().to_owned(), kind), index);
    }

    pub(crate) fn forget(&self, tenant: &TenantId, kind: ResourceKind) {
        lock(&self.kept).remove(&(tenant.as_str().to_owned(), kind));
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_starts_after_the_stride_before_it() {
        let index = SparseIndex {
            version: 7,
            ids: (1..=3).map(|k| format!("id{}", k * STRIDE - 1)).collect(),
        };
        assert_eq!(index.seek(0), None);
        assert_eq!(index.seek(STRIDE - 1), None);
        // Position STRIDE is the first after id STRIDE - 1: nothing to step over.
        assert_eq!(index.seek(STRIDE), Some(("id999", 0)));
        assert_eq!(index.seek(STRIDE + 250), Some(("id999", 250)));
        assert_eq!(index.seek(3 * STRIDE + 5), Some(("id2999", 5)));
        assert_eq!(index.seek(4 * STRIDE), None, "past the index");
    }
}
