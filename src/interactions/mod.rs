//! Interactions: calls, emails, messages, chats, social and in-person contacts.

pub mod service;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{
    enums::Channel,
    interaction::{self, Direction, Outcome},
};

use crate::{
    auth::Permission,
    child_relation,
    graphql::{
        authorize,
        ids::{parse_id, to_id},
        loader, state, transact,
    },
    users::{User, UserLoader},
};

pub struct Interaction(pub interaction::Model);

#[Object]
impl Interaction {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    async fn channel(&self) -> Channel {
        self.0.channel
    }
    async fn direction(&self) -> Direction {
        self.0.direction
    }
    async fn outcome(&self) -> Outcome {
        self.0.outcome
    }
    async fn summary(&self) -> &str {
        &self.0.summary
    }
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }
    async fn customer_id(&self) -> Option<ID> {
        self.0.customer_id.map(to_id)
    }
    async fn lead_id(&self) -> Option<ID> {
        self.0.lead_id.map(to_id)
    }
    /// The staff user who recorded it.
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        match self.0.user_id {
            Some(id) => Ok(loader::<UserLoader>(ctx)?.load_one(id).await?.map(User)),
            None => Ok(None),
        }
    }
}

child_relation!(
    /// A customer's interactions (including those from before conversion), newest first.
    CustomerInteractions,
    interaction,
    CustomerId,
    OccurredAt,
    Desc
);

child_relation!(
    /// A lead's interactions, newest first.
    LeadInteractions,
    interaction,
    LeadId,
    OccurredAt,
    Desc
);

#[derive(InputObject)]
pub struct RecordInteractionInput {
    /// Exactly one of `customerId` and `leadId`.
    pub customer_id: Option<ID>,
    pub lead_id: Option<ID>,
    pub channel: Channel,
    pub direction: Direction,
    pub outcome: Outcome,
    #[graphql(default)]
    pub summary: String,
    /// Defaults to now.
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(SimpleObject)]
pub struct RecordInteractionPayload {
    pub interaction: Interaction,
}

#[derive(Default)]
pub struct InteractionMutation;

#[Object]
impl InteractionMutation {
    /// Records a contact with a lead or customer.
    async fn record_interaction(
        &self,
        ctx: &Context<'_>,
        input: RecordInteractionInput,
    ) -> async_graphql::Result<RecordInteractionPayload> {
        let principal = authorize(ctx, Permission::WriteCustomers)?;
        let new = service::NewInteraction {
            customer_id: input.customer_id.as_ref().map(|id| parse_id(id, "input.customerId")).transpose()?,
            lead_id: input.lead_id.as_ref().map(|id| parse_id(id, "input.leadId")).transpose()?,
            channel: input.channel,
            direction: input.direction,
            outcome: input.outcome,
            summary: input.summary,
            occurred_at: input.occurred_at,
        };
        let interaction = transact(state(ctx).db(), async |txn| {
            service::record(txn, principal.workspace_id(), principal.actor(), new).await
        })
        .await?;
        Ok(RecordInteractionPayload { interaction: Interaction(interaction) })
    }
}
