//! Leads: capture, changes, assignment, the status machine, scoring, and conversion into a
//! customer in one transaction.

use async_graphql::MaybeUndefined;
use chrono::{DateTime, Utc};
use entity::{
    customer,
    enums::AcquisitionSource,
    follow_up::FollowUpKind,
    interaction::{self, Direction, Outcome},
    lead::{self, LeadCategory, LeadStatus},
};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, Select, sea_query::Expr,
};
use serde_json::json;
use uuid::Uuid;

use super::score::{LeadFacts, score};
use crate::{
    apply_profile, audit,
    auth::Actor,
    contact::{normalize_email, normalize_name, normalize_phone},
    customers, follow_ups,
    graphql::{AppError, AppResult, ids::new_id},
    loyalty::referrals,
    profile::{ProfileInput, completeness, text_change, value_change},
    profile_of, users,
};

pub struct NewLead {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub source: AcquisitionSource,
    pub category: LeadCategory,
    pub owner_id: Option<Uuid>,
    pub referred_by_customer_id: Option<Uuid>,
    /// A customer's referral code; opens a referral (see `loyalty::referrals`).
    pub referral_code: Option<String>,
    pub profile: ProfileInput,
}

#[derive(Default)]
pub struct LeadChanges {
    pub name: Option<String>,
    pub email: MaybeUndefined<String>,
    pub phone: MaybeUndefined<String>,
    pub company: MaybeUndefined<String>,
    pub source: Option<AcquisitionSource>,
    pub category: Option<LeadCategory>,
    pub profile: Option<ProfileInput>,
}

pub fn query(workspace_id: Uuid) -> Select<lead::Entity> {
    lead::Entity::find().filter(lead::Column::WorkspaceId.eq(workspace_id))
}

pub async fn get<C: ConnectionTrait>(db: &C, workspace_id: Uuid, id: Uuid) -> AppResult<lead::Model> {
    query(workspace_id).filter(lead::Column::Id.eq(id)).one(db).await?.ok_or_else(|| AppError::not_found("lead"))
}

/// A lead that may still change: not converted.
async fn get_open<C: ConnectionTrait>(db: &C, workspace_id: Uuid, id: Uuid) -> AppResult<lead::Model> {
    let lead = get(db, workspace_id, id).await?;
    if lead.status == LeadStatus::Converted {
        return Err(AppError::InvalidTransition("a converted lead is read-only".to_owned()));
    }
    Ok(lead)
}

fn optional(value: Option<String>, normalize: impl Fn(&str) -> AppResult<String>) -> AppResult<Option<String>> {
    match value {
        Some(text) if !text.trim().is_empty() => normalize(&text).map(Some),
        _ => Ok(None),
    }
}

pub async fn create<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    actor: Actor,
    input: NewLead,
) -> AppResult<lead::Model> {
    let name = normalize_name(&input.name, "input.name")?;
    let email = optional(input.email, |e| normalize_email(e, "input.email"))?;
    let phone = optional(input.phone, |p| normalize_phone(p, "input.phone"))?;
    let company = input.company.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
    if let Some(owner) = input.owner_id {
        ensure_owner(db, workspace_id, owner).await?;
    }
    let now = Utc::now();
    let referrer =
        referrals::referrer_of(db, workspace_id, &input.referral_code, input.referred_by_customer_id, now).await?;
    let mut active = lead::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(workspace_id),
        name: Set(name),
        email: Set(email),
        phone: Set(phone),
        company: Set(company),
        source: Set(input.source),
        category: Set(input.category),
        status: Set(LeadStatus::New),
        score: Set(0),
        score_reasons: Set(json!([])),
        priority: Set(entity::enums::Priority::Low),
        owner_id: Set(input.owner_id),
        referred_by_customer_id: Set(referrer.as_ref().map(|a| a.customer_id)),
        converted_customer_id: Set(None),
        converted_at: Set(None),
        disqualify_reason: Set(None),
        not_now_until: Set(None),
        last_interaction_at: Set(None),
        interests: Set(json!([])),
        created_at: Set(now),
        updated_at: Set(now),
        // The other profile columns are nullable and start empty.
        ..Default::default()
    };
    apply_profile!(active, input.profile);
    let lead = rescore(db, active.insert(db).await?).await?;
    if let Some(referrer) = &referrer {
        referrals::open(db, referrer, referrals::Referee::Lead(&lead), now).await?;
    }
    audit::record(db, workspace_id, actor, "lead.create", "lead", Some(lead.id), json!({ "name": lead.name })).await?;
    Ok(lead)
}

pub async fn update<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    actor: Actor,
    id: Uuid,
    changes: LeadChanges,
) -> AppResult<lead::Model> {
    let mut active = get_open(db, workspace_id, id).await?.into_active_model();
    if let Some(name) = &changes.name {
        active.name = Set(normalize_name(name, "input.name")?);
    }
    if let Some(email) = value_change(changes.email) {
        active.email = Set(optional(email, |e| normalize_email(e, "input.email"))?);
    }
    if let Some(phone) = value_change(changes.phone) {
        active.phone = Set(optional(phone, |p| normalize_phone(p, "input.phone"))?);
    }
    if let Some(company) = text_change(changes.company) {
        active.company = Set(company);
    }
    if let Some(source) = changes.source {
        active.source = Set(source);
    }
    if let Some(category) = changes.category {
        active.category = Set(category);
    }
    if let Some(profile) = changes.profile {
        apply_profile!(active, profile);
    }
    active.updated_at = Set(Utc::now());
    let lead = rescore(db, active.update(db).await?).await?;
    audit::record(db, workspace_id, actor, "lead.update", "lead", Some(id), json!({})).await?;
    Ok(lead)
}

pub async fn assign<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    actor: Actor,
    id: Uuid,
    owner: Option<Uuid>,
) -> AppResult<lead::Model> {
    let lead = get_open(db, workspace_id, id).await?;
    if let Some(owner) = owner {
        ensure_owner(db, workspace_id, owner).await?;
    }
    let mut active = lead.into_active_model();
    active.owner_id = Set(owner);
    active.updated_at = Set(Utc::now());
    let lead = active.update(db).await?;
    audit::record(db, workspace_id, actor, "lead.assign", "lead", Some(id), json!({ "ownerId": owner })).await?;
    Ok(lead)
}

/// Whether the status machine allows `from → to` by a plain status change (conversion and
/// disqualification have their own mutations).
pub fn can_move(from: LeadStatus, to: LeadStatus) -> bool {
    use LeadStatus::*;
    matches!(
        (from, to),
        (New, Contacted)
            | (Contacted, Qualified)
            | (Qualified, Nurturing)
            | (Nurturing, Qualified)
            | (Contacted, Nurturing)
            | (Disqualified, New)
    )
}

pub async fn set_status<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    actor: Actor,
    id: Uuid,
    to: LeadStatus,
) -> AppResult<lead::Model> {
    let lead = get_open(db, workspace_id, id).await?;
    if !can_move(lead.status, to) {
        return Err(AppError::InvalidTransition(format!("a lead cannot move from {:?} to {:?}", lead.status, to)));
    }
    let from = lead.status;
    let mut active = lead.into_active_model();
    active.status = Set(to);
    if from == LeadStatus::Disqualified {
        active.disqualify_reason = Set(None);
    }
    active.updated_at = Set(Utc::now());
    let lead = active.update(db).await?;
    audit::record(
        db,
        workspace_id,
        actor,
        "lead.status",
        "lead",
        Some(id),
        json!({ "from": from.to_value(), "to": to.to_value() }),
    )
    .await?;
    Ok(lead)
}

pub async fn disqualify<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    actor: Actor,
    id: Uuid,
    reason: &str,
) -> AppResult<lead::Model> {
    let lead = get_open(db, workspace_id, id).await?;
    if lead.status == LeadStatus::Disqualified {
        return Err(AppError::InvalidTransition("the lead is already disqualified".to_owned()));
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(AppError::bad_input("input.reason", "say why the lead is disqualified"));
    }
    let mut active = lead.into_active_model();
    active.status = Set(LeadStatus::Disqualified);
    active.disqualify_reason = Set(Some(reason.to_owned()));
    active.updated_at = Set(Utc::now());
    let lead = active.update(db).await?;
    audit::record(db, workspace_id, actor, "lead.disqualify", "lead", Some(id), json!({ "reason": reason })).await?;
    Ok(lead)
}

/// "Not now": the lead is nurtured and revisited on `until`.
pub async fn not_now<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    actor: Actor,
    id: Uuid,
    until: DateTime<Utc>,
    reason: Option<String>,
) -> AppResult<lead::Model> {
    let lead = get_open(db, workspace_id, id).await?;
    if lead.status == LeadStatus::Disqualified {
        return Err(AppError::InvalidTransition("a disqualified lead cannot be put on hold".to_owned()));
    }
    if until <= Utc::now() {
        return Err(AppError::bad_input("input.until", "the revisit date must be in the future"));
    }
    let mut active = lead.into_active_model();
    active.status = Set(LeadStatus::Nurturing);
    active.not_now_until = Set(Some(until));
    active.updated_at = Set(Utc::now());
    let lead = active.update(db).await?;
    follow_ups::service::schedule(
        db,
        follow_ups::service::NewFollowUp {
            workspace_id,
            customer_id: None,
            lead_id: Some(lead.id),
            kind: FollowUpKind::NotNowRevisit,
            due_at: until,
            assignee_id: lead.owner_id,
            rule_key: Some(format!("not-now-revisit:{}:{}", lead.id, until.timestamp())),
            note: reason,
        },
    )
    .await?;
    audit::record(db, workspace_id, actor, "lead.not_now", "lead", Some(id), json!({ "until": until })).await?;
    Ok(lead)
}

/// Recomputes the score from the lead and its interactions.
pub async fn rescore<C: ConnectionTrait>(db: &C, lead: lead::Model) -> AppResult<lead::Model> {
    let interactions = interaction::Entity::find().filter(interaction::Column::LeadId.eq(lead.id));
    let inbound = interactions.clone().filter(interaction::Column::Direction.eq(Direction::Inbound)).count(db).await?;
    let answered = interactions
        .filter(interaction::Column::Direction.eq(Direction::Outbound))
        .filter(interaction::Column::Outcome.is_in([Outcome::Reached, Outcome::Replied]))
        .count(db)
        .await?;
    let (profile_known, profile_total) = completeness(&profile_of!(&lead));
    let result = score(&LeadFacts {
        category: lead.category,
        source: lead.source,
        has_email: lead.email.is_some(),
        has_phone: lead.phone.is_some(),
        profile_known,
        profile_total,
        inbound: inbound as i64,
        answered_outbound: answered as i64,
        last_activity: lead.last_interaction_at.unwrap_or(lead.created_at),
        now: Utc::now(),
    });
    let mut active = lead.into_active_model();
    active.score = Set(result.value);
    active.priority = Set(result.priority);
    active.score_reasons = Set(json!(result.reasons));
    Ok(active.update(db).await?)
}

async fn ensure_owner<C: ConnectionTrait>(db: &C, workspace_id: Uuid, owner: Uuid) -> AppResult<()> {
    let user = users::service::get(db, workspace_id, owner).await?;
    if !user.active {
        return Err(AppError::bad_input("input.ownerId", "the owner is deactivated"));
    }
    Ok(())
}

/// How to convert: into a new customer, or merged into an existing one.
pub struct ConvertOptions {
    pub merge_into: Option<Uuid>,
    /// Merge into the customer found by email/phone, if exactly one matches.
    pub merge: bool,
    pub dry_run: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, async_graphql::Enum)]
pub enum ConversionAction {
    /// A new customer is created from the lead.
    Create,
    /// The lead is linked to an existing customer, whose empty fields are filled.
    Merge,
}

pub struct Conversion {
    pub lead: lead::Model,
    /// The customer created or merged into; for a dry run that creates, `None`.
    pub customer: Option<customer::Model>,
    pub action: ConversionAction,
    /// Customer fields taken from the lead.
    pub filled_fields: Vec<String>,
    /// Existing customers with the lead's email or phone.
    pub duplicate_candidates: Vec<customer::Model>,
    pub dry_run: bool,
}

/// Converts a lead into a customer. With `dry_run`, only says what would happen.
pub async fn convert<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    actor: Actor,
    id: Uuid,
    options: ConvertOptions,
) -> AppResult<Conversion> {
    let lead = get(db, workspace_id, id).await?;
    match lead.status {
        LeadStatus::Converted => return Err(AppError::InvalidTransition("the lead is already converted".to_owned())),
        LeadStatus::Disqualified => {
            return Err(AppError::InvalidTransition("a disqualified lead cannot be converted".to_owned()));
        }
        _ => {}
    }
    let duplicates =
        customers::service::find_by_contact(db, workspace_id, lead.email.as_deref(), lead.phone.as_deref()).await?;
    let target = match options.merge_into {
        Some(customer_id) => Some(customers::service::get(db, workspace_id, customer_id).await?),
        None if options.merge => match duplicates.as_slice() {
            [] => return Err(AppError::bad_input("input.merge", "no customer has this lead's email or phone")),
            [one] => Some(one.clone()),
            _ => {
                return Err(AppError::bad_input(
                    "input.merge",
                    "several customers match; choose one with mergeIntoCustomerId",
                ));
            }
        },
        None => None,
    };
    let filled_fields = fields_from_lead(target.as_ref(), &lead);
    let action = if target.is_some() { ConversionAction::Merge } else { ConversionAction::Create };
    if options.dry_run {
        return Ok(Conversion {
            lead,
            customer: target,
            action,
            filled_fields,
            duplicate_candidates: duplicates,
            dry_run: true,
        });
    }

    let customer = match target {
        Some(existing) => fill_from_lead(db, existing, &lead).await?,
        None => {
            let new = customers::service::NewCustomer {
                name: lead.name.clone(),
                email: lead.email.clone(),
                phone: lead.phone.clone(),
                owner_id: lead.owner_id,
                source: Some(lead.source),
                source_lead_id: Some(lead.id),
                referred_by_customer_id: lead.referred_by_customer_id,
                profile: profile_input_of(&lead),
                ..Default::default()
            };
            customers::service::create(db, workspace_id, actor, new).await?
        }
    };
    if crate::workspaces::service::settings(db, workspace_id).await?.loyalty_auto_enroll {
        crate::loyalty::service::enroll(db, workspace_id, customer.id, Utc::now()).await?;
    }
    crate::loyalty::referrals::on_convert(db, &lead, &customer, Utc::now()).await?;
    // The lead's history becomes the customer's.
    interaction::Entity::update_many()
        .col_expr(interaction::Column::CustomerId, Expr::value(customer.id))
        .filter(interaction::Column::LeadId.eq(lead.id))
        .exec(db)
        .await?;
    let now = Utc::now();
    let mut active = lead.into_active_model();
    active.status = Set(LeadStatus::Converted);
    active.converted_at = Set(Some(now));
    active.converted_customer_id = Set(Some(customer.id));
    active.updated_at = Set(now);
    let lead = active.update(db).await?;
    audit::record(
        db,
        workspace_id,
        actor,
        "lead.convert",
        "lead",
        Some(lead.id),
        json!({ "customerId": customer.id, "action": format!("{action:?}"), "filled": filled_fields }),
    )
    .await?;
    Ok(Conversion {
        lead,
        customer: Some(customer),
        action,
        filled_fields,
        duplicate_candidates: duplicates,
        dry_run: false,
    })
}

/// Names of the customer fields the lead fills: all it has for a new customer, only the
/// empty ones of an existing customer.
fn fields_from_lead(existing: Option<&customer::Model>, lead: &lead::Model) -> Vec<String> {
    let mut fields = Vec::new();
    if existing.is_none() {
        fields.extend(["name".to_owned(), "source".to_owned()]);
    }
    macro_rules! check {
        ($($name:literal: $field:ident),*) => {$(
            if existing.is_none_or(|c| c.$field.is_none()) && lead.$field.is_some() {
                fields.push($name.to_owned());
            }
        )*};
    }
    check!("email": email, "phone": phone, "owner": owner_id, "city": city, "region": region, "country": country,
        "ageBand": age_band, "gender": gender, "incomeBand": income_band, "occupation": occupation,
        "personalityType": personality_type, "preferredChannel": preferred_channel, "interactionStyle": interaction_style);
    if existing.is_none_or(|c| c.interests == json!([])) && lead.interests != json!([]) {
        fields.push("interests".to_owned());
    }
    fields
}

/// Fills only the customer's empty fields from the lead.
async fn fill_from_lead<C: ConnectionTrait>(
    db: &C,
    c: customer::Model,
    lead: &lead::Model,
) -> AppResult<customer::Model> {
    let mut active = c.clone().into_active_model();
    macro_rules! fill {
        ($($field:ident),*) => {$(
            if c.$field.is_none() && lead.$field.is_some() {
                active.$field = Set(lead.$field.clone());
            }
        )*};
    }
    fill!(
        email,
        phone,
        owner_id,
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
    if c.interests == json!([]) {
        active.interests = Set(lead.interests.clone());
    }
    if c.source.is_none() {
        active.source = Set(Some(lead.source));
    }
    if c.source_lead_id.is_none() {
        active.source_lead_id = Set(Some(lead.id));
    }
    active.updated_at = Set(Utc::now());
    Ok(active.update(db).await?)
}

fn profile_input_of(lead: &lead::Model) -> ProfileInput {
    let p = profile_of!(lead);
    let set = |v: Option<String>| v.map_or(MaybeUndefined::Undefined, MaybeUndefined::Value);
    ProfileInput {
        city: set(p.city),
        region: set(p.region),
        country: set(p.country),
        age_band: p.age_band.map_or(MaybeUndefined::Undefined, MaybeUndefined::Value),
        gender: set(p.gender),
        income_band: p.income_band.map_or(MaybeUndefined::Undefined, MaybeUndefined::Value),
        occupation: set(p.occupation),
        interests: MaybeUndefined::Value(p.interests),
        personality_type: set(p.personality_type),
        preferred_channel: p.preferred_channel.map_or(MaybeUndefined::Undefined, MaybeUndefined::Value),
        interaction_style: set(p.interaction_style),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_machine_allows_only_forward_moves_and_requalification() {
        use LeadStatus::*;
        assert!(can_move(New, Contacted));
        assert!(can_move(Qualified, Nurturing) && can_move(Nurturing, Qualified));
        assert!(can_move(Disqualified, New));
        assert!(!can_move(New, Qualified), "skipping contact");
        assert!(!can_move(Qualified, New));
        assert!(!can_move(Contacted, Converted), "conversion has its own mutation");
        assert!(!can_move(Converted, New));
    }
}
