//! Merging duplicates, soft delete and restore, data-subject export and erasure.

use chrono::Utc;
use entity::{
    customer, customer_note, customer_tag, feedback, follow_up, interaction, lead, lifecycle_event, loyalty_account,
    order, ticket, ticket_event,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, sea_query::Expr,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{lifecycle, service};
use crate::{
    audit,
    auth::Actor,
    graphql::{AppError, AppResult, ids::new_id},
    workspaces,
};

/// What a merge moves (or, for a dry run, would move) onto the survivor.
#[derive(Debug, Default, Clone, PartialEq, Eq, async_graphql::SimpleObject)]
pub struct MergeCounts {
    pub orders: u64,
    pub interactions: u64,
    pub notes: u64,
    pub follow_ups: u64,
    pub feedback: u64,
    pub tags: u64,
}

pub struct MergePlan {
    pub survivor: customer::Model,
    pub merged: customer::Model,
    pub filled_fields: Vec<String>,
    pub moved: MergeCounts,
    pub dry_run: bool,
}

/// Folds `merged_id` into `survivor_id`: its history moves, only empty fields are filled, and
/// the merged record stays (invisible) with a pointer to the survivor.
pub async fn merge<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    actor: Actor,
    survivor_id: Uuid,
    merged_id: Uuid,
    dry_run: bool,
) -> AppResult<MergePlan> {
    if survivor_id == merged_id {
        return Err(AppError::bad_input("input.mergedId", "a customer cannot be merged into itself"));
    }
    // Both locked (in id order) before their orders are counted, moved and recounted.
    let mut locked = service::lock_all(db, workspace_id, &[survivor_id, merged_id]).await?;
    let (Some(a), Some(b)) = (locked.pop(), locked.pop()) else {
        return Err(AppError::not_found("customer"));
    };
    let (survivor, merged) = if a.id == survivor_id { (a, b) } else { (b, a) };
    if survivor.erased_at.is_some() || merged.erased_at.is_some() {
        return Err(AppError::InvalidTransition("erased customers cannot be merged".to_owned()));
    }
    let filled_fields = fillable(&survivor, &merged);
    let moved = MergeCounts {
        orders: order::Entity::find().filter(order::Column::CustomerId.eq(merged_id)).count(db).await?,
        interactions: interaction::Entity::find()
            .filter(interaction::Column::CustomerId.eq(merged_id))
            .count(db)
            .await?,
        notes: customer_note::Entity::find().filter(customer_note::Column::CustomerId.eq(merged_id)).count(db).await?,
        follow_ups: follow_up::Entity::find().filter(follow_up::Column::CustomerId.eq(merged_id)).count(db).await?,
        feedback: feedback::Entity::find().filter(feedback::Column::CustomerId.eq(merged_id)).count(db).await?,
        tags: customer_tag::Entity::find().filter(customer_tag::Column::CustomerId.eq(merged_id)).count(db).await?,
    };
    if dry_run {
        return Ok(MergePlan { survivor, merged, filled_fields, moved, dry_run: true });
    }

    macro_rules! repoint {
        ($($entity:ident),*) => {$(
            $entity::Entity::update_many()
                .col_expr($entity::Column::CustomerId, Expr::value(survivor_id))
                .filter($entity::Column::CustomerId.eq(merged_id))
                .exec(db)
                .await?;
        )*};
    }
    repoint!(order, interaction, customer_note, follow_up, feedback, ticket);
    crate::loyalty::service::merge_accounts(db, workspace_id, survivor_id, merged_id, Utc::now()).await?;
    lead::Entity::update_many()
        .col_expr(lead::Column::ConvertedCustomerId, Expr::value(survivor_id))
        .filter(lead::Column::ConvertedCustomerId.eq(merged_id))
        .exec(db)
        .await?;
    let survivor_tags: Vec<String> = service::tags_of(db, &[survivor_id]).await?.into_iter().map(|t| t.tag).collect();
    let now = Utc::now();
    for tag in service::tags_of(db, &[merged_id]).await? {
        if !survivor_tags.contains(&tag.tag) {
            customer_tag::ActiveModel {
                id: Set(new_id()),
                workspace_id: Set(workspace_id),
                customer_id: Set(survivor_id),
                tag: Set(tag.tag),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(db)
            .await?;
        }
    }
    customer_tag::Entity::delete_many().filter(customer_tag::Column::CustomerId.eq(merged_id)).exec(db).await?;

    // The merged record keeps nothing unique: its external reference may pass to the survivor.
    let mut gone = merged.clone().into_active_model();
    gone.merged_into_id = Set(Some(survivor_id));
    gone.deleted_at = Set(Some(now));
    gone.external_ref = Set(None);
    gone.updated_at = Set(now);
    let gone = gone.update(db).await?;
    crate::metrics::activity::store(db, &gone, &[]).await?;
    crate::events::raise(crate::events::Event::AccessRevoked { workspace_id, subject: gone.id });

    let mut active = survivor.clone().into_active_model();
    macro_rules! fill {
        ($($field:ident),*) => {$(
            if survivor.$field.is_none() && merged.$field.is_some() {
                active.$field = Set(merged.$field.clone());
            }
        )*};
    }
    fill!(
        external_ref,
        email,
        phone,
        birthday,
        anniversary,
        source,
        owner_id,
        referred_by_customer_id,
        city,
        region,
        country,
        age_band,
        gender,
        income_band,
        occupation,
        personality_type,
        preferred_channel,
        interaction_style
    );
    if survivor.interests == json!([]) {
        active.interests = Set(merged.interests.clone());
    }
    active.marketing_consent = Set(survivor.marketing_consent || merged.marketing_consent);
    active.updated_at = Set(now);
    let updated = active.update(db).await?;
    let updated = service::refresh_order_stats(db, updated).await?;
    let settings = workspaces::service::settings(db, workspace_id).await?;
    let updated = lifecycle::reevaluate(db, updated, &settings, now).await?;
    audit::record(
        db,
        workspace_id,
        actor,
        "customer.merge",
        "customer",
        Some(survivor_id),
        json!({ "mergedId": merged_id, "filled": filled_fields, "moved": {
            "orders": moved.orders, "interactions": moved.interactions, "notes": moved.notes,
            "followUps": moved.follow_ups, "feedback": moved.feedback, "tags": moved.tags } }),
    )
    .await?;
    Ok(MergePlan { survivor: updated, merged, filled_fields, moved, dry_run: false })
}

/// Names of the survivor's empty fields the merged customer can fill.
fn fillable(survivor: &customer::Model, merged: &customer::Model) -> Vec<String> {
    let mut fields = Vec::new();
    macro_rules! check {
        ($($name:literal: $field:ident),*) => {$(
            if survivor.$field.is_none() && merged.$field.is_some() {
                fields.push($name.to_owned());
            }
        )*};
    }
    check!("externalRef": external_ref, "email": email, "phone": phone, "birthday": birthday,
        "anniversary": anniversary, "source": source, "owner": owner_id, "city": city, "region": region,
        "country": country, "ageBand": age_band, "gender": gender, "incomeBand": income_band,
        "occupation": occupation, "personalityType": personality_type, "preferredChannel": preferred_channel,
        "interactionStyle": interaction_style);
    if survivor.interests == json!([]) && merged.interests != json!([]) {
        fields.push("interests".to_owned());
    }
    fields
}

/// A customer, deleted or not (never a merged-away one).
fn including_deleted(workspace_id: Uuid, id: Uuid) -> sea_orm::Select<customer::Entity> {
    customer::Entity::find_by_id(id)
        .filter(customer::Column::WorkspaceId.eq(workspace_id))
        .filter(customer::Column::MergedIntoId.is_null())
}

async fn get_including_deleted<C: ConnectionTrait>(db: &C, workspace_id: Uuid, id: Uuid) -> AppResult<customer::Model> {
    including_deleted(workspace_id, id).one(db).await?.ok_or_else(|| AppError::not_found("customer"))
}

/// The same, row-locked (see `service::lock`): its purchase days are rewritten next.
async fn lock_including_deleted<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    id: Uuid,
) -> AppResult<customer::Model> {
    including_deleted(workspace_id, id).lock_exclusive().one(db).await?.ok_or_else(|| AppError::not_found("customer"))
}

/// Hides a customer everywhere; `restore` brings them back with everything intact.
pub async fn soft_delete<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    actor: Actor,
    id: Uuid,
    deleted: bool,
) -> AppResult<customer::Model> {
    let current = lock_including_deleted(db, workspace_id, id).await?;
    if current.deleted_at.is_some() == deleted {
        return Err(AppError::InvalidTransition(
            if deleted { "the customer is already deleted" } else { "the customer is not deleted" }.to_owned(),
        ));
    }
    let now = Utc::now();
    let mut active = current.into_active_model();
    active.deleted_at = Set(deleted.then_some(now));
    active.updated_at = Set(now);
    let c = active.update(db).await?;
    if deleted {
        crate::events::raise(crate::events::Event::AccessRevoked { workspace_id, subject: c.id });
    }
    // Deleted customers leave the metrics; restored ones come back with their orders.
    crate::metrics::activity::refresh(db, &c).await?;
    let action = if deleted { "customer.delete" } else { "customer.restore" };
    audit::record(db, workspace_id, actor, action, "customer", Some(id), json!({})).await?;
    Ok(c)
}

/// Everything held about a person (data-subject access request), as JSON.
pub async fn export<C: ConnectionTrait>(db: &C, workspace_id: Uuid, actor: Actor, id: Uuid) -> AppResult<Value> {
    get_including_deleted(db, workspace_id, id).await?;
    macro_rules! rows {
        ($entity:ident, $order:ident) => {
            $entity::Entity::find()
                .filter($entity::Column::CustomerId.eq(id))
                .order_by_asc($entity::Column::$order)
                .into_json()
                .all(db)
                .await?
        };
    }
    let leads = lead::Entity::find().filter(lead::Column::ConvertedCustomerId.eq(id)).into_json().all(db).await?;
    let export = json!({
        "customer": customer::Entity::find_by_id(id).into_json().one(db).await?,
        "tags": service::tags_of(db, &[id]).await?.into_iter().map(|t| t.tag).collect::<Vec<_>>(),
        "notes": rows!(customer_note, CreatedAt),
        "orders": rows!(order, PlacedAt),
        "interactions": rows!(interaction, OccurredAt),
        "followUps": rows!(follow_up, DueAt),
        "feedback": rows!(feedback, SubmittedAt),
        "lifecycleHistory": rows!(lifecycle_event, CreatedAt),
        "tickets": rows!(ticket, CreatedAt),
        "loyaltyAccount": rows!(loyalty_account, CreatedAt),
        "leads": leads,
        "exportedAt": Utc::now(),
    });
    audit::record(db, workspace_id, actor, "customer.export", "customer", Some(id), json!({})).await?;
    Ok(export)
}

/// Anonymises a person: personal fields, notes, message texts and tags go; orders stay (without
/// anything personal) so aggregate metrics remain right.
pub async fn erase<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    actor: Actor,
    id: Uuid,
) -> AppResult<customer::Model> {
    let current = lock_including_deleted(db, workspace_id, id).await?;
    if current.erased_at.is_some() {
        return Err(AppError::InvalidTransition("the customer is already erased".to_owned()));
    }
    let now = Utc::now();
    let mut active = current.into_active_model();
    active.name = Set("Erased customer".to_owned());
    active.email = Set(None);
    active.phone = Set(None);
    active.external_ref = Set(None);
    active.birthday = Set(None);
    active.anniversary = Set(None);
    active.marketing_consent = Set(false);
    active.city = Set(None);
    active.region = Set(None);
    active.country = Set(None);
    active.age_band = Set(None);
    active.gender = Set(None);
    active.income_band = Set(None);
    active.occupation = Set(None);
    active.interests = Set(json!([]));
    active.personality_type = Set(None);
    active.preferred_channel = Set(None);
    active.interaction_style = Set(None);
    active.erased_at = Set(Some(now));
    active.updated_at = Set(now);
    let c = active.update(db).await?;
    crate::events::raise(crate::events::Event::AccessRevoked { workspace_id, subject: c.id });
    customer_note::Entity::delete_many().filter(customer_note::Column::CustomerId.eq(id)).exec(db).await?;
    customer_tag::Entity::delete_many().filter(customer_tag::Column::CustomerId.eq(id)).exec(db).await?;
    interaction::Entity::update_many()
        .col_expr(interaction::Column::Summary, Expr::value(""))
        .filter(interaction::Column::CustomerId.eq(id))
        .exec(db)
        .await?;
    feedback::Entity::update_many()
        .col_expr(feedback::Column::Comment, Expr::value(Option::<String>::None))
        .col_expr(feedback::Column::WhyUs, Expr::value(Option::<String>::None))
        .filter(feedback::Column::CustomerId.eq(id))
        .exec(db)
        .await?;
    follow_up::Entity::update_many()
        .col_expr(follow_up::Column::Note, Expr::value(Option::<String>::None))
        .filter(follow_up::Column::CustomerId.eq(id))
        .exec(db)
        .await?;
    // Complaints stay for the reports; what they say about the person goes.
    let none = || Expr::value(Option::<String>::None);
    ticket::Entity::update_many()
        .col_expr(ticket::Column::ContactName, none())
        .col_expr(ticket::Column::ContactEmail, none())
        .col_expr(ticket::Column::ContactPhone, none())
        .col_expr(ticket::Column::Subject, Expr::value("Erased"))
        .col_expr(ticket::Column::Body, Expr::value(""))
        .filter(ticket::Column::CustomerId.eq(id))
        .exec(db)
        .await?;
    let their_tickets =
        ticket::Entity::find().select_only().column(ticket::Column::Id).filter(ticket::Column::CustomerId.eq(id));
    ticket_event::Entity::update_many()
        .col_expr(ticket_event::Column::Body, none())
        .filter(ticket_event::Column::TicketId.in_subquery(their_tickets.into_query()))
        .exec(db)
        .await?;
    lead::Entity::update_many()
        .col_expr(lead::Column::Name, Expr::value("Erased lead"))
        .col_expr(lead::Column::Email, Expr::value(Option::<String>::None))
        .col_expr(lead::Column::Phone, Expr::value(Option::<String>::None))
        .col_expr(lead::Column::Company, Expr::value(Option::<String>::None))
        .filter(lead::Column::ConvertedCustomerId.eq(id))
        .exec(db)
        .await?;
    audit::record(db, workspace_id, actor, "customer.erase", "customer", Some(id), json!({})).await?;
    Ok(c)
}
