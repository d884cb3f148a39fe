//! The follow-up rules: which touch points are due, derived from orders, dates and stages.
//! Each occasion has a rule key, so running the rules again creates nothing twice.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use std::collections::HashMap;

use entity::{
    customer::{self, LifecycleStage},
    customer_risk,
    follow_up::{self, FollowUpKind, FollowUpStatus},
    order::{self, OrderStatus},
};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, TryInsertResult};
use uuid::Uuid;

use crate::{
    customers,
    graphql::{AppResult, ids::new_id},
    workspaces::{self, settings::WorkspaceSettings},
};

/// A follow-up a rule wants, before it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Due {
    pub customer_id: Uuid,
    pub assignee_id: Option<Uuid>,
    pub kind: FollowUpKind,
    pub due_at: DateTime<Utc>,
    pub rule_key: String,
    /// Why, for the person who does it.
    pub note: Option<String>,
}

/// Runs every rule for one workspace; returns how many follow-ups were created.
pub async fn run<C: ConnectionTrait>(db: &C, workspace_id: Uuid, now: DateTime<Utc>) -> AppResult<u64> {
    let workspace = workspaces::service::get(db, workspace_id).await?;
    let settings = WorkspaceSettings::from_json(&workspace.settings);
    let tz = crate::workspaces::service::zone(&workspace);
    let mut due = after_orders(db, workspace_id, &settings, now).await?;
    let risks = risk_notes(db, workspace_id).await?;
    let customers = customers::service::query(workspace_id).filter(customer::Column::ErasedAt.is_null());
    for c in customers.all(db).await? {
        due.extend(for_customer(&c, &settings, tz, now, risks.get(&c.id).map(String::as_str)));
    }
    insert(db, workspace_id, due).await
}

/// The reasons of each customer's latest at-risk assessment, as one sentence.
async fn risk_notes<C: ConnectionTrait>(db: &C, workspace_id: Uuid) -> AppResult<HashMap<Uuid, String>> {
    let rows: Vec<(Uuid, serde_json::Value)> = customer_risk::Entity::find()
        .select_only()
        .column(customer_risk::Column::CustomerId)
        .column(customer_risk::Column::Reasons)
        .filter(customer_risk::Column::WorkspaceId.eq(workspace_id))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, reasons)| {
            let details: Vec<&str> =
                reasons.as_array().into_iter().flatten().filter_map(|r| r["detail"].as_str()).collect();
            (id, format!("At risk: {}.", details.join("; ")))
        })
        .collect())
}

/// THANK_YOU and POST_PURCHASE_SURVEY for recent completed orders.
async fn after_orders<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    settings: &WorkspaceSettings,
    now: DateTime<Utc>,
) -> AppResult<Vec<Due>> {
    let recent: Vec<(Uuid, Uuid, DateTime<Utc>, Option<Uuid>)> = order::Entity::find()
        .select_only()
        .column(order::Column::Id)
        .column(order::Column::CustomerId)
        .column(order::Column::PlacedAt)
        .column_as(customer::Column::OwnerId, "owner_id")
        .join(
            sea_orm::JoinType::InnerJoin,
            order::Entity::belongs_to(customer::Entity).from(order::Column::CustomerId).to(customer::Column::Id).into(),
        )
        .filter(order::Column::WorkspaceId.eq(workspace_id))
        .filter(order::Column::Status.eq(OrderStatus::Completed))
        .filter(order::Column::PlacedAt.gte(now - Duration::days(settings.follow_up_lookback_days)))
        .filter(customer::Column::ErasedAt.is_null())
        .into_tuple()
        .all(db)
        .await?;
    let mut due = Vec::with_capacity(recent.len() * 2);
    for (order_id, customer_id, placed_at, owner) in recent {
        due.push(Due {
            customer_id,
            assignee_id: owner,
            kind: FollowUpKind::ThankYou,
            due_at: placed_at + Duration::hours(settings.thank_you_delay_hours),
            rule_key: format!("thank-you:{order_id}"),
            note: None,
        });
        due.push(Due {
            customer_id,
            assignee_id: owner,
            kind: FollowUpKind::PostPurchaseSurvey,
            due_at: placed_at + Duration::days(settings.survey_delay_days),
            rule_key: format!("survey:{order_id}"),
            note: None,
        });
    }
    Ok(due)
}

/// Greetings, check-ins and reactivation for one customer (`risk_note`: the reasons of their
/// at-risk assessment). Pure.
pub fn for_customer(
    c: &customer::Model,
    settings: &WorkspaceSettings,
    tz: Tz,
    now: DateTime<Utc>,
    risk_note: Option<&str>,
) -> Vec<Due> {
    let mut due = Vec::new();
    let today = now.with_timezone(&tz).date_naive();
    for (kind, date, label) in
        [(FollowUpKind::Birthday, c.birthday, "birthday"), (FollowUpKind::Anniversary, c.anniversary, "anniversary")]
    {
        let Some(date) = date else { continue };
        let Some(next) = next_occurrence(date, today) else { continue };
        let greet_on = next - Duration::days(settings.greeting_days_before);
        if greet_on <= today {
            due.push(Due {
                customer_id: c.id,
                assignee_id: c.owner_id,
                kind,
                due_at: local_morning(greet_on, tz).max(now),
                rule_key: format!("{label}:{}:{}", c.id, next.year()),
                note: None,
            });
        }
    }
    if let Some(last) = c.last_order_at {
        let idle = (now - last).num_days();
        let stamp = last.date_naive();
        let reach_out = |kind, rule_key, note| Due {
            customer_id: c.id,
            assignee_id: c.owner_id,
            kind,
            due_at: now,
            rule_key,
            note,
        };
        match c.lifecycle_stage {
            LifecycleStage::Dormant => {
                due.push(reach_out(FollowUpKind::Reactivation, format!("reactivation:{}:{stamp}", c.id), None));
            }
            // Once per at-risk spell, with the reasons.
            LifecycleStage::AtRisk => due.push(reach_out(
                FollowUpKind::Reactivation,
                format!("at-risk:{}:{}", c.id, c.lifecycle_changed_at.date_naive()),
                risk_note.map(str::to_owned),
            )),
            LifecycleStage::NotNow | LifecycleStage::Churned => {}
            _ if idle >= settings.check_in_after_days => {
                due.push(reach_out(FollowUpKind::CheckIn, format!("check-in:{}:{stamp}", c.id), None));
            }
            _ => {}
        }
    }
    due
}

/// This year's (or next year's) date with the same month and day; 29 February falls on 28 February.
fn next_occurrence(date: NaiveDate, today: NaiveDate) -> Option<NaiveDate> {
    let on = |year: i32| {
        NaiveDate::from_ymd_opt(year, date.month(), date.day()).or_else(|| NaiveDate::from_ymd_opt(year, 2, 28))
    };
    let this_year = on(today.year())?;
    if this_year >= today { Some(this_year) } else { on(today.year() + 1) }
}

/// 09:00 on `day` in the workspace's time zone.
fn local_morning(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let local = day.and_time(NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default());
    tz.from_local_datetime(&local).earliest().map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc))
}

async fn insert<C: ConnectionTrait>(db: &C, workspace_id: Uuid, due: Vec<Due>) -> AppResult<u64> {
    let now = Utc::now();
    let mut created = 0;
    for chunk in due.chunks(500) {
        let rows = chunk.iter().map(|d| follow_up::ActiveModel {
            id: Set(new_id()),
            workspace_id: Set(workspace_id),
            customer_id: Set(Some(d.customer_id)),
            lead_id: Set(None),
            kind: Set(d.kind),
            due_at: Set(d.due_at),
            status: Set(FollowUpStatus::Pending),
            assignee_id: Set(d.assignee_id),
            rule_key: Set(Some(d.rule_key.clone())),
            note: Set(d.note.clone()),
            closed_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        });
        let result = follow_up::Entity::insert_many(rows)
            .on_conflict_do_nothing_on([follow_up::Column::WorkspaceId, follow_up::Column::RuleKey])
            .exec_without_returning(db)
            .await?;
        if let TryInsertResult::Inserted(n) = result {
            created += n;
        }
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn dates_recur_yearly_and_leap_days_fall_back() {
        assert_eq!(next_occurrence(date(1990, 3, 14), date(2026, 3, 1)), Some(date(2026, 3, 14)));
        assert_eq!(next_occurrence(date(1990, 3, 14), date(2026, 3, 15)), Some(date(2027, 3, 14)));
        assert_eq!(next_occurrence(date(1992, 2, 29), date(2026, 1, 1)), Some(date(2026, 2, 28)));
    }

    #[test]
    fn greetings_are_due_the_day_before_in_the_workspace_morning() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let morning = local_morning(date(2026, 7, 1), tz);
        assert_eq!(morning.to_rfc3339(), "2026-07-01T07:00:00+00:00");
    }
}
