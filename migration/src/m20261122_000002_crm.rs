//! Leads, customers and everything hanging off them: notes, orders, interactions, follow-ups,
//! feedback and the lifecycle history.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_foundation::{User, create_index, workspace_fk};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Profile columns shared by leads and customers (geographic, demographic, psychographic,
/// behavioural).
fn profile_columns(table: &mut TableCreateStatement) {
    for column in [
        Profile::City,
        Profile::Region,
        Profile::Country,
        Profile::AgeBand,
        Profile::Gender,
        Profile::IncomeBand,
        Profile::Occupation,
        Profile::PersonalityType,
        Profile::PreferredChannel,
        Profile::InteractionStyle,
    ] {
        table.col(string_null(column));
    }
    table.col(json(Profile::Interests));
}

pub(crate) fn user_fk<T: IntoIden + Copy + 'static>(table: T, column: T) -> ForeignKeyCreateStatement {
    ForeignKey::create().from(table, column).to(User::Table, User::Id).on_delete(ForeignKeyAction::SetNull).to_owned()
}

pub(crate) fn customer_fk<T: IntoIden + Copy + 'static>(table: T, column: T) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Customer::Table, Customer::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn lead_fk<T: IntoIden + Copy + 'static>(table: T, column: T) -> ForeignKeyCreateStatement {
    ForeignKey::create().from(table, column).to(Lead::Table, Lead::Id).on_delete(ForeignKeyAction::Cascade).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut customer = Table::create();
        customer
            .table(Customer::Table)
            .col(pk_uuid(Customer::Id))
            .col(uuid(Customer::WorkspaceId))
            .col(string_null(Customer::ExternalRef))
            .col(string(Customer::Name))
            .col(string_null(Customer::Email))
            .col(string_null(Customer::Phone))
            .col(date_null(Customer::Birthday))
            .col(date_null(Customer::Anniversary))
            .col(string_len(Customer::LifecycleStage, 16))
            .col(timestamp_with_time_zone(Customer::LifecycleChangedAt))
            .col(timestamp_with_time_zone_null(Customer::NotNowUntil))
            .col(string_len_null(Customer::Source, 32))
            .col(uuid_null(Customer::SourceLeadId))
            .col(uuid_null(Customer::OwnerId))
            .col(uuid_null(Customer::ReferredByCustomerId))
            .col(boolean(Customer::MarketingConsent))
            .col(integer(Customer::OrderCount))
            .col(big_integer(Customer::TotalSpentMinor))
            .col(timestamp_with_time_zone_null(Customer::FirstOrderAt))
            .col(timestamp_with_time_zone_null(Customer::LastOrderAt))
            .col(timestamp_with_time_zone_null(Customer::DeletedAt))
            .col(timestamp_with_time_zone_null(Customer::ErasedAt))
            .col(uuid_null(Customer::MergedIntoId))
            .col(timestamp_with_time_zone(Customer::CreatedAt))
            .col(timestamp_with_time_zone(Customer::UpdatedAt))
            .foreign_key(&mut workspace_fk(Customer::Table, Customer::WorkspaceId))
            .foreign_key(&mut user_fk(Customer::Table, Customer::OwnerId));
        profile_columns(&mut customer);
        manager.create_table(customer.to_owned()).await?;
        create_index(
            manager,
            Customer::Table,
            "ux_customer_external_ref",
            &[Customer::WorkspaceId, Customer::ExternalRef],
            true,
        )
        .await?;
        create_index(
            manager,
            Customer::Table,
            "ix_customer_created",
            &[Customer::WorkspaceId, Customer::CreatedAt, Customer::Id],
            false,
        )
        .await?;
        create_index(
            manager,
            Customer::Table,
            "ix_customer_name",
            &[Customer::WorkspaceId, Customer::Name, Customer::Id],
            false,
        )
        .await?;
        create_index(manager, Customer::Table, "ix_customer_email", &[Customer::WorkspaceId, Customer::Email], false)
            .await?;
        create_index(manager, Customer::Table, "ix_customer_phone", &[Customer::WorkspaceId, Customer::Phone], false)
            .await?;
        create_index(
            manager,
            Customer::Table,
            "ix_customer_stage",
            &[Customer::WorkspaceId, Customer::LifecycleStage],
            false,
        )
        .await?;
        create_index(
            manager,
            Customer::Table,
            "ix_customer_last_order",
            &[Customer::WorkspaceId, Customer::LastOrderAt, Customer::Id],
            false,
        )
        .await?;
        create_index(
            manager,
            Customer::Table,
            "ix_customer_total_spent",
            &[Customer::WorkspaceId, Customer::TotalSpentMinor, Customer::Id],
            false,
        )
        .await?;
        create_index(manager, Customer::Table, "ix_customer_owner", &[Customer::WorkspaceId, Customer::OwnerId], false)
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CustomerTag::Table)
                    .col(pk_uuid(CustomerTag::Id))
                    .col(uuid(CustomerTag::WorkspaceId))
                    .col(uuid(CustomerTag::CustomerId))
                    .col(string_len(CustomerTag::Tag, 64))
                    .col(timestamp_with_time_zone(CustomerTag::CreatedAt))
                    .col(timestamp_with_time_zone(CustomerTag::UpdatedAt))
                    .foreign_key(&mut workspace_fk(CustomerTag::Table, CustomerTag::WorkspaceId))
                    .foreign_key(&mut customer_fk(CustomerTag::Table, CustomerTag::CustomerId))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            CustomerTag::Table,
            "ux_customer_tag",
            &[CustomerTag::CustomerId, CustomerTag::Tag],
            true,
        )
        .await?;
        create_index(
            manager,
            CustomerTag::Table,
            "ix_customer_tag_workspace",
            &[CustomerTag::WorkspaceId, CustomerTag::Tag],
            false,
        )
        .await?;

        let mut lead = Table::create();
        lead.table(Lead::Table)
            .col(pk_uuid(Lead::Id))
            .col(uuid(Lead::WorkspaceId))
            .col(string(Lead::Name))
            .col(string_null(Lead::Email))
            .col(string_null(Lead::Phone))
            .col(string_null(Lead::Company))
            .col(string_len(Lead::Source, 32))
            .col(string_len(Lead::Category, 16))
            .col(string_len(Lead::Status, 16))
            .col(integer(Lead::Score))
            .col(json(Lead::ScoreReasons))
            .col(string_len(Lead::Priority, 16))
            .col(uuid_null(Lead::OwnerId))
            .col(uuid_null(Lead::ReferredByCustomerId))
            .col(uuid_null(Lead::ConvertedCustomerId))
            .col(timestamp_with_time_zone_null(Lead::ConvertedAt))
            .col(text_null(Lead::DisqualifyReason))
            .col(timestamp_with_time_zone_null(Lead::NotNowUntil))
            .col(timestamp_with_time_zone_null(Lead::LastInteractionAt))
            .col(timestamp_with_time_zone(Lead::CreatedAt))
            .col(timestamp_with_time_zone(Lead::UpdatedAt))
            .foreign_key(&mut workspace_fk(Lead::Table, Lead::WorkspaceId))
            .foreign_key(&mut user_fk(Lead::Table, Lead::OwnerId))
            .foreign_key(
                ForeignKey::create()
                    .from(Lead::Table, Lead::ConvertedCustomerId)
                    .to(Customer::Table, Customer::Id)
                    .on_delete(ForeignKeyAction::SetNull),
            );
        profile_columns(&mut lead);
        manager.create_table(lead.to_owned()).await?;
        create_index(manager, Lead::Table, "ix_lead_created", &[Lead::WorkspaceId, Lead::CreatedAt, Lead::Id], false)
            .await?;
        create_index(manager, Lead::Table, "ix_lead_score", &[Lead::WorkspaceId, Lead::Score, Lead::Id], false).await?;
        create_index(manager, Lead::Table, "ix_lead_status", &[Lead::WorkspaceId, Lead::Status], false).await?;
        create_index(manager, Lead::Table, "ix_lead_owner", &[Lead::WorkspaceId, Lead::OwnerId], false).await?;
        create_index(manager, Lead::Table, "ix_lead_email", &[Lead::WorkspaceId, Lead::Email], false).await?;
        create_index(manager, Lead::Table, "ix_lead_converted", &[Lead::WorkspaceId, Lead::ConvertedAt], false).await?;

        manager
            .create_table(
                Table::create()
                    .table(CustomerNote::Table)
                    .col(pk_uuid(CustomerNote::Id))
                    .col(uuid(CustomerNote::WorkspaceId))
                    .col(uuid(CustomerNote::CustomerId))
                    .col(uuid_null(CustomerNote::AuthorId))
                    .col(text(CustomerNote::Body))
                    .col(timestamp_with_time_zone(CustomerNote::CreatedAt))
                    .col(timestamp_with_time_zone(CustomerNote::UpdatedAt))
                    .foreign_key(&mut workspace_fk(CustomerNote::Table, CustomerNote::WorkspaceId))
                    .foreign_key(&mut customer_fk(CustomerNote::Table, CustomerNote::CustomerId))
                    .foreign_key(&mut user_fk(CustomerNote::Table, CustomerNote::AuthorId))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            CustomerNote::Table,
            "ix_customer_note_customer",
            &[CustomerNote::CustomerId, CustomerNote::CreatedAt],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Orders::Table)
                    .col(pk_uuid(Orders::Id))
                    .col(uuid(Orders::WorkspaceId))
                    .col(uuid(Orders::CustomerId))
                    .col(string(Orders::ExternalRef))
                    .col(big_integer(Orders::AmountMinor))
                    .col(string_len(Orders::Currency, 3))
                    .col(timestamp_with_time_zone(Orders::PlacedAt))
                    .col(string_len(Orders::Status, 16))
                    .col(string_len(Orders::Channel, 16))
                    .col(timestamp_with_time_zone_null(Orders::RefundedAt))
                    .col(timestamp_with_time_zone_null(Orders::CancelledAt))
                    .col(timestamp_with_time_zone(Orders::CreatedAt))
                    .col(timestamp_with_time_zone(Orders::UpdatedAt))
                    .foreign_key(&mut workspace_fk(Orders::Table, Orders::WorkspaceId))
                    .foreign_key(&mut customer_fk(Orders::Table, Orders::CustomerId))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            Orders::Table,
            "ux_orders_external_ref",
            &[Orders::WorkspaceId, Orders::ExternalRef],
            true,
        )
        .await?;
        create_index(
            manager,
            Orders::Table,
            "ix_orders_customer_placed",
            &[Orders::CustomerId, Orders::PlacedAt, Orders::Id],
            false,
        )
        .await?;
        create_index(
            manager,
            Orders::Table,
            "ix_orders_placed",
            &[Orders::WorkspaceId, Orders::PlacedAt, Orders::Id],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Interaction::Table)
                    .col(pk_uuid(Interaction::Id))
                    .col(uuid(Interaction::WorkspaceId))
                    .col(uuid_null(Interaction::CustomerId))
                    .col(uuid_null(Interaction::LeadId))
                    .col(string_len(Interaction::Channel, 16))
                    .col(string_len(Interaction::Direction, 16))
                    .col(string_len(Interaction::Outcome, 16))
                    .col(text(Interaction::Summary))
                    .col(timestamp_with_time_zone(Interaction::OccurredAt))
                    .col(uuid_null(Interaction::UserId))
                    .col(timestamp_with_time_zone(Interaction::CreatedAt))
                    .col(timestamp_with_time_zone(Interaction::UpdatedAt))
                    .foreign_key(&mut workspace_fk(Interaction::Table, Interaction::WorkspaceId))
                    .foreign_key(&mut customer_fk(Interaction::Table, Interaction::CustomerId))
                    .foreign_key(&mut lead_fk(Interaction::Table, Interaction::LeadId))
                    .foreign_key(&mut user_fk(Interaction::Table, Interaction::UserId))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            Interaction::Table,
            "ix_interaction_customer",
            &[Interaction::CustomerId, Interaction::OccurredAt],
            false,
        )
        .await?;
        create_index(
            manager,
            Interaction::Table,
            "ix_interaction_lead",
            &[Interaction::LeadId, Interaction::OccurredAt],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(FollowUp::Table)
                    .col(pk_uuid(FollowUp::Id))
                    .col(uuid(FollowUp::WorkspaceId))
                    .col(uuid_null(FollowUp::CustomerId))
                    .col(uuid_null(FollowUp::LeadId))
                    .col(string_len(FollowUp::Kind, 32))
                    .col(timestamp_with_time_zone(FollowUp::DueAt))
                    .col(string_len(FollowUp::Status, 16))
                    .col(uuid_null(FollowUp::AssigneeId))
                    .col(string_null(FollowUp::RuleKey))
                    .col(text_null(FollowUp::Note))
                    .col(timestamp_with_time_zone_null(FollowUp::ClosedAt))
                    .col(timestamp_with_time_zone(FollowUp::CreatedAt))
                    .col(timestamp_with_time_zone(FollowUp::UpdatedAt))
                    .foreign_key(&mut workspace_fk(FollowUp::Table, FollowUp::WorkspaceId))
                    .foreign_key(&mut customer_fk(FollowUp::Table, FollowUp::CustomerId))
                    .foreign_key(&mut lead_fk(FollowUp::Table, FollowUp::LeadId))
                    .foreign_key(&mut user_fk(FollowUp::Table, FollowUp::AssigneeId))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            FollowUp::Table,
            "ux_follow_up_rule_key",
            &[FollowUp::WorkspaceId, FollowUp::RuleKey],
            true,
        )
        .await?;
        create_index(
            manager,
            FollowUp::Table,
            "ix_follow_up_due",
            &[FollowUp::WorkspaceId, FollowUp::Status, FollowUp::DueAt, FollowUp::Id],
            false,
        )
        .await?;
        create_index(manager, FollowUp::Table, "ix_follow_up_customer", &[FollowUp::CustomerId], false).await?;

        manager
            .create_table(
                Table::create()
                    .table(Feedback::Table)
                    .col(pk_uuid(Feedback::Id))
                    .col(uuid(Feedback::WorkspaceId))
                    .col(uuid(Feedback::CustomerId))
                    .col(string_len(Feedback::Kind, 16))
                    .col(integer_null(Feedback::Score))
                    .col(text_null(Feedback::Comment))
                    .col(text_null(Feedback::WhyUs))
                    .col(uuid_null(Feedback::TicketId))
                    .col(timestamp_with_time_zone(Feedback::SubmittedAt))
                    .col(timestamp_with_time_zone(Feedback::CreatedAt))
                    .col(timestamp_with_time_zone(Feedback::UpdatedAt))
                    .foreign_key(&mut workspace_fk(Feedback::Table, Feedback::WorkspaceId))
                    .foreign_key(&mut customer_fk(Feedback::Table, Feedback::CustomerId))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            Feedback::Table,
            "ix_feedback_customer",
            &[Feedback::CustomerId, Feedback::SubmittedAt],
            false,
        )
        .await?;
        create_index(
            manager,
            Feedback::Table,
            "ix_feedback_workspace",
            &[Feedback::WorkspaceId, Feedback::Kind, Feedback::SubmittedAt],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(LifecycleEvent::Table)
                    .col(pk_uuid(LifecycleEvent::Id))
                    .col(uuid(LifecycleEvent::WorkspaceId))
                    .col(uuid(LifecycleEvent::CustomerId))
                    .col(string_len_null(LifecycleEvent::FromStage, 16))
                    .col(string_len(LifecycleEvent::ToStage, 16))
                    .col(text(LifecycleEvent::Reason))
                    .col(uuid_null(LifecycleEvent::ActorId))
                    .col(timestamp_with_time_zone(LifecycleEvent::CreatedAt))
                    .col(timestamp_with_time_zone(LifecycleEvent::UpdatedAt))
                    .foreign_key(&mut workspace_fk(LifecycleEvent::Table, LifecycleEvent::WorkspaceId))
                    .foreign_key(&mut customer_fk(LifecycleEvent::Table, LifecycleEvent::CustomerId))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            LifecycleEvent::Table,
            "ix_lifecycle_event_customer",
            &[LifecycleEvent::CustomerId, LifecycleEvent::CreatedAt],
            false,
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            LifecycleEvent::Table.into_iden(),
            Feedback::Table.into_iden(),
            FollowUp::Table.into_iden(),
            Interaction::Table.into_iden(),
            Orders::Table.into_iden(),
            CustomerNote::Table.into_iden(),
            CustomerTag::Table.into_iden(),
            Lead::Table.into_iden(),
            Customer::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Profile {
    City,
    Region,
    Country,
    AgeBand,
    Gender,
    IncomeBand,
    Occupation,
    Interests,
    PersonalityType,
    PreferredChannel,
    InteractionStyle,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Customer {
    Table,
    Id,
    WorkspaceId,
    ExternalRef,
    Name,
    Email,
    Phone,
    Birthday,
    Anniversary,
    LifecycleStage,
    LifecycleChangedAt,
    NotNowUntil,
    Source,
    SourceLeadId,
    OwnerId,
    ReferredByCustomerId,
    MarketingConsent,
    OrderCount,
    TotalSpentMinor,
    FirstOrderAt,
    LastOrderAt,
    DeletedAt,
    ErasedAt,
    MergedIntoId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CustomerTag {
    Table,
    Id,
    WorkspaceId,
    CustomerId,
    Tag,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Lead {
    Table,
    Id,
    WorkspaceId,
    Name,
    Email,
    Phone,
    Company,
    Source,
    Category,
    Status,
    Score,
    ScoreReasons,
    Priority,
    OwnerId,
    ReferredByCustomerId,
    ConvertedCustomerId,
    ConvertedAt,
    DisqualifyReason,
    NotNowUntil,
    LastInteractionAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CustomerNote {
    Table,
    Id,
    WorkspaceId,
    CustomerId,
    AuthorId,
    Body,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Orders {
    Table,
    Id,
    WorkspaceId,
    CustomerId,
    ExternalRef,
    AmountMinor,
    Currency,
    PlacedAt,
    Status,
    Channel,
    RefundedAt,
    CancelledAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Interaction {
    Table,
    Id,
    WorkspaceId,
    CustomerId,
    LeadId,
    Channel,
    Direction,
    Outcome,
    Summary,
    OccurredAt,
    UserId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum FollowUp {
    Table,
    Id,
    WorkspaceId,
    CustomerId,
    LeadId,
    Kind,
    DueAt,
    Status,
    AssigneeId,
    RuleKey,
    Note,
    ClosedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Feedback {
    Table,
    Id,
    WorkspaceId,
    CustomerId,
    Kind,
    Score,
    Comment,
    WhyUs,
    TicketId,
    SubmittedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum LifecycleEvent {
    Table,
    Id,
    WorkspaceId,
    CustomerId,
    FromStage,
    ToStage,
    Reason,
    ActorId,
    CreatedAt,
    UpdatedAt,
}
