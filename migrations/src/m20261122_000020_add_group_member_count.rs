//! `groups.member_count`: kept up to date by every membership change, in the same transaction,
//! so that deciding how to answer a PATCH never counts a million rows.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Groups {
    Table,
    MemberCount,
}

#[derive(DeriveIden)]
enum GroupMembers {
    Table,
    GroupId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Groups::Table)
                    .add_column(
                        ColumnDef::new(Groups::MemberCount)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        // Existing groups get their current count.
        let count = Query::select()
            .expr(Expr::col((GroupMembers::Table, GroupMembers::GroupId)).count())
            .from(GroupMembers::Table)
            .and_where(
                Expr::col((GroupMembers::Table, GroupMembers::GroupId))
                    .equals((Alias::new("groups"), Alias::new("id"))),
            )
            .to_owned();
        manager
            .exec_stmt(
                Query::update()
                    .table(Groups::Table)
                    .value(
                        Groups::MemberCount,
                        SimpleExpr::SubQuery(None, Box::new(count.into_sub_query_statement())),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Groups::Table)
                    .drop_column(Groups::MemberCount)
                    .to_owned(),
            )
            .await
    }
}
