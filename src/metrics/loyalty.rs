//! Loyalty programme KPIs: points earned, burned and expired per period, redemption rate, active
//! and new members, the outstanding points (liability) and the tier ladder's distribution and moves.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{
    loyalty_account,
    points_transaction::{self, PointsKind},
    tier, tier_change,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::graphql::AppResult;

/// One period's ledger activity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PointsFlow {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Points credited (purchases, bonuses, referrals, positive adjustments).
    pub earned: i64,
    /// Points spent on rewards (net of cancelled redemptions).
    pub burned: i64,
    pub expired: i64,
    /// Accounts with any ledger entry in the period.
    pub active_members: u64,
    /// Accounts opened in the period.
    pub new_members: u64,
    pub upgrades: u64,
    pub downgrades: u64,
}

impl PointsFlow {
    /// Burned / earned: how much of what is earned gets spent.
    pub fn redemption_rate(&self) -> Option<f64> {
        (self.earned > 0).then(|| self.burned as f64 / self.earned as f64)
    }
}

fn is_earning(kind: PointsKind, points: i64) -> bool {
    points > 0 && !matches!(kind, PointsKind::Redeem | PointsKind::Expire | PointsKind::Reversal)
}

/// The ledger, account openings and tier moves of `[bounds[0], bounds[last])`, one flow per period.
pub async fn flows<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    bounds: &[DateTime<Utc>],
) -> AppResult<Vec<PointsFlow>> {
    let (first, last) = (bounds[0], bounds[bounds.len() - 1]);
    let mut out: Vec<PointsFlow> =
        bounds.windows(2).map(|w| PointsFlow { from: w[0], to: w[1], ..Default::default() }).collect();
    let bucket = |t: DateTime<Utc>| super::periods::index_of(bounds, t);
    let ledger: Vec<(Uuid, PointsKind, i64, DateTime<Utc>)> = points_transaction::Entity::find()
        .select_only()
        .column(points_transaction::Column::AccountId)
        .column(points_transaction::Column::Kind)
        .column(points_transaction::Column::Points)
        .column(points_transaction::Column::CreatedAt)
        .filter(points_transaction::Column::WorkspaceId.eq(workspace_id))
        .filter(points_transaction::Column::CreatedAt.gte(first))
        .filter(points_transaction::Column::CreatedAt.lt(last))
        .into_tuple()
        .all(db)
        .await?;
    let mut active: Vec<std::collections::HashSet<Uuid>> = vec![Default::default(); out.len()];
    for (account, kind, points, at) in ledger {
        let Some(i) = bucket(at) else { continue };
        active[i].insert(account);
        let flow = &mut out[i];
        match kind {
            PointsKind::Redeem => flow.burned -= points,
            PointsKind::Expire => flow.expired -= points,
            _ if is_earning(kind, points) => flow.earned += points,
            _ => {}
        }
    }
    for (flow, members) in out.iter_mut().zip(&active) {
        flow.active_members = members.len() as u64;
    }
    let opened: Vec<DateTime<Utc>> = loyalty_account::Entity::find()
        .select_only()
        .column(loyalty_account::Column::CreatedAt)
        .filter(loyalty_account::Column::WorkspaceId.eq(workspace_id))
        .filter(loyalty_account::Column::CreatedAt.gte(first))
        .filter(loyalty_account::Column::CreatedAt.lt(last))
        .into_tuple()
        .all(db)
        .await?;
    for at in opened {
        if let Some(i) = bucket(at) {
            out[i].new_members += 1;
        }
    }
    let ranks: HashMap<Uuid, i32> = tier::Entity::find()
        .filter(tier::Column::WorkspaceId.eq(workspace_id))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, t.rank))
        .collect();
    let moves = tier_change::Entity::find()
        .filter(tier_change::Column::WorkspaceId.eq(workspace_id))
        .filter(tier_change::Column::CreatedAt.gte(first))
        .filter(tier_change::Column::CreatedAt.lt(last))
        .all(db)
        .await?;
    let rank = |id: Option<Uuid>| id.and_then(|id| ranks.get(&id).copied()).unwrap_or(i32::MIN);
    for change in moves {
        let Some(i) = bucket(change.created_at) else { continue };
        match rank(change.to_tier_id).cmp(&rank(change.from_tier_id)) {
            std::cmp::Ordering::Greater => out[i].upgrades += 1,
            std::cmp::Ordering::Less => out[i].downgrades += 1,
            std::cmp::Ordering::Equal => {}
        }
    }
    Ok(out)
}

/// Now: members, outstanding and pending points, and accounts per tier (`None` = no tier).
pub struct Standing {
    pub members: u64,
    pub outstanding_points: i64,
    pub pending_points: i64,
    pub debt_points: i64,
    pub per_tier: Vec<(Option<tier::Model>, u64)>,
}

pub async fn standing<C: ConnectionTrait>(db: &C, workspace_id: Uuid) -> AppResult<Standing> {
    let accounts: Vec<(Option<Uuid>, i64, i64, i64)> = loyalty_account::Entity::find()
        .select_only()
        .column(loyalty_account::Column::TierId)
        .column(loyalty_account::Column::PointsBalance)
        .column(loyalty_account::Column::PendingPoints)
        .column(loyalty_account::Column::DebtPoints)
        .filter(loyalty_account::Column::WorkspaceId.eq(workspace_id))
        .into_tuple()
        .all(db)
        .await?;
    let mut counts: HashMap<Option<Uuid>, u64> = HashMap::new();
    let mut standing = Standing {
        members: accounts.len() as u64,
        outstanding_points: 0,
        pending_points: 0,
        debt_points: 0,
        per_tier: Vec::new(),
    };
    for (tier_id, balance, pending, debt) in accounts {
        *counts.entry(tier_id).or_default() += 1;
        standing.outstanding_points += balance.max(0);
        standing.pending_points += pending;
        standing.debt_points += debt;
    }
    let tiers = crate::loyalty::service::tiers(db, workspace_id).await?;
    standing.per_tier.push((None, counts.get(&None).copied().unwrap_or(0)));
    for t in tiers {
        let n = counts.get(&Some(t.id)).copied().unwrap_or(0);
        standing.per_tier.push((Some(t), n));
    }
    Ok(standing)
}
