//! The complaint desk: tickets and their event log, SLA policies and clocks, business hours,
//! holidays, agent groups, and the per-workspace ticket number counter.

use sea_orm_migration::{prelude::*, schema::*};

use crate::{
    m20261122_000001_foundation::{User, create_index, workspace_fk},
    m20261122_000002_crm::{Customer, user_fk},
};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn ticket_fk<T: IntoIden + Copy + 'static>(table: T, column: T) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Ticket::Table, Ticket::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AgentGroup::Table)
                    .col(pk_uuid(AgentGroup::Id))
                    .col(uuid(AgentGroup::WorkspaceId))
                    .col(string(AgentGroup::Name))
                    .col(integer(AgentGroup::EscalationLevel))
                    .col(timestamp_with_time_zone(AgentGroup::CreatedAt))
                    .col(timestamp_with_time_zone(AgentGroup::UpdatedAt))
                    .foreign_key(&mut workspace_fk(AgentGroup::Table, AgentGroup::WorkspaceId))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            AgentGroup::Table,
            "ux_agent_group_name",
            &[AgentGroup::WorkspaceId, AgentGroup::Name],
            true,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(AgentGroupMember::Table)
                    .col(pk_uuid(AgentGroupMember::Id))
                    .col(uuid(AgentGroupMember::WorkspaceId))
                    .col(uuid(AgentGroupMember::GroupId))
                    .col(uuid(AgentGroupMember::UserId))
                    .col(integer_null(AgentGroupMember::Capacity))
                    .col(timestamp_with_time_zone_null(AgentGroupMember::LastAssignedAt))
                    .col(timestamp_with_time_zone(AgentGroupMember::CreatedAt))
                    .col(timestamp_with_time_zone(AgentGroupMember::UpdatedAt))
                    .foreign_key(&mut workspace_fk(AgentGroupMember::Table, AgentGroupMember::WorkspaceId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(AgentGroupMember::Table, AgentGroupMember::GroupId)
                            .to(AgentGroup::Table, AgentGroup::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AgentGroupMember::Table, AgentGroupMember::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            AgentGroupMember::Table,
            "ux_agent_group_member",
            &[AgentGroupMember::GroupId, AgentGroupMember::UserId],
            true,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Ticket::Table)
                    .col(pk_uuid(Ticket::Id))
                    .col(uuid(Ticket::WorkspaceId))
                    .col(big_integer(Ticket::Number))
                    .col(string_len(Ticket::Kind, 16))
                    .col(uuid_null(Ticket::CustomerId))
                    .col(string_null(Ticket::ContactName))
                    .col(string_null(Ticket::ContactEmail))
                    .col(string_null(Ticket::ContactPhone))
                    .col(string(Ticket::Subject))
                    .col(text(Ticket::Body))
                    .col(string_len(Ticket::Channel, 16))
                    .col(string_len(Ticket::Category, 32))
                    .col(string_len(Ticket::Priority, 16))
                    .col(integer(Ticket::PriorityRank))
                    .col(string_len(Ticket::Status, 32))
                    .col(boolean(Ticket::IsPublic))
                    .col(uuid_null(Ticket::AssigneeId))
                    .col(uuid_null(Ticket::GroupId))
                    .col(integer(Ticket::EscalationLevel))
                    .col(string_null(Ticket::RootCause))
                    .col(boolean_null(Ticket::CustomerError))
                    .col(text_null(Ticket::Resolution))
                    .col(integer_null(Ticket::Satisfaction))
                    .col(integer(Ticket::ReopenCount))
                    .col(uuid_null(Ticket::MergedIntoId))
                    .col(string_len(Ticket::SlaStatus, 16))
                    .col(boolean(Ticket::SlaBreached))
                    .col(timestamp_with_time_zone_null(Ticket::SlaNextCheckAt))
                    .col(timestamp_with_time_zone_null(Ticket::FirstResponseDueAt))
                    .col(timestamp_with_time_zone_null(Ticket::FirstRespondedAt))
                    .col(big_integer_null(Ticket::FirstResponseBusinessSecs))
                    .col(timestamp_with_time_zone_null(Ticket::NextReplyDueAt))
                    .col(timestamp_with_time_zone_null(Ticket::ResolutionDueAt))
                    .col(timestamp_with_time_zone_null(Ticket::ResolutionClockStartedAt))
                    .col(big_integer(Ticket::ResolutionElapsedBusinessSecs))
                    .col(big_integer_null(Ticket::ResolutionBusinessSecs))
                    .col(timestamp_with_time_zone_null(Ticket::ResolvedAt))
                    .col(timestamp_with_time_zone_null(Ticket::ClosedAt))
                    .col(timestamp_with_time_zone(Ticket::CreatedAt))
                    .col(timestamp_with_time_zone(Ticket::UpdatedAt))
                    .foreign_key(&mut workspace_fk(Ticket::Table, Ticket::WorkspaceId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Ticket::Table, Ticket::CustomerId)
                            .to(Customer::Table, Customer::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(&mut user_fk(Ticket::Table, Ticket::AssigneeId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Ticket::Table, Ticket::GroupId)
                            .to(AgentGroup::Table, AgentGroup::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        create_index(manager, Ticket::Table, "ux_ticket_number", &[Ticket::WorkspaceId, Ticket::Number], true).await?;
        create_index(
            manager,
            Ticket::Table,
            "ix_ticket_status",
            &[Ticket::WorkspaceId, Ticket::Status, Ticket::CreatedAt, Ticket::Id],
            false,
        )
        .await?;
        create_index(
            manager,
            Ticket::Table,
            "ix_ticket_created",
            &[Ticket::WorkspaceId, Ticket::CreatedAt, Ticket::Id],
            false,
        )
        .await?;
        create_index(manager, Ticket::Table, "ix_ticket_customer", &[Ticket::CustomerId, Ticket::Status], false)
            .await?;
        create_index(manager, Ticket::Table, "ix_ticket_assignee", &[Ticket::AssigneeId, Ticket::Status], false)
            .await?;
        create_index(manager, Ticket::Table, "ix_ticket_sla_check", &[Ticket::SlaNextCheckAt], false).await?;
        if manager.get_database_backend() == sea_orm::DbBackend::Postgres {
            // Due-time orders sort `COALESCE(due, far future)` (open tickets first, stopped clocks
            // last); these indexes let a page of the most urgent open tickets skip the sort.
            for column in ["resolution_due_at", "first_response_due_at"] {
                manager
                    .get_connection()
                    .execute_unprepared(&format!(
                        "CREATE INDEX ix_ticket_{column}_sort ON ticket \
                         (workspace_id, (COALESCE({column}, '9999-12-31T23:59:59Z'::timestamptz)), id)"
                    ))
                    .await?;
            }
        }
        manager
            .create_table(
                Table::create()
                    .table(TicketEvent::Table)
                    .col(pk_uuid(TicketEvent::Id))
                    .col(uuid(TicketEvent::WorkspaceId))
                    .col(uuid(TicketEvent::TicketId))
                    .col(string_len(TicketEvent::Kind, 32))
                    .col(string_len(TicketEvent::Visibility, 16))
                    .col(string_len(TicketEvent::ActorKind, 16))
                    .col(uuid_null(TicketEvent::ActorId))
                    .col(text_null(TicketEvent::Body))
                    .col(string_null(TicketEvent::FromValue))
                    .col(string_null(TicketEvent::ToValue))
                    .col(timestamp_with_time_zone(TicketEvent::CreatedAt))
                    .col(timestamp_with_time_zone(TicketEvent::UpdatedAt))
                    .foreign_key(&mut workspace_fk(TicketEvent::Table, TicketEvent::WorkspaceId))
                    .foreign_key(&mut ticket_fk(TicketEvent::Table, TicketEvent::TicketId))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            TicketEvent::Table,
            "ix_ticket_event_ticket",
            &[TicketEvent::TicketId, TicketEvent::CreatedAt],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(SlaEvent::Table)
                    .col(pk_uuid(SlaEvent::Id))
                    .col(uuid(SlaEvent::WorkspaceId))
                    .col(uuid(SlaEvent::TicketId))
                    .col(string_len(SlaEvent::Metric, 16))
                    .col(string_len(SlaEvent::Kind, 16))
                    .col(timestamp_with_time_zone_null(SlaEvent::DueAt))
                    .col(string_null(SlaEvent::DedupeKey))
                    .col(timestamp_with_time_zone(SlaEvent::OccurredAt))
                    .col(timestamp_with_time_zone(SlaEvent::CreatedAt))
                    .col(timestamp_with_time_zone(SlaEvent::UpdatedAt))
                    .foreign_key(&mut workspace_fk(SlaEvent::Table, SlaEvent::WorkspaceId))
                    .foreign_key(&mut ticket_fk(SlaEvent::Table, SlaEvent::TicketId))
                    .to_owned(),
            )
            .await?;
        // A warning or a breach of one clock cycle is recorded once, whichever instance sees it.
        create_index(manager, SlaEvent::Table, "ux_sla_event_dedupe", &[SlaEvent::TicketId, SlaEvent::DedupeKey], true)
            .await?;
        create_index(
            manager,
            SlaEvent::Table,
            "ix_sla_event_ticket",
            &[SlaEvent::TicketId, SlaEvent::OccurredAt],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(SlaPolicy::Table)
                    .col(pk_uuid(SlaPolicy::Id))
                    .col(uuid(SlaPolicy::WorkspaceId))
                    .col(string_len(SlaPolicy::Priority, 16))
                    .col(integer(SlaPolicy::FirstResponseMinutes))
                    .col(integer(SlaPolicy::NextReplyMinutes))
                    .col(integer(SlaPolicy::ResolutionMinutes))
                    .col(integer(SlaPolicy::WarningMinutes))
                    .col(string_len(SlaPolicy::BreachAction, 16))
                    .col(timestamp_with_time_zone(SlaPolicy::CreatedAt))
                    .col(timestamp_with_time_zone(SlaPolicy::UpdatedAt))
                    .foreign_key(&mut workspace_fk(SlaPolicy::Table, SlaPolicy::WorkspaceId))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            SlaPolicy::Table,
            "ux_sla_policy_priority",
            &[SlaPolicy::WorkspaceId, SlaPolicy::Priority],
            true,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(BusinessHours::Table)
                    .col(pk_uuid(BusinessHours::Id))
                    .col(uuid(BusinessHours::WorkspaceId))
                    .col(integer(BusinessHours::Weekday))
                    .col(integer(BusinessHours::StartMinute))
                    .col(integer(BusinessHours::EndMinute))
                    .col(timestamp_with_time_zone(BusinessHours::CreatedAt))
                    .col(timestamp_with_time_zone(BusinessHours::UpdatedAt))
                    .foreign_key(&mut workspace_fk(BusinessHours::Table, BusinessHours::WorkspaceId))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            BusinessHours::Table,
            "ix_business_hours_workspace",
            &[BusinessHours::WorkspaceId],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Holiday::Table)
                    .col(pk_uuid(Holiday::Id))
                    .col(uuid(Holiday::WorkspaceId))
                    .col(date(Holiday::Date))
                    .col(string(Holiday::Name))
                    .col(timestamp_with_time_zone(Holiday::CreatedAt))
                    .col(timestamp_with_time_zone(Holiday::UpdatedAt))
                    .foreign_key(&mut workspace_fk(Holiday::Table, Holiday::WorkspaceId))
                    .to_owned(),
            )
            .await?;
        create_index(manager, Holiday::Table, "ux_holiday_date", &[Holiday::WorkspaceId, Holiday::Date], true).await?;

        manager
            .create_table(
                Table::create()
                    .table(TicketCounter::Table)
                    .col(pk_uuid(TicketCounter::WorkspaceId))
                    .col(big_integer(TicketCounter::LastNumber))
                    .foreign_key(&mut workspace_fk(TicketCounter::Table, TicketCounter::WorkspaceId))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            TicketCounter::Table.into_iden(),
            Holiday::Table.into_iden(),
            BusinessHours::Table.into_iden(),
            SlaPolicy::Table.into_iden(),
            SlaEvent::Table.into_iden(),
            TicketEvent::Table.into_iden(),
            Ticket::Table.into_iden(),
            AgentGroupMember::Table.into_iden(),
            AgentGroup::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum AgentGroup {
    Table,
    Id,
    WorkspaceId,
    Name,
    EscalationLevel,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AgentGroupMember {
    Table,
    Id,
    WorkspaceId,
    GroupId,
    UserId,
    Capacity,
    LastAssignedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Ticket {
    Table,
    Id,
    WorkspaceId,
    Number,
    Kind,
    CustomerId,
    ContactName,
    ContactEmail,
    ContactPhone,
    Subject,
    Body,
    Channel,
    Category,
    Priority,
    PriorityRank,
    Status,
    IsPublic,
    AssigneeId,
    GroupId,
    EscalationLevel,
    RootCause,
    CustomerError,
    Resolution,
    Satisfaction,
    ReopenCount,
    MergedIntoId,
    SlaStatus,
    SlaBreached,
    SlaNextCheckAt,
    FirstResponseDueAt,
    FirstRespondedAt,
    FirstResponseBusinessSecs,
    NextReplyDueAt,
    ResolutionDueAt,
    ResolutionClockStartedAt,
    ResolutionElapsedBusinessSecs,
    ResolutionBusinessSecs,
    ResolvedAt,
    ClosedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum TicketEvent {
    Table,
    Id,
    WorkspaceId,
    TicketId,
    Kind,
    Visibility,
    ActorKind,
    ActorId,
    Body,
    FromValue,
    ToValue,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum SlaEvent {
    Table,
    Id,
    WorkspaceId,
    TicketId,
    Metric,
    Kind,
    DueAt,
    DedupeKey,
    OccurredAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum SlaPolicy {
    Table,
    Id,
    WorkspaceId,
    Priority,
    FirstResponseMinutes,
    NextReplyMinutes,
    ResolutionMinutes,
    WarningMinutes,
    BreachAction,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum BusinessHours {
    Table,
    Id,
    WorkspaceId,
    Weekday,
    StartMinute,
    EndMinute,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Holiday {
    Table,
    Id,
    WorkspaceId,
    Date,
    Name,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum TicketCounter {
    Table,
    WorkspaceId,
    LastNumber,
}
