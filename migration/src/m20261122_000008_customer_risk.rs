//! The at-risk early warning: the latest assessment of each customer with at least one reason; and
//! an index for metric segments by loyalty tier.

use sea_orm_migration::{prelude::*, schema::*};

use crate::{
    m20261122_000001_foundation::{create_index, workspace_fk},
    m20261122_000002_crm::customer_fk,
    m20261122_000004_loyalty::LoyaltyAccount,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CustomerRisk::Table)
                    .col(uuid(CustomerRisk::WorkspaceId))
                    .col(uuid(CustomerRisk::CustomerId))
                    .col(integer(CustomerRisk::Score))
                    .col(integer(CustomerRisk::ReasonMask))
                    .col(json(CustomerRisk::Reasons))
                    .col(text_null(CustomerRisk::EarlyWarning))
                    .col(double_null(CustomerRisk::ProbabilityAlive))
                    .col(big_integer(CustomerRisk::ValueMinor))
                    .col(string_len(CustomerRisk::ValueBasis, 32))
                    .col(big_integer(CustomerRisk::ValueAtRiskMinor))
                    .col(timestamp_with_time_zone(CustomerRisk::AssessedAt))
                    .primary_key(Index::create().col(CustomerRisk::WorkspaceId).col(CustomerRisk::CustomerId))
                    .foreign_key(&mut workspace_fk(CustomerRisk::Table, CustomerRisk::WorkspaceId))
                    .foreign_key(&mut customer_fk(CustomerRisk::Table, CustomerRisk::CustomerId))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("ix_customer_risk_value", CustomerRisk::ValueAtRiskMinor),
            ("ix_customer_risk_score", CustomerRisk::Score),
        ] {
            create_index(
                manager,
                CustomerRisk::Table,
                name,
                &[CustomerRisk::WorkspaceId, column, CustomerRisk::CustomerId],
                false,
            )
            .await?;
        }
        create_index(
            manager,
            LoyaltyAccount::Table,
            "ix_loyalty_account_tier",
            &[LoyaltyAccount::WorkspaceId, LoyaltyAccount::TierId],
            false,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("ix_loyalty_account_tier").table(LoyaltyAccount::Table).to_owned())
            .await?;
        manager.drop_table(Table::drop().table(CustomerRisk::Table).to_owned()).await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum CustomerRisk {
    Table,
    WorkspaceId,
    CustomerId,
    Score,
    ReasonMask,
    Reasons,
    EarlyWarning,
    ProbabilityAlive,
    ValueMinor,
    ValueBasis,
    ValueAtRiskMinor,
    AssessedAt,
}
