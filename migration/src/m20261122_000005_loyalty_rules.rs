//! Loyalty rules: pending points, tier periods for downgrades, referrals, and one-time login
//! codes for customers (mobile apps).

use sea_orm_migration::{prelude::*, schema::*};

use crate::{
    m20261122_000001_foundation::{create_index, workspace_fk},
    m20261122_000002_crm::Customer,
    m20261122_000004_loyalty::{LoyaltyAccount, PointsTransaction},
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite cannot add several in one ALTER TABLE.
        for column in [
            big_integer(LoyaltyAccount::PendingPoints).default(0).to_owned(),
            timestamp_with_time_zone_null(LoyaltyAccount::TierSince),
            timestamp_with_time_zone_null(LoyaltyAccount::BelowTierSince),
        ] {
            let mut column = column;
            manager.alter_table(Table::alter().table(LoyaltyAccount::Table).add_column(&mut column).to_owned()).await?;
        }
        for column in [
            boolean(PointsTransaction::Pending).default(false).to_owned(),
            timestamp_with_time_zone_null(PointsTransaction::AvailableAt),
        ] {
            let mut column = column;
            manager
                .alter_table(Table::alter().table(PointsTransaction::Table).add_column(&mut column).to_owned())
                .await?;
        }
        // The release job finds pending points that became spendable.
        create_index(
            manager,
            PointsTransaction::Table,
            "ix_points_transaction_pending",
            &[PointsTransaction::Pending, PointsTransaction::AvailableAt],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Referral::Table)
                    .col(pk_uuid(Referral::Id))
                    .col(uuid(Referral::WorkspaceId))
                    .col(uuid(Referral::ReferrerAccountId))
                    .col(uuid_null(Referral::RefereeCustomerId))
                    .col(uuid_null(Referral::RefereeLeadId))
                    .col(string_len(Referral::Status, 16))
                    .col(text_null(Referral::RefusalReason))
                    .col(uuid_null(Referral::QualifyingOrderId))
                    .col(timestamp_with_time_zone_null(Referral::QualifiedAt))
                    .col(timestamp_with_time_zone_null(Referral::RewardDueAt))
                    .col(timestamp_with_time_zone_null(Referral::RewardedAt))
                    .col(timestamp_with_time_zone(Referral::CreatedAt))
                    .col(timestamp_with_time_zone(Referral::UpdatedAt))
                    .foreign_key(&mut workspace_fk(Referral::Table, Referral::WorkspaceId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Referral::Table, Referral::ReferrerAccountId)
                            .to(LoyaltyAccount::Table, LoyaltyAccount::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            Referral::Table,
            "ix_referral_referrer",
            &[Referral::ReferrerAccountId, Referral::CreatedAt, Referral::Id],
            false,
        )
        .await?;
        create_index(manager, Referral::Table, "ix_referral_referee_customer", &[Referral::RefereeCustomerId], false)
            .await?;
        create_index(manager, Referral::Table, "ix_referral_referee_lead", &[Referral::RefereeLeadId], false).await?;
        create_index(
            manager,
            Referral::Table,
            "ix_referral_due",
            &[Referral::WorkspaceId, Referral::Status, Referral::RewardDueAt],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(CustomerLoginCode::Table)
                    .col(pk_uuid(CustomerLoginCode::Id))
                    .col(uuid(CustomerLoginCode::WorkspaceId))
                    .col(uuid(CustomerLoginCode::CustomerId))
                    .col(string(CustomerLoginCode::CodeHash))
                    .col(timestamp_with_time_zone(CustomerLoginCode::ExpiresAt))
                    .col(timestamp_with_time_zone_null(CustomerLoginCode::UsedAt))
                    .col(timestamp_with_time_zone(CustomerLoginCode::CreatedAt))
                    .col(timestamp_with_time_zone(CustomerLoginCode::UpdatedAt))
                    .foreign_key(&mut workspace_fk(CustomerLoginCode::Table, CustomerLoginCode::WorkspaceId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(CustomerLoginCode::Table, CustomerLoginCode::CustomerId)
                            .to(Customer::Table, Customer::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        create_index(manager, CustomerLoginCode::Table, "ux_customer_login_code", &[CustomerLoginCode::CodeHash], true)
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(CustomerLoginCode::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Referral::Table).to_owned()).await?;
        manager
            .drop_index(Index::drop().name("ix_points_transaction_pending").table(PointsTransaction::Table).to_owned())
            .await?;
        for column in [PointsTransaction::Pending, PointsTransaction::AvailableAt] {
            manager.alter_table(Table::alter().table(PointsTransaction::Table).drop_column(column).to_owned()).await?;
        }
        for column in [LoyaltyAccount::PendingPoints, LoyaltyAccount::TierSince, LoyaltyAccount::BelowTierSince] {
            manager.alter_table(Table::alter().table(LoyaltyAccount::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Referral {
    Table,
    Id,
    WorkspaceId,
    ReferrerAccountId,
    RefereeCustomerId,
    RefereeLeadId,
    Status,
    RefusalReason,
    QualifyingOrderId,
    QualifiedAt,
    RewardDueAt,
    RewardedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CustomerLoginCode {
    Table,
    Id,
    WorkspaceId,
    CustomerId,
    CodeHash,
    ExpiresAt,
    UsedAt,
    CreatedAt,
    UpdatedAt,
}
