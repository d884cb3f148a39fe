//! Customers: creation, changes, tags, notes, duplicate detection and order statistics.
//! Every function is scoped to one workspace; soft-deleted and merged-away customers are invisible.

use async_graphql::MaybeUndefined;
use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    customer::{self, LifecycleStage},
    customer_note, customer_tag,
    enums::AcquisitionSource,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, Select,
};
use serde_json::json;
use uuid::Uuid;

use super::lifecycle;
use crate::{
    apply_profile, audit,
    auth::Actor,
    contact::{normalize_email, normalize_name, normalize_phone},
    follow_ups,
    graphql::{AppError, AppResult, ids::new_id},
    metrics,
    profile::{ProfileInput, value_change},
    users,
};

const MAX_TAGS: usize = 50;

#[derive(Default)]
pub struct NewCustomer {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub external_ref: Option<String>,
    pub birthday: Option<NaiveDate>,
    pub anniversary: Option<NaiveDate>,
    pub owner_id: Option<Uuid>,
    pub source: Option<AcquisitionSource>,
    pub source_lead_id: Option<Uuid>,
    pub referred_by_customer_id: Option<Uuid>,
    /// A customer's referral code; opens a referral (see `loyalty::referrals`).
    pub referral_code: Option<String>,
    pub marketing_consent: bool,
    pub tags: Vec<String>,
    pub profile: ProfileInput,
}

#[derive(Default)]
pub struct CustomerChanges {
    pub name: Option<String>,
    pub email: MaybeUndefined<String>,
    pub phone: MaybeUndefined<String>,
    pub external_ref: MaybeUndefined<String>,
    pub birthday: MaybeUndefined<NaiveDate>,
    pub anniversary: MaybeUndefined<NaiveDate>,
    pub owner_id: MaybeUndefined<Uuid>,
    pub marketing_consent: Option<bool>,
    pub tags: Option<Vec<String>>,
    pub profile: Option<ProfileInput>,
}

/// A new customer row (stage NEW, no orders) with every optional field empty.
pub fn blank(workspace_id: Uuid, name: String, now: DateTime<Utc>) -> customer::ActiveModel {
    customer::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(workspace_id),
        external_ref: Set(None),
        name: Set(name),
        email: Set(None),
        phone: Set(None),
        birthday: Set(None),
        anniversary: Set(None),
        lifecycle_stage: Set(LifecycleStage::New),
        lifecycle_changed_at: Set(now),
        not_now_until: Set(None),
        source: Set(None),
        source_lead_id: Set(None),
        owner_id: Set(None),
        referred_by_customer_id: Set(None),
        marketing_consent: Set(false),
        order_count: Set(0),
        total_spent_minor: Set(0),
        first_order_at: Set(None),
        last_order_at: Set(None),
        deleted_at: Set(None),
        erased_at: Set(None),
        merged_into_id: Set(None),
        interests: Set(json!([])),
        created_at: Set(now),
        updated_at: Set(now),
        // The other profile columns are nullable and start empty.
        ..Default::default()
    }
}

/// The live (not deleted, not merged away) customers of a workspace.
pub fn query(workspace_id: Uuid) -> Select<customer::Entity> {
    customer::Entity::find()
        .filter(customer::Column::WorkspaceId.eq(workspace_id))
        .filter(customer::Column::DeletedAt.is_null())
        .filter(customer::Column::MergedIntoId.is_null())
}

pub async fn get<C: ConnectionTrait>(db: &C, workspace_id: Uuid, id: Uuid) -> AppResult<customer::Model> {
    query(workspace_id)
        .filter(customer::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("customer"))
}

/// The customer, row-locked until the transaction ends (`FOR UPDATE` on PostgreSQL; SQLite's
/// `BEGIN IMMEDIATE` already serialises writers). Every change to a customer's orders takes this
/// first, before inserting or reading orders: the recount in [`refresh_order_stats`] then sees
/// every committed order, and concurrent writers queue on one lock instead of deadlocking on the
/// orders' foreign-key share locks.
pub async fn lock<C: ConnectionTrait>(db: &C, workspace_id: Uuid, id: Uuid) -> AppResult<customer::Model> {
    query(workspace_id)
        .filter(customer::Column::Id.eq(id))
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("customer"))
}

/// Locks several customers in id order, so two transactions locking the same pair cannot deadlock.
pub async fn lock_all<C: ConnectionTrait>(db: &C, workspace_id: Uuid, ids: &[Uuid]) -> AppResult<Vec<customer::Model>> {
    let mut sorted = ids.to_vec();
    sorted.sort();
    let mut locked = Vec::with_capacity(sorted.len());
    for id in sorted {
        locked.push(lock(db, workspace_id, id).await?);
    }
    Ok(locked)
}

pub async fn create<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    actor: Actor,
    input: NewCustomer,
) -> AppResult<customer::Model> {
    let name = normalize_name(&input.name, "input.name")?;
    let email = optional(input.email, |e| normalize_email(e, "input.email"))?;
    let phone = optional(input.phone, |p| normalize_phone(p, "input.phone"))?;
    let external_ref = optional(input.external_ref, |r| normalize_external_ref(r, "input.externalRef"))?;
    if let Some(reference) = &external_ref {
        ensure_external_ref_free(db, workspace_id, reference, None).await?;
    }
    if let Some(owner) = input.owner_id {
        ensure_owner(db, workspace_id, owner).await?;
    }
    let now = Utc::now();
    let referrer = crate::loyalty::referrals::referrer_of(
        db,
        workspace_id,
        &input.referral_code,
        input.referred_by_customer_id,
        now,
    )
    .await?;
    let tags = clean_tags(&input.tags)?;
    let mut active = blank(workspace_id, name, now);
    active.external_ref = Set(external_ref);
    active.email = Set(email);
    active.phone = Set(phone);
    active.birthday = Set(check_optional_date(input.birthday, "input.birthday")?);
    active.anniversary = Set(check_optional_date(input.anniversary, "input.anniversary")?);
    active.source = Set(input.source);
    active.source_lead_id = Set(input.source_lead_id);
    active.owner_id = Set(input.owner_id);
    active.referred_by_customer_id = Set(referrer.as_ref().map(|a| a.customer_id));
    active.marketing_consent = Set(input.marketing_consent);
    apply_profile!(active, input.profile);
    let customer = active.insert(db).await?;
    // A converted lead's referral follows it (`referrals::on_convert`); only direct sign-ups open one here.
    if let Some(referrer) = referrer.filter(|_| customer.source_lead_id.is_none()) {
        crate::loyalty::referrals::open(db, &referrer, crate::loyalty::referrals::Referee::Customer(&customer), now)
            .await?;
    }
    lifecycle::record_event(db, &customer, None, LifecycleStage::New, "created", actor).await?;
    replace_tags(db, &customer, &tags).await?;
    audit::record(
        db,
        workspace_id,
        actor,
        "customer.create",
        "customer",
        Some(customer.id),
        json!({ "name": customer.name }),
    )
    .await?;
    Ok(customer)
}

pub async fn update<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    actor: Actor,
    id: Uuid,
    changes: CustomerChanges,
) -> AppResult<customer::Model> {
    let current = get(db, workspace_id, id).await?;
    if current.erased_at.is_some() {
        return Err(AppError::InvalidTransition("an erased customer cannot be changed".to_owned()));
    }
    let mut active = current.clone().into_active_model();
    if let Some(name) = &changes.name {
        active.name = Set(normalize_name(name, "input.name")?);
    }
    if let Some(email) = value_change(changes.email) {
        active.email = Set(optional(email, |e| normalize_email(e, "input.email"))?);
    }
    if let Some(phone) = value_change(changes.phone) {
        active.phone = Set(optional(phone, |p| normalize_phone(p, "input.phone"))?);
    }
    if let Some(reference) = value_change(changes.external_ref) {
        let reference = optional(reference, |r| normalize_external_ref(r, "input.externalRef"))?;
        if let Some(r) = &reference {
            ensure_external_ref_free(db, workspace_id, r, Some(id)).await?;
        }
        active.external_ref = Set(reference);
    }
    if let Some(birthday) = value_change(changes.birthday) {
        active.birthday = Set(check_optional_date(birthday, "input.birthday")?);
    }
    if let Some(anniversary) = value_change(changes.anniversary) {
        active.anniversary = Set(check_optional_date(anniversary, "input.anniversary")?);
    }
    if let Some(owner) = value_change(changes.owner_id) {
        if let Some(owner) = owner {
            ensure_owner(db, workspace_id, owner).await?;
        }
        active.owner_id = Set(owner);
    }
    if let Some(consent) = changes.marketing_consent {
        active.marketing_consent = Set(consent);
    }
    if let Some(profile) = changes.profile {
        apply_profile!(active, profile);
    }
    active.updated_at = Set(Utc::now());
    let customer = active.update(db).await?;
    if let Some(tags) = &changes.tags {
        replace_tags(db, &customer, &clean_tags(tags)?).await?;
    }
    audit::record(db, workspace_id, actor, "customer.update", "customer", Some(id), json!({})).await?;
    Ok(customer)
}

pub async fn add_note<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    actor: Actor,
    customer_id: Uuid,
    body: &str,
) -> AppResult<customer_note::Model> {
    get(db, workspace_id, customer_id).await?;
    let body = body.trim();
    if body.is_empty() || body.chars().count() > 10_000 {
        return Err(AppError::bad_input("input.body", "a note has 1 to 10000 characters"));
    }
    let now = Utc::now();
    Ok(customer_note::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(workspace_id),
        customer_id: Set(customer_id),
        author_id: Set(actor.id.filter(|_| actor.kind == entity::audit_log::ActorKind::User)),
        body: Set(body.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

/// Live customers sharing the email or phone (duplicate candidates), oldest first.
pub async fn find_by_contact<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    email: Option<&str>,
    phone: Option<&str>,
) -> AppResult<Vec<customer::Model>> {
    let mut any = Condition::any();
    if let Some(email) = email {
        any = any.add(customer::Column::Email.eq(email));
    }
    if let Some(phone) = phone {
        any = any.add(customer::Column::Phone.eq(phone));
    }
    if email.is_none() && phone.is_none() {
        return Ok(Vec::new());
    }
    Ok(query(workspace_id)
        .filter(any)
        .filter(customer::Column::ErasedAt.is_null())
        .order_by_asc(customer::Column::CreatedAt)
        .all(db)
        .await?)
}

/// Recomputes the customer's order statistics and purchase days from their completed orders,
/// exactly, in the caller's transaction. The caller holds the customer's [`lock`].
pub async fn refresh_order_stats<C: ConnectionTrait>(db: &C, customer: customer::Model) -> AppResult<customer::Model> {
    let orders = metrics::activity::completed_orders(db, customer.id).await?;
    metrics::activity::store(db, &customer, &orders).await?;
    let mut active = customer.into_active_model();
    active.order_count = Set(i32::try_from(orders.len()).unwrap_or(i32::MAX));
    let total = crate::money::sum_minor(orders.iter().map(|(_, amount)| *amount)).ok_or_else(|| {
        AppError::Conflict("the customer's total spend would exceed the largest amount Vafa stores".to_owned())
    })?;
    active.total_spent_minor = Set(total);
    active.first_order_at = Set(orders.first().map(|(at, _)| *at));
    active.last_order_at = Set(orders.last().map(|(at, _)| *at));
    Ok(active.update(db).await?)
}

/// The customer's tags, sorted.
pub async fn tags_of<C: ConnectionTrait>(db: &C, customer_ids: &[Uuid]) -> AppResult<Vec<customer_tag::Model>> {
    Ok(customer_tag::Entity::find()
        .filter(customer_tag::Column::CustomerId.is_in(customer_ids.iter().copied()))
        .order_by_asc(customer_tag::Column::Tag)
        .all(db)
        .await?)
}

async fn replace_tags<C: ConnectionTrait>(db: &C, customer: &customer::Model, tags: &[String]) -> AppResult<()> {
    customer_tag::Entity::delete_many().filter(customer_tag::Column::CustomerId.eq(customer.id)).exec(db).await?;
    if tags.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    customer_tag::Entity::insert_many(tags.iter().map(|tag| customer_tag::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(customer.workspace_id),
        customer_id: Set(customer.id),
        tag: Set(tag.clone()),
        created_at: Set(now),
        updated_at: Set(now),
    }))
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Lower-case, trimmed, unique tags of 1–64 characters.
fn clean_tags(tags: &[String]) -> AppResult<Vec<String>> {
    let mut clean: Vec<String> = tags.iter().map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty()).collect();
    clean.sort();
    clean.dedup();
    if clean.len() > MAX_TAGS {
        return Err(AppError::bad_input("input.tags", format!("at most {MAX_TAGS} tags")));
    }
    if clean.iter().any(|t| t.chars().count() > 64) {
        return Err(AppError::bad_input("input.tags", "a tag has at most 64 characters"));
    }
    Ok(clean)
}

/// How far back a birthday (or anniversary) may lie.
pub const MAX_AGE_YEARS: u32 = 120;

/// A birthday or anniversary: not in the future and within the last [`MAX_AGE_YEARS`] years.
pub fn check_past_date(date: NaiveDate, today: NaiveDate, field: &str) -> AppResult<NaiveDate> {
    let earliest = today.checked_sub_months(chrono::Months::new(MAX_AGE_YEARS * 12)).unwrap_or(NaiveDate::MIN);
    if date > today {
        return Err(AppError::bad_input(field, "cannot be in the future"));
    }
    if date < earliest {
        return Err(AppError::bad_input(field, format!("at most {MAX_AGE_YEARS} years ago")));
    }
    Ok(date)
}

fn check_optional_date(date: Option<NaiveDate>, field: &str) -> AppResult<Option<NaiveDate>> {
    date.map(|d| check_past_date(d, Utc::now().date_naive(), field)).transpose()
}

pub fn normalize_external_ref(reference: &str, field: &str) -> AppResult<String> {
    let reference = reference.trim();
    if reference.is_empty() || reference.chars().count() > 200 {
        return Err(AppError::bad_input(field, "an external reference has 1 to 200 characters"));
    }
    Ok(reference.to_owned())
}

async fn ensure_external_ref_free<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    reference: &str,
    except: Option<Uuid>,
) -> AppResult<()> {
    let taken = customer::Entity::find()
        .filter(customer::Column::WorkspaceId.eq(workspace_id))
        .filter(customer::Column::ExternalRef.eq(reference))
        .one(db)
        .await?
        .is_some_and(|c| Some(c.id) != except);
    if taken {
        return Err(AppError::Conflict(format!("another customer already has external reference `{reference}`")));
    }
    Ok(())
}

async fn ensure_owner<C: ConnectionTrait>(db: &C, workspace_id: Uuid, owner: Uuid) -> AppResult<()> {
    let user = users::service::get(db, workspace_id, owner).await?;
    if !user.active {
        return Err(AppError::bad_input("input.ownerId", "the owner is deactivated"));
    }
    Ok(())
}

/// Blank input means "none"; anything else must normalise.
fn optional(value: Option<String>, normalize: impl Fn(&str) -> AppResult<String>) -> AppResult<Option<String>> {
    match value {
        Some(text) if !text.trim().is_empty() => normalize(&text).map(Some),
        _ => Ok(None),
    }
}

/// The customer said "not now": stage NOT_NOW until `until`, and a revisit follow-up then.
pub async fn mark_not_now<C: ConnectionTrait>(
    db: &C,
    current: customer::Model,
    until: chrono::DateTime<Utc>,
    reason: &str,
    actor: Actor,
) -> AppResult<customer::Model> {
    let c = lifecycle::transition(db, current, LifecycleStage::NotNow, reason, actor).await?;
    let mut active = c.into_active_model();
    active.not_now_until = Set(Some(until));
    let c = active.update(db).await?;
    follow_ups::service::schedule(
        db,
        follow_ups::service::NewFollowUp {
            workspace_id: c.workspace_id,
            customer_id: Some(c.id),
            lead_id: None,
            kind: entity::follow_up::FollowUpKind::NotNowRevisit,
            due_at: until,
            assignee_id: c.owner_id,
            rule_key: Some(format!("not-now-revisit:{}:{}", c.id, until.timestamp())),
            note: Some(reason.to_owned()),
        },
    )
    .await?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_dates_lie_within_120_years_and_not_ahead() {
        let today = NaiveDate::from_ymd_opt(2026, 2, 28).unwrap();
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert!(check_past_date(today, today, "b").is_ok());
        assert!(check_past_date(d(1906, 2, 28), today, "b").is_ok(), "exactly 120 years");
        assert!(check_past_date(d(1906, 2, 27), today, "b").is_err());
        assert!(check_past_date(d(2026, 3, 1), today, "b").is_err(), "tomorrow");
        assert!(check_past_date(d(24, 5, 1), today, "b").is_err());
        assert!(check_past_date(d(2100, 1, 1), today, "b").is_err());
    }
}
