//! Feedback from customers: NPS, CSAT, reviews and why they chose us.

pub mod service;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::feedback::{self, FeedbackKind};

use crate::{
    auth::Permission,
    child_relation,
    graphql::{
        authorize,
        ids::{parse_id, to_id},
        state, transact,
    },
};

pub struct Feedback(pub feedback::Model);

#[Object]
impl Feedback {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    async fn kind(&self) -> FeedbackKind {
        self.0.kind
    }
    /// NPS 0–10, CSAT 1–5, review 1–5 (optional).
    async fn score(&self) -> Option<i32> {
        self.0.score
    }
    async fn comment(&self) -> Option<&str> {
        self.0.comment.as_deref()
    }
    /// The answer to "why did you choose us?".
    async fn why_us(&self) -> Option<&str> {
        self.0.why_us.as_deref()
    }
    async fn ticket_id(&self) -> Option<ID> {
        self.0.ticket_id.map(to_id)
    }
    async fn submitted_at(&self) -> DateTime<Utc> {
        self.0.submitted_at
    }
}

child_relation!(
    /// A customer's feedback, newest first.
    CustomerFeedback,
    feedback,
    CustomerId,
    SubmittedAt,
    Desc
);

#[derive(InputObject)]
pub struct RecordFeedbackInput {
    pub customer_id: ID,
    pub kind: FeedbackKind,
    pub score: Option<i32>,
    pub comment: Option<String>,
    pub why_us: Option<String>,
    /// Defaults to now.
    pub submitted_at: Option<DateTime<Utc>>,
}

#[derive(SimpleObject)]
pub struct RecordFeedbackPayload {
    pub feedback: Feedback,
}

#[derive(Default)]
pub struct FeedbackMutation;

#[Object]
impl FeedbackMutation {
    async fn record_feedback(
        &self,
        ctx: &Context<'_>,
        input: RecordFeedbackInput,
    ) -> async_graphql::Result<RecordFeedbackPayload> {
        let principal = authorize(ctx, Permission::WriteCustomers)?;
        let new = service::NewFeedback {
            customer_id: parse_id(&input.customer_id, "input.customerId")?,
            kind: input.kind,
            score: input.score,
            comment: input.comment,
            why_us: input.why_us,
            ticket_id: None,
            submitted_at: input.submitted_at,
        };
        let row =
            transact(state(ctx).db(), async |txn| service::record(txn, principal.workspace_id(), new).await).await?;
        Ok(RecordFeedbackPayload { feedback: Feedback(row) })
    }
}
