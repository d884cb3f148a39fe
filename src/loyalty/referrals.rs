//! Referrals: a lead or customer brought in with a customer's referral code. When the referee's
//! first order completes and survives the workspace's approval period, both sides earn points,
//! once (idempotency keys per referral and side). Self-referrals, loops and referees who share the
//! referrer's email or phone are recorded as REFUSED with the reason, so staff can review them.

use chrono::{DateTime, Duration, Utc};
use entity::{
    customer, lead, loyalty_account,
    order::{self, OrderStatus},
    points_transaction::PointsKind,
    referral::{self, ReferralStatus},
};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::service::{self, Posting};
use crate::{
    auth::Actor,
    customers,
    graphql::{AppError, AppResult, ids::new_id},
    workspaces,
};

/// How far up the chain of referrers a loop is looked for.
const MAX_CHAIN: usize = 32;

/// Who was referred.
#[derive(Clone, Copy)]
pub enum Referee<'a> {
    Lead(&'a lead::Model),
    Customer(&'a customer::Model),
}

impl Referee<'_> {
    fn contact(&self) -> (Option<&str>, Option<&str>) {
        match self {
            Referee::Lead(l) => (l.email.as_deref(), l.phone.as_deref()),
            Referee::Customer(c) => (c.email.as_deref(), c.phone.as_deref()),
        }
    }
}

/// The account a referral code belongs to, or `BAD_INPUT`.
pub async fn referrer_by_code<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    code: &str,
    field: &str,
) -> AppResult<loyalty_account::Model> {
    loyalty_account::Entity::find()
        .filter(loyalty_account::Column::WorkspaceId.eq(workspace_id))
        .filter(loyalty_account::Column::ReferralCode.eq(code.trim().to_uppercase()))
        .one(db)
        .await?
        .ok_or_else(|| AppError::bad_input(field, "no customer has this referral code"))
}

/// The referrer named on a new lead or customer: by referral code, or as a customer (enrolled,
/// since a referral needs an account). A code wins over a customer id.
pub async fn referrer_of<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    code: &Option<String>,
    customer_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> AppResult<Option<loyalty_account::Model>> {
    match (code.as_deref().map(str::trim).filter(|c| !c.is_empty()), customer_id) {
        (Some(code), _) => referrer_by_code(db, workspace_id, code, "input.referralCode").await.map(Some),
        (None, Some(id)) => Ok(Some(service::enroll(db, workspace_id, id, now).await?.0)),
        (None, None) => Ok(None),
    }
}

/// Why this referral must not pay, if it must not.
async fn refusal<C: ConnectionTrait>(
    db: &C,
    referrer: &loyalty_account::Model,
    referee: Referee<'_>,
) -> AppResult<Option<String>> {
    let referrer_customer = customers::service::get(db, referrer.workspace_id, referrer.customer_id).await?;
    if let Referee::Customer(c) = referee {
        if c.id == referrer_customer.id {
            return Ok(Some("self-referral".to_owned()));
        }
        if c.order_count > 0 {
            return Ok(Some("the referee was already a customer".to_owned()));
        }
        if let Some(earlier) = of_referee(db, c.id).await? {
            return Ok(Some(format!("the referee was already referred (referral {})", earlier.id)));
        }
        // A loop: the referee is somewhere up the referrer's own chain of referrers.
        let mut current = referrer_customer.id;
        for _ in 0..MAX_CHAIN {
            let Some(upstream) = of_referee(db, current).await? else { break };
            let upstream_account = service::get(db, referrer.workspace_id, upstream.referrer_account_id).await?;
            if upstream_account.customer_id == c.id {
                return Ok(Some("referral loop: the referee referred the referrer".to_owned()));
            }
            current = upstream_account.customer_id;
        }
    }
    let (email, phone) = referee.contact();
    if email.is_some() && email == referrer_customer.email.as_deref() {
        return Ok(Some("the referee has the referrer's email".to_owned()));
    }
    if phone.is_some() && phone == referrer_customer.phone.as_deref() {
        return Ok(Some("the referee has the referrer's phone".to_owned()));
    }
    Ok(None)
}

/// The referral that brought this customer in (refused ones aside), if any.
async fn of_referee<C: ConnectionTrait>(db: &C, customer_id: Uuid) -> AppResult<Option<referral::Model>> {
    Ok(referral::Entity::find()
        .filter(referral::Column::RefereeCustomerId.eq(customer_id))
        .filter(referral::Column::Status.ne(ReferralStatus::Refused))
        .one(db)
        .await?)
}

/// Records the referral: PENDING, or REFUSED with the reason.
pub async fn open<C: ConnectionTrait>(
    db: &C,
    referrer: &loyalty_account::Model,
    referee: Referee<'_>,
    now: DateTime<Utc>,
) -> AppResult<referral::Model> {
    let refused = refusal(db, referrer, referee).await?;
    let (customer_id, lead_id) = match referee {
        Referee::Lead(l) => (None, Some(l.id)),
        Referee::Customer(c) => (Some(c.id), c.source_lead_id),
    };
    if let Some(reason) = &refused {
        tracing::info!(referrer = %referrer.id, reason, "referral refused");
    }
    Ok(referral::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(referrer.workspace_id),
        referrer_account_id: Set(referrer.id),
        referee_customer_id: Set(customer_id),
        referee_lead_id: Set(lead_id),
        status: Set(if refused.is_some() { ReferralStatus::Refused } else { ReferralStatus::Pending }),
        refusal_reason: Set(refused),
        qualifying_order_id: Set(None),
        qualified_at: Set(None),
        reward_due_at: Set(None),
        rewarded_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

/// A lead became a customer: its referral now follows the customer, checked again against them
/// (a lead merged into the referrer, or into someone who already buys, is refused).
pub async fn on_convert<C: ConnectionTrait>(
    db: &C,
    lead: &lead::Model,
    customer: &customer::Model,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let Some(pending) = referral::Entity::find()
        .filter(referral::Column::RefereeLeadId.eq(lead.id))
        .filter(referral::Column::Status.eq(ReferralStatus::Pending))
        .one(db)
        .await?
    else {
        return Ok(());
    };
    let referrer = service::get(db, pending.workspace_id, pending.referrer_account_id).await?;
    let refused = refusal(db, &referrer, Referee::Customer(customer)).await?;
    let mut active: referral::ActiveModel = pending.into();
    active.referee_customer_id = Set(Some(customer.id));
    if let Some(reason) = refused {
        active.status = Set(ReferralStatus::Refused);
        active.refusal_reason = Set(Some(reason));
    }
    active.updated_at = Set(now);
    active.update(db).await?;
    Ok(())
}

/// A completed order qualifies the customer's pending referral; rewards follow at once or after
/// the approval period.
pub async fn on_order<C: ConnectionTrait>(db: &C, order: &order::Model, now: DateTime<Utc>) -> AppResult<()> {
    let Some(pending) = of_referee(db, order.customer_id).await?.filter(|r| r.status == ReferralStatus::Pending) else {
        return Ok(());
    };
    let settings = workspaces::service::settings(db, order.workspace_id).await?;
    let mut active: referral::ActiveModel = pending.into();
    active.status = Set(ReferralStatus::Qualified);
    active.qualifying_order_id = Set(Some(order.id));
    active.qualified_at = Set(Some(now));
    active.reward_due_at = Set(Some(now + Duration::days(settings.referral_approval_days)));
    active.updated_at = Set(now);
    let qualified = active.update(db).await?;
    if settings.referral_approval_days == 0 {
        pay(db, qualified, now).await?;
    }
    Ok(())
}

/// The qualifying order was refunded or cancelled before the rewards were paid: the referral waits
/// for another first order.
pub async fn on_order_reversed<C: ConnectionTrait>(db: &C, order: &order::Model, now: DateTime<Utc>) -> AppResult<()> {
    let qualified = referral::Entity::find()
        .filter(referral::Column::QualifyingOrderId.eq(order.id))
        .filter(referral::Column::Status.eq(ReferralStatus::Qualified))
        .one(db)
        .await?;
    if let Some(referral) = qualified {
        requalify(db, referral, now).await?;
    }
    Ok(())
}

async fn requalify<C: ConnectionTrait>(db: &C, referral: referral::Model, now: DateTime<Utc>) -> AppResult<()> {
    let mut active: referral::ActiveModel = referral.into();
    active.status = Set(ReferralStatus::Pending);
    active.qualifying_order_id = Set(None);
    active.qualified_at = Set(None);
    active.reward_due_at = Set(None);
    active.updated_at = Set(now);
    active.update(db).await?;
    Ok(())
}

/// Pays both sides, once (true when paid); a qualifying order no longer completed sends the
/// referral back to PENDING.
async fn pay<C: ConnectionTrait>(db: &C, referral: referral::Model, now: DateTime<Utc>) -> AppResult<bool> {
    let (Some(order_id), Some(referee_id)) = (referral.qualifying_order_id, referral.referee_customer_id) else {
        return Ok(false);
    };
    let order = order::Entity::find_by_id(order_id).one(db).await?;
    if order.is_none_or(|o| o.status != OrderStatus::Completed) {
        requalify(db, referral, now).await?;
        return Ok(false);
    }
    let settings = workspaces::service::settings(db, referral.workspace_id).await?;
    let referee_account = service::enroll(db, referral.workspace_id, referee_id, now).await?.0;
    for (account_id, points, side) in [
        (referral.referrer_account_id, settings.referrer_points, "referrer"),
        (referee_account.id, settings.referee_points, "referee"),
    ] {
        if points <= 0 {
            continue;
        }
        let account = service::lock(db, referral.workspace_id, account_id).await?;
        let posting = Posting {
            kind: PointsKind::EarnReferral,
            lot_id: None,
            points,
            order_id: Some(order_id),
            reason: Some(format!("referral reward ({side})")),
            idempotency_key: Some(format!("referral:{}:{side}", referral.id)),
            available_at: None,
            actor: Actor::SYSTEM,
        };
        service::post(db, account, posting, true, now).await?;
    }
    let mut active: referral::ActiveModel = referral.into();
    active.status = Set(ReferralStatus::Rewarded);
    active.rewarded_at = Set(Some(now));
    active.updated_at = Set(now);
    active.update(db).await?;
    Ok(true)
}

/// The job: pays referrals whose approval period has passed. Returns how many were paid.
pub async fn run<C: ConnectionTrait>(db: &C, workspace_id: Uuid, now: DateTime<Utc>) -> AppResult<u64> {
    let due = referral::Entity::find()
        .filter(referral::Column::WorkspaceId.eq(workspace_id))
        .filter(referral::Column::Status.eq(ReferralStatus::Qualified))
        .filter(referral::Column::RewardDueAt.lte(now))
        .all(db)
        .await?;
    let mut paid = 0;
    for referral in due {
        paid += u64::from(pay(db, referral, now).await?);
    }
    Ok(paid)
}
