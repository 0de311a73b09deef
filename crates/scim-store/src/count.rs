//! `COUNT(*)` over a query, read as a 64-bit integer on every backend (sea-orm's own `count`
//! reads a 32-bit one on SQLite).

use sea_orm::{
    sea_query::{Alias, Expr, Query},
    ConnectionTrait, DbErr, EntityTrait, QueryTrait, Select,
};

/// The statement counting the rows `select` matches, as `num_items`.
pub(crate) fn count_statement<E: EntityTrait>(
    select: Select<E>,
    backend: sea_orm::DbBackend,
) -> sea_orm::Statement {
    let mut inner = select.into_query();
    inner.clear_order_by().reset_limit().reset_offset();
    let stmt = Query::select()
        .expr_as(Expr::cust("COUNT(*)"), Alias::new("num_items"))
        .from_subquery(inner, Alias::new("sub_query"))
        .to_owned();
    backend.build(&stmt)
}

/// How many rows `select` matches.
pub(crate) async fn count<E: EntityTrait, C: ConnectionTrait>(
    select: Select<E>,
    db: &C,
) -> Result<u64, DbErr> {
    let row = db
        .query_one(count_statement(select, db.get_database_backend()))
        .await?;
    let n: i64 = match row {
        Some(row) => row.try_get("", "num_items")?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}
