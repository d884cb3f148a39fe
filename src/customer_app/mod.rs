//! What a customer signed in to a mobile app may see and do: their own loyalty account, the tiers,
//! the rewards they can afford, their coupons and tickets; redeem rewards (`redeemReward`) and rate
//! tickets (`rateTicket`) for themselves. Every staff query refuses a customer token (it carries no
//! permission), and the shared types hide staff-only fields behind `ReadCustomers`.

pub mod service;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{
    customer, redemption,
    redemption::RedemptionStatus,
    ticket::{self, TicketStatus},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::{
    auth::{Permission, Principal},
    graphql::{
        AppError, authorize,
        connection::{Page, PageArgs, SortDirection, SortKey, page_complexity, paginate},
        ids::{parse_id, to_id},
        principal, state, transact,
    },
    loyalty::{LoyaltyAccount, Redemption, Reward, Tier, rewards, service as loyalty},
};

/// The signed-in customer.
pub struct CustomerSelf(customer::Model);

#[Object]
impl CustomerSelf {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    /// Null until the customer joins the programme.
    async fn loyalty_account(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<LoyaltyAccount>> {
        Ok(loyalty::of_customer(state(ctx).db(), self.0.workspace_id, self.0.id).await?.map(LoyaltyAccount))
    }
    /// The ladder, lowest first.
    async fn tiers(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Tier>> {
        Ok(loyalty::tiers(state(ctx).db(), self.0.workspace_id).await?.into_iter().map(Tier).collect())
    }
    /// Rewards open to the customer's tier that their balance pays for now, cheapest first.
    async fn affordable_rewards(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Reward>> {
        let db = state(ctx).db();
        let Some(account) = loyalty::of_customer(db, self.0.workspace_id, self.0.id).await? else {
            return Ok(Vec::new());
        };
        let query = rewards::affordable(db, &account, Utc::now()).await?;
        let rewards = query.order_by_asc(entity::reward::Column::CostPoints).all(db).await?;
        Ok(rewards.into_iter().map(Reward).collect())
    }
    /// Coupons not used yet, soonest to expire first.
    async fn coupons(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Redemption>> {
        let db = state(ctx).db();
        let Some(account) = loyalty::of_customer(db, self.0.workspace_id, self.0.id).await? else {
            return Ok(Vec::new());
        };
        let issued = redemption::Entity::find()
            .filter(redemption::Column::AccountId.eq(account.id))
            .filter(redemption::Column::Status.eq(RedemptionStatus::Issued))
            .filter(redemption::Column::ExpiresAt.gt(Utc::now()))
            .order_by_asc(redemption::Column::ExpiresAt)
            .all(db)
            .await?;
        Ok(issued.into_iter().map(Redemption).collect())
    }
    /// The customer's tickets and complaints, newest first (what they can see of them).
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn tickets(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Page<MyTicket>> {
        let query = ticket::Entity::find()
            .filter(ticket::Column::WorkspaceId.eq(self.0.workspace_id))
            .filter(ticket::Column::CustomerId.eq(self.0.id));
        let order = vec![SortKey::new(ticket::Column::CreatedAt, SortDirection::Desc)];
        let args = PageArgs { first, after, last, before };
        Ok(paginate(state(ctx).db(), query, order, ticket::Column::Id, args, MyTicket).await?)
    }
}

/// A ticket as its customer sees it: no internal notes, assignees or SLA internals.
pub struct MyTicket(ticket::Model);

#[Object]
impl MyTicket {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    async fn number(&self) -> i64 {
        self.0.number
    }
    async fn subject(&self) -> &str {
        &self.0.subject
    }
    async fn status(&self) -> TicketStatus {
        self.0.status
    }
    /// Their CSAT rating (1–5), once given.
    async fn rating(&self) -> Option<i32> {
        self.0.satisfaction
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolved_at
    }
}

#[derive(Default)]
pub struct CustomerAppQuery;

#[Object]
impl CustomerAppQuery {
    /// The signed-in customer (customer tokens only; see `exchangeCustomerLoginCode`).
    async fn my_account(&self, ctx: &Context<'_>) -> async_graphql::Result<CustomerSelf> {
        let Principal::Customer { customer_id, workspace_id } = principal(ctx)? else {
            return Err(AppError::Forbidden("`myAccount` is for customers signed in to an app".to_owned()).into());
        };
        Ok(CustomerSelf(crate::customers::service::get(state(ctx).db(), *workspace_id, *customer_id).await?))
    }
}

#[derive(InputObject)]
pub struct IssueCustomerLoginCodeInput {
    pub customer_id: ID,
}

/// Send the code to the customer (e.g. inside a link to the app); it works once, for a few minutes.
#[derive(SimpleObject)]
pub struct CustomerLoginCode {
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(InputObject)]
pub struct ExchangeCustomerLoginCodeInput {
    pub code: String,
}

#[derive(SimpleObject)]
pub struct CustomerSession {
    /// Send as `Authorization: Bearer <token>`; it only opens `myAccount`, `redeemReward` and
    /// `rateTicket` for this customer's own data.
    pub access_token: String,
    pub expires_at: DateTime<Utc>,
    pub customer_id: ID,
}

#[derive(Default)]
pub struct CustomerAppMutation;

#[Object]
impl CustomerAppMutation {
    /// A one-time login code for a customer's app (staff, or API keys with CUSTOMERS_WRITE).
    async fn issue_customer_login_code(
        &self,
        ctx: &Context<'_>,
        input: IssueCustomerLoginCodeInput,
    ) -> async_graphql::Result<CustomerLoginCode> {
        let principal = authorize(ctx, Permission::WriteCustomers)?;
        let customer_id: Uuid = parse_id(&input.customer_id, "input.customerId")?;
        let (code, expires_at) = transact(state(ctx).db(), async |txn| {
            service::issue(txn, principal.workspace_id(), principal.actor(), customer_id, Utc::now()).await
        })
        .await?;
        Ok(CustomerLoginCode { code, expires_at })
    }

    /// Exchanges a one-time code for a customer token. Needs no authentication: the code is the proof.
    async fn exchange_customer_login_code(
        &self,
        ctx: &Context<'_>,
        input: ExchangeCustomerLoginCodeInput,
    ) -> async_graphql::Result<CustomerSession> {
        let app = state(ctx);
        let (workspace_id, customer_id) =
            transact(app.db(), async |txn| service::redeem(txn, &input.code, Utc::now()).await).await?;
        let token = app.jwt().issue_customer_access(customer_id, workspace_id)?;
        Ok(CustomerSession { access_token: token.token, expires_at: token.expires_at, customer_id: to_id(customer_id) })
    }
}
