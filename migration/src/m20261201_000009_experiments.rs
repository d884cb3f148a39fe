//! A/B tests of retention campaigns: experiments with weighted variants, and which variant each
//! customer of the audience was put in (once, with the end of their measurement window).

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
                    .table(Experiment::Table)
                    .col(pk_uuid(Experiment::Id))
                    .col(uuid(Experiment::WorkspaceId))
                    .col(string_len(Experiment::Name, 200))
                    .col(text_null(Experiment::Hypothesis))
                    .col(string_len(Experiment::Kind, 32))
                    .col(string_len(Experiment::Status, 16))
                    .col(json(Experiment::Variants))
                    .col(string_len(Experiment::ControlVariant, 64))
                    .col(string_len(Experiment::SuccessMetric, 32))
                    .col(integer(Experiment::WindowDays))
                    .col(integer(Experiment::AudienceSize))
                    .col(timestamp_with_time_zone_null(Experiment::StartedAt))
                    .col(timestamp_with_time_zone_null(Experiment::EndedAt))
                    .col(uuid_null(Experiment::CreatedBy))
                    .col(timestamp_with_time_zone(Experiment::CreatedAt))
                    .col(timestamp_with_time_zone(Experiment::UpdatedAt))
                    .foreign_key(&mut workspace_fk(Experiment::Table, Experiment::WorkspaceId))
                    .to_owned(),
            )
            .await?;
        for (name, column) in
            [("ix_experiment_created", Experiment::CreatedAt), ("ix_experiment_status", Experiment::Status)]
        {
            create_index(manager, Experiment::Table, name, &[Experiment::WorkspaceId, column, Experiment::Id], false)
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(ExperimentAssignment::Table)
                    .col(pk_uuid(ExperimentAssignment::Id))
                    .col(uuid(ExperimentAssignment::WorkspaceId))
                    .col(uuid(ExperimentAssignment::ExperimentId))
                    .col(uuid(ExperimentAssignment::CustomerId))
                    .col(string_len(ExperimentAssignment::Variant, 64))
                    .col(timestamp_with_time_zone(ExperimentAssignment::AssignedAt))
                    .col(timestamp_with_time_zone(ExperimentAssignment::WindowEndsAt))
                    .foreign_key(&mut workspace_fk(ExperimentAssignment::Table, ExperimentAssignment::WorkspaceId))
                    .foreign_key(&mut customer_fk(ExperimentAssignment::Table, ExperimentAssignment::CustomerId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ExperimentAssignment::Table, ExperimentAssignment::ExperimentId)
                            .to(Experiment::Table, Experiment::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        use ExperimentAssignment as A;
        create_index(manager, A::Table, "ux_experiment_assignment", &[A::ExperimentId, A::CustomerId], true).await?;
        create_index(
            manager,
            A::Table,
            "ix_experiment_assignment_variant",
            &[A::ExperimentId, A::Variant, A::Id],
            false,
        )
        .await?;
        create_index(manager, A::Table, "ix_experiment_assignment_customer", &[A::WorkspaceId, A::CustomerId], false)
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ExperimentAssignment::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Experiment::Table).to_owned()).await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Experiment {
    Table,
    Id,
    WorkspaceId,
    Name,
    Hypothesis,
    Kind,
    Status,
    Variants,
    ControlVariant,
    SuccessMetric,
    WindowDays,
    AudienceSize,
    StartedAt,
    EndedAt,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ExperimentAssignment {
    Table,
    Id,
    WorkspaceId,
    ExperimentId,
    CustomerId,
    Variant,
    AssignedAt,
    WindowEndsAt,
}
