//! Lifecycle stages: the pure rules that say where a customer stands, and the one place that
//! changes a stage (always with a history row saying why).

use chrono::{DateTime, Duration, Utc};
use entity::{
    customer::{self, LifecycleStage},
    customer_risk,
    interaction::{self, Direction, Outcome},
    lifecycle_event,
    ticket::{self, TicketKind},
};
use std::collections::HashMap;

use sea_orm::{
    ActiveEnum, ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, FromQueryResult, IntoActiveModel, QueryFilter, QuerySelect,
    sea_query::{Alias, Expr, Func},
};
use uuid::Uuid;

use crate::{
    auth::Actor,
    graphql::{AppResult, ids::new_id},
    workspaces::settings::WorkspaceSettings,
};

/// How reachable a customer has been lately (outbound attempts in the activity window).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reachability {
    pub attempts: i64,
    pub unanswered: i64,
}

impl Reachability {
    pub fn hard_to_reach(&self, settings: &WorkspaceSettings) -> bool {
        self.attempts >= settings.hard_to_reach_min_attempts
            && self.unanswered * 100 >= settings.hard_to_reach_percent * self.attempts
    }
}

/// The customer's complaints: open ones, open ones whose SLA was missed, and their worst recent
/// rating (tickets resolved within the activity window).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Complaints {
    pub open: i64,
    pub open_breached: i64,
    pub worst_recent_rating: Option<i32>,
}

/// The reasons the latest at-risk assessment found that the rules cannot see from one change
/// (fitted model, the workspace's median gap, feedback, contact history).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EarlyWarning {
    pub reasons: String,
    pub assessed_at: DateTime<Utc>,
}

/// Everything besides orders that the rules weigh.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Signals {
    pub reachability: Reachability,
    pub complaints: Complaints,
    pub early_warning: Option<EarlyWarning>,
}

/// The stage the rules give, and why; `None` when the stage should stay as it is.
pub fn evaluate(
    c: &customer::Model,
    signals: Signals,
    settings: &WorkspaceSettings,
    now: DateTime<Utc>,
) -> Option<(LifecycleStage, String)> {
    let (stage, reason) = rule_stage(c, signals, settings, now);
    // NOT_NOW and CHURNED are staff decisions: only a new order overrides them.
    let sticky = matches!(c.lifecycle_stage, LifecycleStage::NotNow | LifecycleStage::Churned);
    let ordered_since = c.last_order_at.is_some_and(|t| t > c.lifecycle_changed_at);
    if (sticky && !ordered_since) || stage == c.lifecycle_stage {
        return None;
    }
    Some((stage, reason))
}

fn rule_stage(
    c: &customer::Model,
    Signals { reachability, complaints, early_warning }: Signals,
    settings: &WorkspaceSettings,
    now: DateTime<Utc>,
) -> (LifecycleStage, String) {
    let (Some(first), Some(last)) = (c.first_order_at, c.last_order_at) else {
        return (LifecycleStage::New, "no completed order yet".to_owned());
    };
    let idle_days = (now - last).num_days();
    if idle_days > settings.dormant_after_days {
        return (LifecycleStage::Dormant, format!("no completed order for {idle_days} days"));
    }
    if c.order_count >= 2 {
        let usual_gap = (last - first).num_days() / i64::from(c.order_count - 1);
        if usual_gap > 0 && idle_days > settings.at_risk_gap_factor * usual_gap {
            return (
                LifecycleStage::AtRisk,
                format!("overdue: {idle_days} days since the last order, usually {usual_gap}"),
            );
        }
    }
    if complaints.open_breached > 0 {
        return (LifecycleStage::AtRisk, "an open complaint missed its SLA".to_owned());
    }
    if complaints.open > 0 {
        return (LifecycleStage::AtRisk, format!("{} open complaint(s)", complaints.open));
    }
    if let Some(rating) = complaints.worst_recent_rating.filter(|r| *r <= settings.at_risk_csat_max) {
        return (LifecycleStage::AtRisk, format!("rated a resolved complaint {rating}/5"));
    }
    if reachability.hard_to_reach(settings) {
        return (
            LifecycleStage::AtRisk,
            format!(
                "hard to reach: {} of {} recent contact attempts unanswered",
                reachability.unanswered, reachability.attempts
            ),
        );
    }
    // An assessment made before the last order says nothing about the customer since.
    if let Some(warning) = early_warning.filter(|w| last <= w.assessed_at) {
        return (LifecycleStage::AtRisk, format!("early warning: {}", warning.reasons));
    }
    let span_days = (last - first).num_days();
    if c.order_count >= settings.loyal_min_orders
        && span_days >= settings.loyal_min_span_days
        && idle_days <= settings.activity_window_days
    {
        return (LifecycleStage::Loyal, format!("{} orders over {span_days} days", c.order_count));
    }
    (LifecycleStage::Active, "ordered within the activity window".to_owned())
}

#[derive(FromQueryResult)]
struct ReachabilityRow {
    customer_id: Uuid,
    attempts: i64,
    unanswered: i64,
}

/// Outbound contact attempts in the activity window, and how many went unanswered, for many
/// customers in one statement (customers without attempts are absent).
pub async fn reachability_of<C: ConnectionTrait>(
    db: &C,
    customer_ids: &[Uuid],
    settings: &WorkspaceSettings,
    now: DateTime<Utc>,
) -> AppResult<HashMap<Uuid, Reachability>> {
    let unanswered = Expr::case(
        Expr::col(interaction::Column::Outcome).is_in([Outcome::NoAnswer.to_value(), Outcome::Bounced.to_value()]),
        1,
    )
    .finally(0);
    let rows = interaction::Entity::find()
        .select_only()
        .column(interaction::Column::CustomerId)
        .expr_as(Func::cast_as(Func::count(Expr::col(interaction::Column::Id)), Alias::new("BIGINT")), "attempts")
        .expr_as(Func::cast_as(Func::sum(unanswered), Alias::new("BIGINT")), "unanswered")
        .filter(interaction::Column::CustomerId.is_in(customer_ids.iter().copied()))
        .filter(interaction::Column::Direction.eq(Direction::Outbound))
        .filter(interaction::Column::OccurredAt.gte(now - Duration::days(settings.activity_window_days)))
        .group_by(interaction::Column::CustomerId)
        .into_model::<ReachabilityRow>()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.customer_id, Reachability { attempts: r.attempts, unanswered: r.unanswered }))
        .collect())
}

#[derive(FromQueryResult)]
struct ComplaintRow {
    customer_id: Uuid,
    open: i64,
    open_breached: i64,
    worst_rating: Option<i32>,
}

/// Complaint signals of many customers in one statement (customers without complaints are absent).
pub async fn complaints_of<C: ConnectionTrait>(
    db: &C,
    customer_ids: &[Uuid],
    settings: &WorkspaceSettings,
    now: DateTime<Utc>,
) -> AppResult<HashMap<Uuid, Complaints>> {
    let open_statuses: Vec<_> = crate::tickets::routing::OPEN_STATUSES.iter().map(|s| s.to_value()).collect();
    let is_open = Expr::col(ticket::Column::Status).is_in(open_statuses);
    let open = Expr::case(is_open.clone(), 1).finally(0);
    let open_breached = Expr::case(is_open.and(Expr::col(ticket::Column::SlaBreached).eq(true)), 1).finally(0);
    let since = now - Duration::days(settings.activity_window_days);
    let recent_rating =
        Expr::case(Expr::col(ticket::Column::ResolvedAt).gte(since), Expr::col(ticket::Column::Satisfaction))
            .finally(Expr::val(Option::<i32>::None));
    let rows = ticket::Entity::find()
        .select_only()
        .column(ticket::Column::CustomerId)
        .expr_as(Func::cast_as(Func::sum(open), Alias::new("BIGINT")), "open")
        .expr_as(Func::cast_as(Func::sum(open_breached), Alias::new("BIGINT")), "open_breached")
        .expr_as(Func::min(recent_rating), "worst_rating")
        .filter(ticket::Column::CustomerId.is_in(customer_ids.iter().copied()))
        .filter(ticket::Column::Kind.eq(TicketKind::Complaint))
        .filter(ticket::Column::MergedIntoId.is_null())
        .group_by(ticket::Column::CustomerId)
        .into_model::<ComplaintRow>()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let complaints =
                Complaints { open: r.open, open_breached: r.open_breached, worst_recent_rating: r.worst_rating };
            (r.customer_id, complaints)
        })
        .collect())
}

/// The stored early warnings of many customers (customers without one are absent).
async fn early_warnings_of<C: ConnectionTrait>(
    db: &C,
    customer_ids: &[Uuid],
) -> AppResult<HashMap<Uuid, EarlyWarning>> {
    let rows: Vec<(Uuid, Option<String>, DateTime<Utc>)> = customer_risk::Entity::find()
        .select_only()
        .column(customer_risk::Column::CustomerId)
        .column(customer_risk::Column::EarlyWarning)
        .column(customer_risk::Column::AssessedAt)
        .filter(customer_risk::Column::CustomerId.is_in(customer_ids.iter().copied()))
        .filter(customer_risk::Column::EarlyWarning.is_not_null())
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, reasons, assessed_at)| Some((id, EarlyWarning { reasons: reasons?, assessed_at })))
        .collect())
}

/// Reachability, complaint and stored early-warning signals of many customers, in three statements.
pub async fn signals_of<C: ConnectionTrait>(
    db: &C,
    customer_ids: &[Uuid],
    settings: &WorkspaceSettings,
    now: DateTime<Utc>,
) -> AppResult<HashMap<Uuid, Signals>> {
    let mut reach = reachability_of(db, customer_ids, settings, now).await?;
    let mut complaints = complaints_of(db, customer_ids, settings, now).await?;
    let mut warnings = early_warnings_of(db, customer_ids).await?;
    Ok(customer_ids
        .iter()
        .map(|id| {
            let signals = Signals {
                reachability: reach.remove(id).unwrap_or_default(),
                complaints: complaints.remove(id).unwrap_or_default(),
                early_warning: warnings.remove(id),
            };
            (*id, signals)
        })
        .collect())
}

/// Re-applies the rules to one customer, recording any change.
pub async fn reevaluate<C: ConnectionTrait>(
    db: &C,
    c: customer::Model,
    settings: &WorkspaceSettings,
    now: DateTime<Utc>,
) -> AppResult<customer::Model> {
    let signals = signals_of(db, &[c.id], settings, now).await?.remove(&c.id).unwrap_or_default();
    match evaluate(&c, signals, settings, now) {
        Some((stage, reason)) => transition(db, c, stage, &reason, Actor::SYSTEM).await,
        None => Ok(c),
    }
}

/// Moves a customer to `to`, with a history row. Staff may move in any direction.
pub async fn transition<C: ConnectionTrait>(
    db: &C,
    c: customer::Model,
    to: LifecycleStage,
    reason: &str,
    actor: Actor,
) -> AppResult<customer::Model> {
    let from = c.lifecycle_stage;
    let now = Utc::now();
    let mut active = c.into_active_model();
    active.lifecycle_stage = Set(to);
    active.lifecycle_changed_at = Set(now);
    if to != LifecycleStage::NotNow {
        active.not_now_until = Set(None);
    }
    active.updated_at = Set(now);
    let c = active.update(db).await?;
    record_event(db, &c, Some(from), to, reason, actor).await?;
    Ok(c)
}

/// One customer's stage change, for [`transition_many`].
pub struct Move<'a> {
    pub customer: &'a customer::Model,
    pub to: LifecycleStage,
    pub reason: String,
}

/// Applies many rule-made stage changes in a few statements: one UPDATE per target stage and
/// batched history rows (the sweep after a large import moves thousands at once).
pub async fn transition_many<C: ConnectionTrait>(db: &C, moves: &[Move<'_>], actor: Actor) -> AppResult<()> {
    if moves.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    let mut by_stage: HashMap<LifecycleStage, Vec<Uuid>> = HashMap::new();
    for m in moves {
        by_stage.entry(m.to).or_default().push(m.customer.id);
    }
    for (stage, ids) in by_stage {
        let mut update = customer::Entity::update_many()
            .col_expr(customer::Column::LifecycleStage, Expr::value(stage.to_value()))
            .col_expr(customer::Column::LifecycleChangedAt, Expr::value(now))
            .col_expr(customer::Column::UpdatedAt, Expr::value(now))
            .filter(customer::Column::Id.is_in(ids));
        if stage != LifecycleStage::NotNow {
            update = update.col_expr(customer::Column::NotNowUntil, Expr::value(Option::<DateTime<Utc>>::None));
        }
        update.exec(db).await?;
    }
    let events = moves.iter().map(|m| lifecycle_event::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(m.customer.workspace_id),
        customer_id: Set(m.customer.id),
        from_stage: Set(Some(m.customer.lifecycle_stage)),
        to_stage: Set(m.to),
        reason: Set(m.reason.clone()),
        actor_id: Set(actor.id),
        created_at: Set(now),
        updated_at: Set(now),
    });
    lifecycle_event::Entity::insert_many(events).exec_without_returning(db).await?;
    Ok(())
}

pub async fn record_event<C: ConnectionTrait>(
    db: &C,
    c: &customer::Model,
    from: Option<LifecycleStage>,
    to: LifecycleStage,
    reason: &str,
    actor: Actor,
) -> AppResult<()> {
    let now = Utc::now();
    lifecycle_event::Entity::insert(lifecycle_event::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(c.workspace_id),
        customer_id: Set(c.id),
        from_stage: Set(from),
        to_stage: Set(to),
        reason: Set(reason.to_owned()),
        actor_id: Set(actor.id),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(orders: i32, first_days_ago: i64, last_days_ago: i64, stage: LifecycleStage) -> customer::Model {
        let now = Utc::now();
        let at = |days: i64| (orders > 0).then(|| now - Duration::days(days));
        customer::Model {
            id: uuid::Uuid::nil(),
            workspace_id: uuid::Uuid::nil(),
            external_ref: None,
            name: "x".into(),
            email: None,
            phone: None,
            birthday: None,
            anniversary: None,
            lifecycle_stage: stage,
            lifecycle_changed_at: now - Duration::days(400),
            not_now_until: None,
            source: None,
            source_lead_id: None,
            owner_id: None,
            referred_by_customer_id: None,
            marketing_consent: false,
            order_count: orders,
            total_spent_minor: 0,
            first_order_at: at(first_days_ago),
            last_order_at: at(last_days_ago),
            deleted_at: None,
            erased_at: None,
            merged_into_id: None,
            city: None,
            region: None,
            country: None,
            age_band: None,
            gender: None,
            income_band: None,
            occupation: None,
            interests: serde_json::json!([]),
            personality_type: None,
            preferred_channel: None,
            interaction_style: None,
            created_at: now,
            updated_at: now,
        }
    }

    fn stage_of(c: &customer::Model, reachability: Reachability) -> LifecycleStage {
        with_complaints(c, reachability, Complaints::default())
    }

    fn with_complaints(c: &customer::Model, reachability: Reachability, complaints: Complaints) -> LifecycleStage {
        evaluate(
            c,
            Signals { reachability, complaints, early_warning: None },
            &WorkspaceSettings::default(),
            Utc::now(),
        )
        .map_or(c.lifecycle_stage, |(s, _)| s)
    }

    #[test]
    fn stages_follow_the_default_rules() {
        let quiet = Reachability::default();
        assert_eq!(stage_of(&customer(0, 0, 0, LifecycleStage::New), quiet), LifecycleStage::New);
        assert_eq!(stage_of(&customer(1, 3, 3, LifecycleStage::New), quiet), LifecycleStage::Active);
        assert_eq!(stage_of(&customer(3, 120, 10, LifecycleStage::Active), quiet), LifecycleStage::Loyal);
        assert_eq!(
            stage_of(&customer(3, 40, 10, LifecycleStage::Active), quiet),
            LifecycleStage::Active,
            "span too short"
        );
        assert_eq!(stage_of(&customer(1, 91, 91, LifecycleStage::Active), quiet), LifecycleStage::Dormant);
        // Two orders 10 days apart, then 30 days of silence: overdue.
        assert_eq!(stage_of(&customer(2, 40, 30, LifecycleStage::Active), quiet), LifecycleStage::AtRisk);
        let unreachable = Reachability { attempts: 4, unanswered: 2 };
        assert_eq!(stage_of(&customer(1, 5, 5, LifecycleStage::Active), unreachable), LifecycleStage::AtRisk);
        let two_attempts = Reachability { attempts: 2, unanswered: 2 };
        assert_eq!(stage_of(&customer(1, 5, 5, LifecycleStage::Active), two_attempts), LifecycleStage::Active);
    }

    #[test]
    fn complaints_are_at_risk_signals() {
        let quiet = Reachability::default();
        let loyal = customer(3, 120, 10, LifecycleStage::Loyal);
        let open = Complaints { open: 1, ..Default::default() };
        assert_eq!(with_complaints(&loyal, quiet, open), LifecycleStage::AtRisk);
        let breached = Complaints { open: 1, open_breached: 1, ..Default::default() };
        assert_eq!(with_complaints(&loyal, quiet, breached), LifecycleStage::AtRisk);
        let unhappy = Complaints { worst_recent_rating: Some(2), ..Default::default() };
        assert_eq!(with_complaints(&loyal, quiet, unhappy), LifecycleStage::AtRisk);
        let content = Complaints { worst_recent_rating: Some(4), ..Default::default() };
        assert_eq!(with_complaints(&loyal, quiet, content), LifecycleStage::Loyal);
        // Without orders there is nothing to be at risk of yet.
        assert_eq!(with_complaints(&customer(0, 0, 0, LifecycleStage::New), quiet, open), LifecycleStage::New);
    }

    #[test]
    fn staff_decisions_stick_until_the_customer_orders_again() {
        let quiet = Reachability::default();
        let mut churned = customer(1, 300, 300, LifecycleStage::Churned);
        churned.lifecycle_changed_at = Utc::now() - Duration::days(100);
        assert!(evaluate(&churned, Signals::default(), &WorkspaceSettings::default(), Utc::now()).is_none());
        let mut not_now = customer(2, 500, 2, LifecycleStage::NotNow);
        not_now.lifecycle_changed_at = Utc::now() - Duration::days(10);
        assert_eq!(stage_of(&not_now, quiet), LifecycleStage::Active, "ordered after saying not now");
    }
}
