//! Fitted predictive models (BG/NBD, Gamma-Gamma) per workspace, with the data's cut-off date.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_foundation::{create_index, workspace_fk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PredictionModel::Table)
                    .col(pk_uuid(PredictionModel::Id))
                    .col(uuid(PredictionModel::WorkspaceId))
                    .col(date(PredictionModel::ObservationEnd))
                    .col(string_len(PredictionModel::TimeUnit, 8))
                    .col(big_integer(PredictionModel::Customers))
                    .col(json(PredictionModel::Bgnbd))
                    .col(json_null(PredictionModel::GammaGamma))
                    .col(json_null(PredictionModel::Holdout))
                    .col(timestamp_with_time_zone(PredictionModel::FittedAt))
                    .col(timestamp_with_time_zone(PredictionModel::CreatedAt))
                    .col(timestamp_with_time_zone(PredictionModel::UpdatedAt))
                    .foreign_key(&mut workspace_fk(PredictionModel::Table, PredictionModel::WorkspaceId))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            PredictionModel::Table,
            "ix_prediction_model_latest",
            &[PredictionModel::WorkspaceId, PredictionModel::FittedAt],
            false,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(PredictionModel::Table).to_owned()).await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum PredictionModel {
    Table,
    Id,
    WorkspaceId,
    ObservationEnd,
    TimeUnit,
    Customers,
    Bgnbd,
    GammaGamma,
    Holdout,
    FittedAt,
    CreatedAt,
    UpdatedAt,
}
