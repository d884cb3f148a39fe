//! Feedback: NPS, CSAT and reviews, with the customer's "why did you choose us?".

use chrono::{DateTime, Duration, Utc};
use entity::feedback::{self, FeedbackKind};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait};
use uuid::Uuid;

use crate::{
    customers::{self, lifecycle},
    graphql::{AppError, AppResult, ids::new_id},
    workspaces,
};

pub struct NewFeedback {
    pub customer_id: Uuid,
    pub kind: FeedbackKind,
    pub score: Option<i32>,
    pub comment: Option<String>,
    pub why_us: Option<String>,
    pub ticket_id: Option<Uuid>,
    pub submitted_at: Option<DateTime<Utc>>,
}

/// The score range of each kind; NPS and CSAT need a score, a review may have one.
pub fn validate_score(kind: FeedbackKind, score: Option<i32>) -> AppResult<()> {
    let (range, required) = match kind {
        FeedbackKind::Nps => (0..=10, true),
        FeedbackKind::Csat => (1..=5, true),
        FeedbackKind::Review => (1..=5, false),
    };
    match score {
        None if required => Err(AppError::bad_input("input.score", format!("{kind:?} needs a score"))),
        Some(s) if !range.contains(&s) => Err(AppError::bad_input(
            "input.score",
            format!("a {kind:?} score is a whole number from {} to {}", range.start(), range.end()),
        )),
        _ => Ok(()),
    }
}

fn clean(text: Option<String>, field: &str) -> AppResult<Option<String>> {
    let text = text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    if text.as_ref().is_some_and(|t| t.chars().count() > 5_000) {
        return Err(AppError::bad_input(field, "at most 5000 characters"));
    }
    Ok(text)
}

pub async fn record<C: ConnectionTrait>(db: &C, workspace_id: Uuid, input: NewFeedback) -> AppResult<feedback::Model> {
    validate_score(input.kind, input.score)?;
    let customer = customers::service::get(db, workspace_id, input.customer_id).await?;
    let now = Utc::now();
    let submitted_at = input.submitted_at.unwrap_or(now);
    if submitted_at > now + Duration::minutes(5) {
        return Err(AppError::bad_input("input.submittedAt", "feedback cannot come from the future"));
    }
    let row = feedback::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(workspace_id),
        customer_id: Set(customer.id),
        kind: Set(input.kind),
        score: Set(input.score),
        comment: Set(clean(input.comment, "input.comment")?),
        why_us: Set(clean(input.why_us, "input.whyUs")?),
        ticket_id: Set(input.ticket_id),
        submitted_at: Set(submitted_at),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    let settings = workspaces::service::settings(db, workspace_id).await?;
    crate::loyalty::service::grant_bonus(
        db,
        workspace_id,
        customer.id,
        settings.feedback_bonus_points,
        "thank you for your feedback".to_owned(),
        format!("feedback:{}", row.id),
        now,
    )
    .await?;
    lifecycle::reevaluate(db, customer, &settings, now).await?;
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_checked_per_kind() {
        assert!(validate_score(FeedbackKind::Nps, Some(0)).is_ok());
        assert!(validate_score(FeedbackKind::Nps, Some(10)).is_ok());
        assert!(validate_score(FeedbackKind::Nps, Some(11)).is_err());
        assert!(validate_score(FeedbackKind::Nps, None).is_err());
        assert!(validate_score(FeedbackKind::Csat, Some(0)).is_err());
        assert!(validate_score(FeedbackKind::Review, None).is_ok());
    }
}
