//! Who an SLA outcome and a customer message belong to: each SLA log line keeps the assignee and
//! group holding the ticket when it was written (attainment is theirs, not the current holder's),
//! and a customer message entered by staff keeps the staff member apart from its author.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite cannot add several in one ALTER TABLE.
        for column in [uuid_null(SlaEvent::AssigneeId), uuid_null(SlaEvent::GroupId)] {
            let mut column = column;
            manager.alter_table(Table::alter().table(SlaEvent::Table).add_column(&mut column).to_owned()).await?;
        }
        for column in [string_len_null(TicketEvent::RecordedByKind, 16), uuid_null(TicketEvent::RecordedById)] {
            let mut column = column;
            manager.alter_table(Table::alter().table(TicketEvent::Table).add_column(&mut column).to_owned()).await?;
        }
        let db = manager.get_connection();
        // Older log lines never knew their holder; the ticket's holder now is the best there is.
        db.execute_unprepared(
            "UPDATE sla_event SET
               assignee_id = (SELECT assignee_id FROM ticket WHERE ticket.id = sla_event.ticket_id),
               group_id = (SELECT group_id FROM ticket WHERE ticket.id = sla_event.ticket_id)",
        )
        .await?;
        // Customer messages were stored as said by the staff member who entered them.
        db.execute_unprepared(
            "UPDATE ticket_event SET
               recorded_by_kind = actor_kind,
               recorded_by_id = actor_id,
               actor_kind = 'CUSTOMER',
               actor_id = (SELECT customer_id FROM ticket WHERE ticket.id = ticket_event.ticket_id)
             WHERE kind = 'CUSTOMER_MESSAGE'",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE ticket_event SET actor_kind = recorded_by_kind, actor_id = recorded_by_id
                 WHERE kind = 'CUSTOMER_MESSAGE' AND recorded_by_kind IS NOT NULL",
            )
            .await?;
        for column in [TicketEvent::RecordedByKind, TicketEvent::RecordedById] {
            manager.alter_table(Table::alter().table(TicketEvent::Table).drop_column(column).to_owned()).await?;
        }
        for column in [SlaEvent::AssigneeId, SlaEvent::GroupId] {
            manager.alter_table(Table::alter().table(SlaEvent::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum SlaEvent {
    Table,
    AssigneeId,
    GroupId,
}

#[derive(DeriveIden, Clone, Copy)]
enum TicketEvent {
    Table,
    RecordedByKind,
    RecordedById,
}
