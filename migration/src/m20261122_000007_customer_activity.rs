//! The purchase-day rollup behind the retention metrics: one compact row per customer with orders.

use sea_orm_migration::{prelude::*, schema::*};

use crate::{
    m20261122_000001_foundation::{create_index, workspace_fk},
    m20261122_000002_crm::customer_fk,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CustomerActivity::Table)
                    .col(pk_uuid(CustomerActivity::CustomerId))
                    .col(uuid(CustomerActivity::WorkspaceId))
                    .col(integer(CustomerActivity::FirstDay))
                    .col(integer(CustomerActivity::LastDay))
                    .col(integer(CustomerActivity::Orders))
                    .col(blob(CustomerActivity::Days))
                    .col(timestamp_with_time_zone(CustomerActivity::UpdatedAt))
                    .foreign_key(&mut workspace_fk(CustomerActivity::Table, CustomerActivity::WorkspaceId))
                    .foreign_key(&mut customer_fk(CustomerActivity::Table, CustomerActivity::CustomerId))
                    .to_owned(),
            )
            .await?;
        // Metric queries skip customers whose last purchase is before the span they look at.
        create_index(
            manager,
            CustomerActivity::Table,
            "ix_customer_activity_workspace_last_day",
            &[CustomerActivity::WorkspaceId, CustomerActivity::LastDay],
            false,
        )
        .await
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
