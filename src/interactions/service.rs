//! Interactions: every contact with a lead or customer. Recording one keeps the lead's score
//! and the customer's lifecycle (reachability) current.

use chrono::{DateTime, Duration, Utc};
use entity::{
    enums::Channel,
    interaction::{self, Direction, Outcome},
    lead::LeadStatus,
};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, IntoActiveModel};
use uuid::Uuid;

use crate::{
    auth::Actor,
    customers::{self, lifecycle},
    graphql::{AppError, AppResult, ids::new_id},
    leads, workspaces,
};

pub struct NewInteraction {
    pub customer_id: Option<Uuid>,
    pub lead_id: Option<Uuid>,
    pub channel: Channel,
    pub direction: Direction,
    pub outcome: Outcome,
    pub summary: String,
    pub occurred_at: Option<DateTime<Utc>>,
}

pub async fn record<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    actor: Actor,
    input: NewInteraction,
) -> AppResult<interaction::Model> {
    if input.customer_id.is_some() == input.lead_id.is_some() {
        return Err(AppError::bad_input("input.customerId", "give exactly one of customerId and leadId"));
    }
    let summary = input.summary.trim().to_owned();
    if summary.chars().count() > 5_000 {
        return Err(AppError::bad_input("input.summary", "a summary has at most 5000 characters"));
    }
    let now = Utc::now();
    let occurred_at = input.occurred_at.unwrap_or(now);
    if occurred_at > now + Duration::minutes(5) {
        return Err(AppError::bad_input("input.occurredAt", "an interaction cannot be in the future"));
    }
    let customer = match input.customer_id {
        Some(id) => Some(customers::service::get(db, workspace_id, id).await?),
        None => None,
    };
    let lead = match input.lead_id {
        Some(id) => Some(leads::service::get(db, workspace_id, id).await?),
        None => None,
    };
    if lead.as_ref().is_some_and(|l| l.status == LeadStatus::Converted) {
        return Err(AppError::InvalidTransition(
            "the lead is converted; record the interaction on its customer".to_owned(),
        ));
    }
    let record = interaction::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(workspace_id),
        customer_id: Set(input.customer_id),
        lead_id: Set(input.lead_id),
        channel: Set(input.channel),
        direction: Set(input.direction),
        outcome: Set(input.outcome),
        summary: Set(summary),
        occurred_at: Set(occurred_at),
        user_id: Set(actor.id.filter(|_| actor.kind == entity::audit_log::ActorKind::User)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;

    if let Some(lead) = lead {
        let mut active = lead.clone().into_active_model();
        if lead.last_interaction_at.is_none_or(|t| t < occurred_at) {
            active.last_interaction_at = Set(Some(occurred_at));
        }
        // The first contact moves a new lead on.
        if lead.status == LeadStatus::New {
            active.status = Set(LeadStatus::Contacted);
        }
        active.updated_at = Set(now);
        leads::service::rescore(db, active.update(db).await?).await?;
    }
    if let Some(customer) = customer {
        let settings = workspaces::service::settings(db, workspace_id).await?;
        lifecycle::reevaluate(db, customer, &settings, now).await?;
    }
    Ok(record)
}
