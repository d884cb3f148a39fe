//! Tenancy, staff users, refresh tokens, API keys and the audit log.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Workspace::Table)
                    .col(pk_uuid(Workspace::Id))
                    .col(string_len_uniq(Workspace::Slug, 64))
                    .col(string(Workspace::Name))
                    .col(string_len(Workspace::Currency, 3))
                    .col(string_len(Workspace::Timezone, 64))
                    .col(json(Workspace::Settings))
                    .col(timestamp_with_time_zone(Workspace::CreatedAt))
                    .col(timestamp_with_time_zone(Workspace::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(User::Table)
                    .col(pk_uuid(User::Id))
                    .col(uuid(User::WorkspaceId))
                    .col(string(User::Email))
                    .col(string(User::PasswordHash))
                    .col(string(User::Name))
                    .col(string_len(User::Role, 16))
                    .col(boolean(User::Active))
                    .col(timestamp_with_time_zone_null(User::LastLoginAt))
                    .col(timestamp_with_time_zone(User::CreatedAt))
                    .col(timestamp_with_time_zone(User::UpdatedAt))
                    .foreign_key(&mut workspace_fk(User::Table, User::WorkspaceId))
                    .to_owned(),
            )
            .await?;
        create_index(manager, User::Table, "ux_user_workspace_email", &[User::WorkspaceId, User::Email], true).await?;
        create_index(
            manager,
            User::Table,
            "ix_user_workspace_created",
            &[User::WorkspaceId, User::CreatedAt, User::Id],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshToken::Table)
                    .col(pk_uuid(RefreshToken::Id))
                    .col(uuid(RefreshToken::WorkspaceId))
                    .col(uuid(RefreshToken::UserId))
                    .col(uuid(RefreshToken::FamilyId))
                    .col(string_len_uniq(RefreshToken::TokenHash, 64))
                    .col(timestamp_with_time_zone(RefreshToken::ExpiresAt))
                    .col(timestamp_with_time_zone_null(RefreshToken::RevokedAt))
                    .col(uuid_null(RefreshToken::ReplacedBy))
                    .col(timestamp_with_time_zone(RefreshToken::CreatedAt))
                    .col(timestamp_with_time_zone(RefreshToken::UpdatedAt))
                    .foreign_key(&mut workspace_fk(RefreshToken::Table, RefreshToken::WorkspaceId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(RefreshToken::Table, RefreshToken::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        create_index(manager, RefreshToken::Table, "ix_refresh_token_family", &[RefreshToken::FamilyId], false).await?;
        create_index(manager, RefreshToken::Table, "ix_refresh_token_user", &[RefreshToken::UserId], false).await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKey::Table)
                    .col(pk_uuid(ApiKey::Id))
                    .col(uuid(ApiKey::WorkspaceId))
                    .col(string(ApiKey::Name))
                    .col(string_len_uniq(ApiKey::Prefix, 32))
                    .col(string_len(ApiKey::SecretHash, 64))
                    .col(json(ApiKey::Scopes))
                    .col(uuid_null(ApiKey::CreatedBy))
                    .col(timestamp_with_time_zone_null(ApiKey::LastUsedAt))
                    .col(timestamp_with_time_zone_null(ApiKey::RevokedAt))
                    .col(timestamp_with_time_zone(ApiKey::CreatedAt))
                    .col(timestamp_with_time_zone(ApiKey::UpdatedAt))
                    .foreign_key(&mut workspace_fk(ApiKey::Table, ApiKey::WorkspaceId))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            ApiKey::Table,
            "ix_api_key_workspace_created",
            &[ApiKey::WorkspaceId, ApiKey::CreatedAt, ApiKey::Id],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .col(pk_uuid(AuditLog::Id))
                    .col(uuid(AuditLog::WorkspaceId))
                    .col(string_len(AuditLog::ActorKind, 16))
                    .col(uuid_null(AuditLog::ActorId))
                    .col(string_len(AuditLog::Action, 64))
                    .col(string_len(AuditLog::Entity, 64))
                    .col(uuid_null(AuditLog::EntityId))
                    .col(json(AuditLog::Diff))
                    .col(timestamp_with_time_zone(AuditLog::CreatedAt))
                    .col(timestamp_with_time_zone(AuditLog::UpdatedAt))
                    .foreign_key(&mut workspace_fk(AuditLog::Table, AuditLog::WorkspaceId))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            AuditLog::Table,
            "ix_audit_log_workspace_created",
            &[AuditLog::WorkspaceId, AuditLog::CreatedAt, AuditLog::Id],
            false,
        )
        .await?;
        create_index(
            manager,
            AuditLog::Table,
            "ix_audit_log_entity",
            &[AuditLog::WorkspaceId, AuditLog::EntityId],
            false,
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditLog::Table.into_iden(),
            ApiKey::Table.into_iden(),
            RefreshToken::Table.into_iden(),
            User::Table.into_iden(),
            Workspace::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

/// `workspace_id → workspace.id`; deleting a workspace removes everything it owns.
pub(crate) fn workspace_fk<T: IntoIden + Copy + 'static>(table: T, column: T) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Workspace::Table, Workspace::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

pub(crate) async fn create_index<T: IntoIden + Copy + 'static>(
    manager: &SchemaManager<'_>,
    table: T,
    name: &str,
    columns: &[T],
    unique: bool,
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table);
    for column in columns {
        index.col(*column);
    }
    if unique {
        index.unique();
    }
    manager.create_index(index.to_owned()).await
}

#[derive(DeriveIden, Clone, Copy)]
enum Workspace {
    Table,
    Id,
    Slug,
    Name,
    Currency,
    Timezone,
    Settings,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum User {
    Table,
    Id,
    WorkspaceId,
    Email,
    PasswordHash,
    Name,
    Role,
    Active,
    LastLoginAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum RefreshToken {
    Table,
    Id,
    WorkspaceId,
    UserId,
    FamilyId,
    TokenHash,
    ExpiresAt,
    RevokedAt,
    ReplacedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ApiKey {
    Table,
    Id,
    WorkspaceId,
    Name,
    Prefix,
    SecretHash,
    Scopes,
    CreatedBy,
    LastUsedAt,
    RevokedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditLog {
    Table,
    Id,
    WorkspaceId,
    ActorKind,
    ActorId,
    Action,
    Entity,
    EntityId,
    Diff,
    CreatedAt,
    UpdatedAt,
}
