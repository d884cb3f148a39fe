//! Loyalty: tiers, one account per customer, the points ledger, tier history, rewards and
//! redemptions (coupons).

use sea_orm_migration::{prelude::*, schema::*};

use crate::{
    m20261122_000001_foundation::{create_index, workspace_fk},
    m20261122_000002_crm::Customer,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tier::Table)
                    .col(pk_uuid(Tier::Id))
                    .col(uuid(Tier::WorkspaceId))
                    .col(string(Tier::Name))
                    .col(integer(Tier::Rank))
                    .col(big_integer(Tier::MinPoints))
                    .col(integer(Tier::MultiplierPercent))
                    .col(json(Tier::Perks))
                    .col(timestamp_with_time_zone(Tier::CreatedAt))
                    .col(timestamp_with_time_zone(Tier::UpdatedAt))
                    .foreign_key(&mut workspace_fk(Tier::Table, Tier::WorkspaceId))
                    .to_owned(),
            )
            .await?;
        create_index(manager, Tier::Table, "ux_tier_rank", &[Tier::WorkspaceId, Tier::Rank], true).await?;

        manager
            .create_table(
                Table::create()
                    .table(LoyaltyAccount::Table)
                    .col(pk_uuid(LoyaltyAccount::Id))
                    .col(uuid(LoyaltyAccount::WorkspaceId))
                    .col(uuid(LoyaltyAccount::CustomerId))
                    .col(big_integer(LoyaltyAccount::PointsBalance))
                    .col(big_integer(LoyaltyAccount::LifetimePoints))
                    .col(big_integer(LoyaltyAccount::DebtPoints))
                    .col(uuid_null(LoyaltyAccount::TierId))
                    .col(string(LoyaltyAccount::ReferralCode))
                    .col(big_integer(LoyaltyAccount::Version))
                    .col(timestamp_with_time_zone(LoyaltyAccount::CreatedAt))
                    .col(timestamp_with_time_zone(LoyaltyAccount::UpdatedAt))
                    .foreign_key(&mut workspace_fk(LoyaltyAccount::Table, LoyaltyAccount::WorkspaceId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(LoyaltyAccount::Table, LoyaltyAccount::CustomerId)
                            .to(Customer::Table, Customer::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(LoyaltyAccount::Table, LoyaltyAccount::TierId)
                            .to(Tier::Table, Tier::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            LoyaltyAccount::Table,
            "ux_loyalty_account_customer",
            &[LoyaltyAccount::CustomerId],
            true,
        )
        .await?;
        create_index(
            manager,
            LoyaltyAccount::Table,
            "ux_loyalty_account_referral_code",
            &[LoyaltyAccount::ReferralCode],
            true,
        )
        .await?;
        create_index(
            manager,
            LoyaltyAccount::Table,
            "ix_loyalty_account_workspace",
            &[LoyaltyAccount::WorkspaceId, LoyaltyAccount::CreatedAt, LoyaltyAccount::Id],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(PointsTransaction::Table)
                    .col(pk_uuid(PointsTransaction::Id))
                    .col(uuid(PointsTransaction::WorkspaceId))
                    .col(uuid(PointsTransaction::AccountId))
                    .col(string_len(PointsTransaction::Kind, 32))
                    .col(big_integer(PointsTransaction::Points))
                    .col(uuid_null(PointsTransaction::OrderId))
                    .col(text_null(PointsTransaction::Reason))
                    .col(string_null(PointsTransaction::IdempotencyKey))
                    .col(timestamp_with_time_zone_null(PointsTransaction::ExpiresAt))
                    .col(uuid_null(PointsTransaction::LotId))
                    .col(string_len(PointsTransaction::ActorKind, 16))
                    .col(uuid_null(PointsTransaction::ActorId))
                    .col(timestamp_with_time_zone(PointsTransaction::CreatedAt))
                    .col(timestamp_with_time_zone(PointsTransaction::UpdatedAt))
                    .foreign_key(&mut workspace_fk(PointsTransaction::Table, PointsTransaction::WorkspaceId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(PointsTransaction::Table, PointsTransaction::AccountId)
                            .to(LoyaltyAccount::Table, LoyaltyAccount::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // A retried points change finds its first attempt here instead of counting twice.
        create_index(
            manager,
            PointsTransaction::Table,
            "ux_points_transaction_key",
            &[PointsTransaction::WorkspaceId, PointsTransaction::IdempotencyKey],
            true,
        )
        .await?;
        create_index(
            manager,
            PointsTransaction::Table,
            "ix_points_transaction_account",
            &[PointsTransaction::AccountId, PointsTransaction::CreatedAt],
            false,
        )
        .await?;
        create_index(
            manager,
            PointsTransaction::Table,
            "ix_points_transaction_order",
            &[PointsTransaction::OrderId],
            false,
        )
        .await?;
        create_index(
            manager,
            PointsTransaction::Table,
            "ix_points_transaction_expiry",
            &[PointsTransaction::WorkspaceId, PointsTransaction::ExpiresAt],
            false,
        )
        .await?;
        create_index(
            manager,
            PointsTransaction::Table,
            "ix_points_transaction_lot",
            &[PointsTransaction::LotId],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(TierChange::Table)
                    .col(pk_uuid(TierChange::Id))
                    .col(uuid(TierChange::WorkspaceId))
                    .col(uuid(TierChange::AccountId))
                    .col(uuid_null(TierChange::FromTierId))
                    .col(uuid_null(TierChange::ToTierId))
                    .col(text(TierChange::Reason))
                    .col(timestamp_with_time_zone(TierChange::CreatedAt))
                    .col(timestamp_with_time_zone(TierChange::UpdatedAt))
                    .foreign_key(&mut workspace_fk(TierChange::Table, TierChange::WorkspaceId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(TierChange::Table, TierChange::AccountId)
                            .to(LoyaltyAccount::Table, LoyaltyAccount::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            TierChange::Table,
            "ix_tier_change_account",
            &[TierChange::AccountId, TierChange::CreatedAt],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Reward::Table)
                    .col(pk_uuid(Reward::Id))
                    .col(uuid(Reward::WorkspaceId))
                    .col(string(Reward::Name))
                    .col(text_null(Reward::Description))
                    .col(string_len(Reward::Kind, 32))
                    .col(big_integer_null(Reward::Value))
                    .col(big_integer(Reward::CostPoints))
                    .col(integer_null(Reward::MinTierRank))
                    .col(big_integer_null(Reward::Stock))
                    .col(timestamp_with_time_zone_null(Reward::ActiveFrom))
                    .col(timestamp_with_time_zone_null(Reward::ActiveTo))
                    .col(integer(Reward::CouponValidDays))
                    .col(timestamp_with_time_zone(Reward::CreatedAt))
                    .col(timestamp_with_time_zone(Reward::UpdatedAt))
                    .foreign_key(&mut workspace_fk(Reward::Table, Reward::WorkspaceId))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            Reward::Table,
            "ix_reward_workspace",
            &[Reward::WorkspaceId, Reward::CostPoints, Reward::Id],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Redemption::Table)
                    .col(pk_uuid(Redemption::Id))
                    .col(uuid(Redemption::WorkspaceId))
                    .col(uuid(Redemption::AccountId))
                    .col(uuid(Redemption::RewardId))
                    .col(big_integer(Redemption::Points))
                    .col(string(Redemption::CouponCode))
                    .col(string_len(Redemption::Status, 16))
                    .col(timestamp_with_time_zone(Redemption::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Redemption::UsedAt))
                    .col(uuid_null(Redemption::UsedOrderId))
                    .col(timestamp_with_time_zone_null(Redemption::CancelledAt))
                    .col(string(Redemption::IdempotencyKey))
                    .col(timestamp_with_time_zone(Redemption::CreatedAt))
                    .col(timestamp_with_time_zone(Redemption::UpdatedAt))
                    .foreign_key(&mut workspace_fk(Redemption::Table, Redemption::WorkspaceId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Redemption::Table, Redemption::AccountId)
                            .to(LoyaltyAccount::Table, LoyaltyAccount::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Redemption::Table, Redemption::RewardId)
                            .to(Reward::Table, Reward::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        create_index(manager, Redemption::Table, "ux_redemption_coupon", &[Redemption::CouponCode], true).await?;
        create_index(
            manager,
            Redemption::Table,
            "ux_redemption_key",
            &[Redemption::WorkspaceId, Redemption::IdempotencyKey],
            true,
        )
        .await?;
        create_index(
            manager,
            Redemption::Table,
            "ix_redemption_account",
            &[Redemption::AccountId, Redemption::CreatedAt],
            false,
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Redemption::Table.into_iden(),
            Reward::Table.into_iden(),
            TierChange::Table.into_iden(),
            PointsTransaction::Table.into_iden(),
            LoyaltyAccount::Table.into_iden(),
            Tier::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Tier {
    Table,
    Id,
    WorkspaceId,
    Name,
    Rank,
    MinPoints,
    MultiplierPercent,
    Perks,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum LoyaltyAccount {
    Table,
    Id,
    WorkspaceId,
    CustomerId,
    PointsBalance,
    LifetimePoints,
    DebtPoints,
    TierId,
    ReferralCode,
    Version,
    CreatedAt,
    UpdatedAt,
    PendingPoints,
    TierSince,
    BelowTierSince,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum PointsTransaction {
    Table,
    Id,
    WorkspaceId,
    AccountId,
    Kind,
    Points,
    OrderId,
    Reason,
    IdempotencyKey,
    ExpiresAt,
    LotId,
    ActorKind,
    ActorId,
    CreatedAt,
    UpdatedAt,
    Pending,
    AvailableAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum TierChange {
    Table,
    Id,
    WorkspaceId,
    AccountId,
    FromTierId,
    ToTierId,
    Reason,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Reward {
    Table,
    Id,
    WorkspaceId,
    Name,
    Description,
    Kind,
    Value,
    CostPoints,
    MinTierRank,
    Stock,
    ActiveFrom,
    ActiveTo,
    CouponValidDays,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Redemption {
    Table,
    Id,
    WorkspaceId,
    AccountId,
    RewardId,
    Points,
    CouponCode,
    Status,
    ExpiresAt,
    UsedAt,
    UsedOrderId,
    CancelledAt,
    IdempotencyKey,
    CreatedAt,
    UpdatedAt,
}
