//! Points expiry, oldest first: spending always uses the oldest earned points, so what expires is
//! what is left of each earning once every debit has been taken from the oldest lots. The job
//! records one EXPIRE row per lot (pointing at it), so it never expires the same points twice.

use chrono::{DateTime, Utc};
use entity::{
    loyalty_account,
    points_transaction::{self, PointsKind},
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::service::{self, Posting};
use crate::{auth::Actor, graphql::AppResult};

/// Points left of each credit (in ledger order) after all debits are taken oldest-first. Pending
/// rows are not spendable yet, so they take no part.
pub fn remaining(ledger: &[points_transaction::Model]) -> Vec<(&points_transaction::Model, i64)> {
    let released = || ledger.iter().filter(|t| !t.pending);
    let mut debits: i64 = released().filter(|t| t.points < 0).map(|t| -t.points).sum();
    released()
        .filter(|t| t.points > 0)
        .map(|credit| {
            let used = debits.min(credit.points);
            debits -= used;
            (credit, credit.points - used)
        })
        .collect()
}

/// What will expire by `until`, per expiry time (oldest first).
pub fn expiring(ledger: &[points_transaction::Model], until: DateTime<Utc>) -> Vec<(DateTime<Utc>, i64)> {
    let mut out: Vec<(DateTime<Utc>, i64)> = Vec::new();
    for (credit, left) in remaining(ledger) {
        if let Some(at) = credit.expires_at.filter(|at| *at <= until && left > 0) {
            match out.iter_mut().find(|(t, _)| *t == at) {
                Some((_, points)) => *points += left,
                None => out.push((at, left)),
            }
        }
    }
    out.sort();
    out
}

pub async fn ledger_of<C: ConnectionTrait>(db: &C, account_id: Uuid) -> AppResult<Vec<points_transaction::Model>> {
    Ok(points_transaction::Entity::find()
        .filter(points_transaction::Column::AccountId.eq(account_id))
        .order_by_asc(points_transaction::Column::CreatedAt)
        .order_by_asc(points_transaction::Column::Id)
        .all(db)
        .await?)
}

/// Expires what is left of every lot of the workspace whose time has come; returns the points
/// expired.
pub async fn run<C: ConnectionTrait>(db: &C, workspace_id: Uuid, now: DateTime<Utc>) -> AppResult<i64> {
    let accounts: Vec<Uuid> = points_transaction::Entity::find()
        .select_only()
        .column(points_transaction::Column::AccountId)
        .distinct()
        .filter(points_transaction::Column::WorkspaceId.eq(workspace_id))
        .filter(points_transaction::Column::ExpiresAt.lte(now))
        .into_tuple()
        .all(db)
        .await?;
    let mut expired = 0;
    for account_id in accounts {
        let mut account: loyalty_account::Model = service::lock(db, workspace_id, account_id).await?;
        let ledger = ledger_of(db, account_id).await?;
        let done: Vec<Uuid> = ledger.iter().filter_map(|t| t.lot_id).collect();
        let due: Vec<(Uuid, i64)> = remaining(&ledger)
            .into_iter()
            .filter(|(credit, left)| {
                *left > 0 && credit.expires_at.is_some_and(|at| at <= now) && !done.contains(&credit.id)
            })
            .map(|(credit, left)| (credit.id, left))
            .collect();
        for (lot, points) in due {
            let posting = Posting {
                kind: PointsKind::Expire,
                lot_id: Some(lot),
                points: -points,
                order_id: None,
                reason: Some(format!("{points} points expired")),
                idempotency_key: Some(format!("expire:{lot}")),
                available_at: None,
                actor: Actor::SYSTEM,
            };
            account = service::post(db, account, posting, true, now).await?.account;
            expired += points;
        }
    }
    Ok(expired)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use entity::audit_log::ActorKind;

    fn row(n: u128, points: i64, expires_in_days: Option<i64>) -> points_transaction::Model {
        let base = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        points_transaction::Model {
            id: Uuid::from_u128(n),
            workspace_id: Uuid::nil(),
            account_id: Uuid::nil(),
            kind: if points > 0 { PointsKind::EarnBonus } else { PointsKind::Redeem },
            points,
            order_id: None,
            reason: None,
            idempotency_key: None,
            expires_at: expires_in_days.map(|d| base + Duration::days(d)),
            lot_id: None,
            pending: false,
            available_at: None,
            actor_kind: ActorKind::System,
            actor_id: None,
            created_at: base + Duration::minutes(n as i64),
            updated_at: base,
        }
    }

    #[test]
    fn spending_uses_the_oldest_points_first() {
        let ledger = [row(1, 50, Some(30)), row(2, 40, Some(60)), row(3, -70, None), row(4, 10, None)];
        let left: Vec<i64> = remaining(&ledger).into_iter().map(|(_, left)| left).collect();
        assert_eq!(left, [0, 20, 10], "70 spent: all of the first 50, then 20 of the 40");
        let base = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(expiring(&ledger, base + Duration::days(90)), [(base + Duration::days(60), 20)]);
        assert_eq!(expiring(&ledger, base + Duration::days(45)), []);
    }
}
