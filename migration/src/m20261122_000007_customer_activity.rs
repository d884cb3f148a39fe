//! The purchase-day rollup behind the retention metrics: one compact row per customer with orders.

use sea_orm_migration::{prelude::*, schema::*};

use crate::{m20261122_000001_foundation::workspace_fk, m20261122_000002_crm::customer_fk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut table = Table::create();
        table
            .table(CustomerActivity::Table)
            .col(uuid(CustomerActivity::WorkspaceId))
            .col(uuid(CustomerActivity::CustomerId))
            .col(integer(CustomerActivity::FirstDay))
            .col(integer(CustomerActivity::LastDay))
            .col(integer(CustomerActivity::Orders))
            .col(blob(CustomerActivity::Days))
            .col(timestamp_with_time_zone(CustomerActivity::UpdatedAt))
            .primary_key(Index::create().col(CustomerActivity::WorkspaceId).col(CustomerActivity::CustomerId))
            .foreign_key(&mut workspace_fk(CustomerActivity::Table, CustomerActivity::WorkspaceId))
            .foreign_key(&mut customer_fk(CustomerActivity::Table, CustomerActivity::CustomerId));
        // Metric queries read all of a workspace's rows: on SQLite, keep them together in the
        // primary-key B-tree instead of looking each one up by rowid.
        if manager.get_database_backend() == sea_orm::DbBackend::Sqlite {
            table.extra("WITHOUT ROWID");
        }
        manager.create_table(table.to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(CustomerActivity::Table).to_owned()).await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum CustomerActivity {
    Table,
    CustomerId,
    WorkspaceId,
    FirstDay,
    LastDay,
    Orders,
    Days,
    UpdatedAt,
}
