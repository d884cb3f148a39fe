//! `vafa serve --demo`: a ready-to-use workspace on an empty database.

use entity::{user::UserRole, workspace};
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait};

use crate::{
    auth::{Actor, jwt::JwtKeys, tokens},
    customers,
    graphql::{AppResult, transact},
    users, workspaces,
};

pub const DEMO_SLUG: &str = "demo";
pub const DEMO_ADMIN_EMAIL: &str = "admin@demo.example";

/// What the operator needs to start: a token, and the password when one was just generated.
pub struct DemoAccess {
    pub access_token: String,
    pub new_password: Option<String>,
    /// Set when the demo data was created just now.
    pub seeded: Option<SeedReport>,
}

/// Creates the demo workspace and admin if the database has no workspace yet, then issues a
/// token for that admin. `None` when the database holds other data but no demo admin.
pub async fn ensure(db: &DatabaseConnection, jwt: &JwtKeys) -> AppResult<Option<DemoAccess>> {
    let mut new_password = None;
    let mut seeded = None;
    if workspace::Entity::find().count(db).await? == 0 {
        // No default password anywhere: a random one, shown once.
        let password = tokens::random_secret();
        let pass = password.clone();
        let admin = transact(db, async |txn| {
            let ws = workspaces::service::create(
                txn,
                Actor::SYSTEM,
                workspaces::service::NewWorkspace {
                    slug: DEMO_SLUG,
                    name: "Demo shop",
                    currency: "USD",
                    timezone: "UTC",
                },
            )
            .await?;
            let admin = users::service::NewUser {
                email: DEMO_ADMIN_EMAIL.to_owned(),
                name: "Demo Admin".to_owned(),
                role: UserRole::Admin,
                password: pass,
            };
            users::service::create(txn, ws.id, Actor::SYSTEM, admin).await
        })
        .await?;
        new_password = Some(password);
        seeded = Some(seed(db, admin.workspace_id, admin.id).await?);
    }
    let Some(ws) = workspaces::service::find_by_slug(db, DEMO_SLUG).await? else { return Ok(None) };
    let Some(admin) = users::service::find_by_email(db, ws.id, DEMO_ADMIN_EMAIL).await?.filter(|u| u.active) else {
        return Ok(None);
    };
    let token = jwt.issue_access(admin.id, ws.id)?;
    Ok(Some(DemoAccess { access_token: token.token, new_password, seeded }))
}

/// Fills the demo workspace with a believable two-year history: staff, leads in every state,
/// customers with profiles, orders, interactions, feedback, follow-ups and lifecycle stages.
/// Deterministic (fixed seed) so demos and screenshots repeat.
pub async fn seed(db: &DatabaseConnection, workspace_id: uuid::Uuid, admin_id: uuid::Uuid) -> AppResult<SeedReport> {
    use chrono::{Duration, NaiveDate, SubsecRound, Utc};
    use entity::{
        enums::{AcquisitionSource, AgeBand, Channel, IncomeBand},
        feedback::{self, FeedbackKind},
        interaction::{self, Direction, Outcome},
        lead::LeadCategory,
        order::{self, OrderChannel, OrderStatus},
    };
    use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
    use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter};

    use entity::audit_log::ActorKind;

    use crate::{graphql::ids::new_id, interactions, leads, profile::ProfileInput};

    const FIRST: [&str; 16] = [
        "Ada",
        "Grace",
        "Alan",
        "Edsger",
        "Barbara",
        "Donald",
        "Margaret",
        "Ken",
        "Radia",
        "Linus",
        "Frances",
        "Tim",
        "Hedy",
        "John",
        "Katherine",
        "Niklaus",
    ];
    const LAST: [&str; 12] = [
        "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson", "Perlman", "Torvalds",
        "Allen", "Lee",
    ];
    const CITIES: [(&str, &str, &str); 6] = [
        ("Berlin", "Berlin", "DE"),
        ("Hamburg", "Hamburg", "DE"),
        ("Munich", "Bavaria", "DE"),
        ("Vienna", "Vienna", "AT"),
        ("Zurich", "Zurich", "CH"),
        ("Amsterdam", "North Holland", "NL"),
    ];
    const INTERESTS: [&str; 8] = ["coffee", "cycling", "design", "gardening", "hiking", "music", "photography", "tea"];
    const TAGS: [&str; 5] = ["vip", "newsletter", "wholesale", "gift-buyer", "eco"];
    const SOURCES: [AcquisitionSource; 7] = [
        AcquisitionSource::Website,
        AcquisitionSource::Referral,
        AcquisitionSource::Social,
        AcquisitionSource::Advertising,
        AcquisitionSource::Event,
        AcquisitionSource::WalkIn,
        AcquisitionSource::Partner,
    ];
    const CHANNELS: [Channel; 5] = [Channel::Phone, Channel::Email, Channel::Sms, Channel::Chat, Channel::InPerson];

    let mut rng = StdRng::seed_from_u64(1001);
    let now = Utc::now().trunc_subsecs(0);
    let mut report = SeedReport { leads: 200, ..Default::default() };

    // Staff to own leads and customers.
    let mut staff = vec![admin_id];
    for (email, name, role) in [
        ("maya@demo.example", "Maya (manager)", UserRole::Manager),
        ("sam@demo.example", "Sam (sales)", UserRole::Sales),
        ("alex@demo.example", "Alex (support)", UserRole::Agent),
    ] {
        let password = tokens::random_secret();
        let user = transact(db, async |txn| {
            users::service::create(
                txn,
                workspace_id,
                Actor::SYSTEM,
                users::service::NewUser { email: email.to_owned(), name: name.to_owned(), role, password },
            )
            .await
        })
        .await?;
        staff.push(user.id);
    }

    let person = |rng: &mut StdRng, i: usize| {
        let name = format!("{} {}", FIRST[i % FIRST.len()], LAST[rng.random_range(0..LAST.len())]);
        let email = format!("{}.{}@example.com", name.to_lowercase().replace(' ', "."), i);
        (name, email)
    };
    let profile = |rng: &mut StdRng| {
        let (city, region, country) = CITIES[rng.random_range(0..CITIES.len())];
        let how_many = rng.random_range(0..4);
        let interests: Vec<String> = INTERESTS.choose_multiple(rng, how_many).map(|s| s.to_string()).collect();
        let age = [AgeBand::Age18To24, AgeBand::Age25To34, AgeBand::Age35To44, AgeBand::Age45To54, AgeBand::Age55To64];
        let income = [IncomeBand::LowerMiddle, IncomeBand::Middle, IncomeBand::UpperMiddle, IncomeBand::High];
        ProfileInput {
            city: async_graphql::MaybeUndefined::Value(city.to_owned()),
            region: async_graphql::MaybeUndefined::Value(region.to_owned()),
            country: async_graphql::MaybeUndefined::Value(country.to_owned()),
            age_band: async_graphql::MaybeUndefined::Value(age[rng.random_range(0..age.len())]),
            income_band: async_graphql::MaybeUndefined::Value(income[rng.random_range(0..income.len())]),
            interests: async_graphql::MaybeUndefined::Value(interests),
            preferred_channel: async_graphql::MaybeUndefined::Value(CHANNELS[rng.random_range(0..CHANNELS.len())]),
            ..Default::default()
        }
    };

    // Customers, each with a buying habit: one-off, occasional or regular.
    let mut customers = Vec::new();
    for i in 0..400 {
        let (name, email) = person(&mut rng, i);
        let how_many = rng.random_range(0..3);
        let tags: Vec<String> = TAGS.choose_multiple(&mut rng, how_many).map(|s| s.to_string()).collect();
        let birthday =
            NaiveDate::from_ymd_opt(rng.random_range(1950..2004), rng.random_range(1..13), rng.random_range(1..29));
        let new = customers::service::NewCustomer {
            name,
            email: Some(email),
            birthday,
            owner_id: Some(staff[rng.random_range(0..staff.len())]),
            source: Some(SOURCES[rng.random_range(0..SOURCES.len())]),
            marketing_consent: rng.random_bool(0.6),
            tags,
            profile: profile(&mut rng),
            ..Default::default()
        };
        let c =
            transact(db, async |txn| customers::service::create(txn, workspace_id, Actor::SYSTEM, new).await).await?;
        customers.push(c.id);
    }

    // Two years of orders.
    let mut orders = Vec::new();
    for (i, customer_id) in customers.iter().enumerate() {
        let habit = rng.random_range(0..10);
        let count = match habit {
            0..=3 => 1,
            4..=6 => rng.random_range(2..6),
            _ => rng.random_range(8..40),
        };
        let first_day = rng.random_range(0..700i64);
        for n in 0..count {
            let day = first_day - n * rng.random_range(10..60i64);
            if day < 0 {
                break;
            }
            let placed_at = now - Duration::days(day) - Duration::minutes(rng.random_range(0..1440));
            let status = if rng.random_bool(0.04) { OrderStatus::Refunded } else { OrderStatus::Completed };
            orders.push(order::ActiveModel {
                id: Set(new_id()),
                workspace_id: Set(workspace_id),
                customer_id: Set(*customer_id),
                external_ref: Set(format!("demo-{i}-{n}")),
                amount_minor: Set(rng.random_range(900..25_000)),
                currency: Set("USD".to_owned()),
                placed_at: Set(placed_at),
                status: Set(status),
                channel: Set([OrderChannel::Online, OrderChannel::InStore, OrderChannel::Phone][rng.random_range(0..3)]),
                refunded_at: Set((status == OrderStatus::Refunded).then_some(placed_at + Duration::days(3))),
                cancelled_at: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            });
        }
    }
    report.orders = orders.len();

    // Contacts and feedback.
    let mut contacts = Vec::new();
    let mut opinions = Vec::new();
    for customer_id in &customers {
        for _ in 0..rng.random_range(0..4) {
            let direction = if rng.random_bool(0.4) { Direction::Inbound } else { Direction::Outbound };
            let outcome =
                [Outcome::Reached, Outcome::Replied, Outcome::NoAnswer, Outcome::Bounced][rng.random_range(0..4)];
            contacts.push(interaction::ActiveModel {
                id: Set(new_id()),
                workspace_id: Set(workspace_id),
                customer_id: Set(Some(*customer_id)),
                lead_id: Set(None),
                channel: Set(CHANNELS[rng.random_range(0..CHANNELS.len())]),
                direction: Set(direction),
                outcome: Set(outcome),
                summary: Set("Checked in about the last order".to_owned()),
                occurred_at: Set(now - Duration::days(rng.random_range(0..120))),
                user_id: Set(Some(staff[rng.random_range(0..staff.len())])),
                created_at: Set(now),
                updated_at: Set(now),
            });
        }
        if rng.random_bool(0.5) {
            let nps = rng.random_bool(0.6);
            let why = ["friendly staff", "fast delivery", "best prices", "great quality", "they remembered my name"];
            opinions.push(feedback::ActiveModel {
                id: Set(new_id()),
                workspace_id: Set(workspace_id),
                customer_id: Set(*customer_id),
                kind: Set(if nps { FeedbackKind::Nps } else { FeedbackKind::Csat }),
                score: Set(Some(if nps { rng.random_range(3..11) } else { rng.random_range(2..6) })),
                comment: Set(None),
                why_us: Set(Some(why[rng.random_range(0..why.len())].to_owned())),
                ticket_id: Set(None),
                submitted_at: Set(now - Duration::days(rng.random_range(0..200))),
                created_at: Set(now),
                updated_at: Set(now),
            });
        }
    }
    transact(db, async |txn| {
        for chunk in orders.chunks(500) {
            order::Entity::insert_many(chunk.to_vec()).exec_without_returning(txn).await?;
        }
        for chunk in contacts.chunks(500) {
            interaction::Entity::insert_many(chunk.to_vec()).exec_without_returning(txn).await?;
        }
        if !opinions.is_empty() {
            feedback::Entity::insert_many(opinions.clone()).exec_without_returning(txn).await?;
        }
        Ok(())
    })
    .await?;

    let members = seed_loyalty(db, workspace_id, &customers, now, &mut rng, &mut report).await?;
    report.tickets = seed_tickets(db, workspace_id, &customers, now, &mut rng).await?;
    seed_experiment(db, workspace_id, admin_id, now).await?;

    // Leads in every category and state, each contacted over the months before now (so their
    // scores differ by recency); some referred by loyalty members.
    let lead_summaries = ["Intro call", "Sent the catalogue", "Asked about prices", "Followed up after the fair"];
    for i in 0..report.leads {
        let (name, email) = person(&mut rng, 1000 + i);
        let category =
            [LeadCategory::Unaware, LeadCategory::Comparing, LeadCategory::PastBuyer][rng.random_range(0..3)];
        let new = leads::service::NewLead {
            name,
            email: rng.random_bool(0.8).then_some(email),
            phone: rng.random_bool(0.4).then(|| format!("+49 30 {:07}", rng.random_range(1_000_000..9_999_999))),
            company: rng.random_bool(0.3).then(|| format!("{} GmbH", LAST[rng.random_range(0..LAST.len())])),
            source: SOURCES[rng.random_range(0..SOURCES.len())],
            category,
            owner_id: Some(staff[rng.random_range(0..staff.len())]),
            referred_by_customer_id: (!members.is_empty() && rng.random_bool(0.15))
                .then(|| members[rng.random_range(0..members.len())]),
            referral_code: None,
            profile: profile(&mut rng),
        };
        let lead =
            transact(db, async |txn| leads::service::create(txn, workspace_id, Actor::SYSTEM, new).await).await?;
        let stage = rng.random_range(0..10);
        // Contacted leads have one to four contacts, the first up to eight months ago.
        let contacts: Vec<_> = if stage >= 3 {
            let first = rng.random_range(1..240i64);
            let mut days: Vec<i64> = (0..rng.random_range(1..5)).map(|_| rng.random_range(0..=first)).collect();
            days.sort_unstable_by(|a, b| b.cmp(a));
            days.into_iter()
                .map(|day| interactions::service::NewInteraction {
                    customer_id: None,
                    lead_id: Some(lead.id),
                    channel: CHANNELS[rng.random_range(0..CHANNELS.len())],
                    direction: if rng.random_bool(0.3) { Direction::Inbound } else { Direction::Outbound },
                    outcome: [Outcome::Reached, Outcome::Replied, Outcome::NoAnswer][rng.random_range(0..3)],
                    summary: lead_summaries[rng.random_range(0..lead_summaries.len())].to_owned(),
                    occurred_at: Some(now - Duration::days(day) - Duration::minutes(rng.random_range(0..600))),
                })
                .collect()
        } else {
            Vec::new()
        };
        let owner = Actor { kind: ActorKind::User, id: lead.owner_id };
        transact(db, async |txn| {
            use entity::lead::LeadStatus;
            let actor = Actor::SYSTEM;
            // The first contact moves the lead to CONTACTED.
            for contact in contacts {
                interactions::service::record(txn, workspace_id, owner, contact).await?;
            }
            if stage >= 5 {
                leads::service::set_status(txn, workspace_id, actor, lead.id, LeadStatus::Qualified).await?;
            }
            if stage == 7 {
                leads::service::set_status(txn, workspace_id, actor, lead.id, LeadStatus::Nurturing).await?;
            }
            if stage == 8 {
                leads::service::disqualify(txn, workspace_id, actor, lead.id, "no budget this year").await?;
            }
            if stage == 9 {
                let options = leads::service::ConvertOptions { merge_into: None, merge: false, dry_run: false };
                leads::service::convert(txn, workspace_id, actor, lead.id, options).await?;
            }
            Ok(())
        })
        .await?;
    }

    crate::import::refresh_all_stats(db, workspace_id).await?;
    report.prediction_model = crate::jobs::refit_if_stale(db, workspace_id, now).await?.is_some();
    if let Some((follow_ups, _)) = crate::jobs::run_workspace(db, workspace_id, now).await? {
        report.follow_ups = follow_ups as usize;
    }
    // The seeded customers and the leads converted into customers.
    report.customers = entity::customer::Entity::find()
        .filter(entity::customer::Column::WorkspaceId.eq(workspace_id))
        .count(db)
        .await? as usize;
    // SLA clocks of the tickets left waiting ran out while "nobody was looking".
    crate::tickets::breaches::run(db, None, now).await?;
    report.breached_tickets = entity::ticket::Entity::find()
        .filter(entity::ticket::Column::WorkspaceId.eq(workspace_id))
        .filter(entity::ticket::Column::SlaBreached.eq(true))
        .count(db)
        .await? as usize;
    Ok(report)
}

/// What the demo seed created.
#[derive(Debug, Default)]
pub struct SeedReport {
    pub customers: usize,
    pub orders: usize,
    pub leads: usize,
    pub follow_ups: usize,
    pub tickets: usize,
    /// Tickets that missed an SLA target (late answers, and clocks that ran out unanswered).
    pub breached_tickets: usize,
    pub loyalty_members: usize,
    pub redemptions: usize,
    pub coupons_used: usize,
    /// Whether there were enough orders to fit the predictive model.
    pub prediction_model: bool,
}

impl std::fmt::Display for SeedReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} customers, {} orders, {} leads, {} follow-ups, {} tickets ({} missed an SLA target), \
             {} loyalty members, {} rewards redeemed ({} coupons used), 1 finished A/B test, {}",
            self.customers,
            self.orders,
            self.leads,
            self.follow_ups,
            self.tickets,
            self.breached_tickets,
            self.loyalty_members,
            self.redemptions,
            self.coupons_used,
            if self.prediction_model { "a fitted predictive model" } else { "no predictive model (too few orders)" }
        )
    }
}

/// Three tiers, a reward catalogue, and about half the buyers enrolled: each earns points for
/// their completed orders as they were placed, redeems a reward when the balance allows and uses
/// the coupon on the next order. Returns the members' customer ids.
async fn seed_loyalty(
    db: &DatabaseConnection,
    workspace_id: uuid::Uuid,
    customers: &[uuid::Uuid],
    now: chrono::DateTime<chrono::Utc>,
    rng: &mut rand::rngs::StdRng,
    report: &mut SeedReport,
) -> AppResult<Vec<uuid::Uuid>> {
    use entity::{
        order::{self, OrderStatus},
        reward::RewardKind,
    };
    use rand::Rng;
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};

    use crate::loyalty::{self, CreateTierInput, rewards};

    let members: Vec<uuid::Uuid> = customers.iter().copied().filter(|_| rng.random_bool(0.5)).collect();
    let catalogue = [
        ("10% off", RewardKind::PercentDiscount, Some(10), 300, None),
        ("$5 off", RewardKind::AmountDiscount, Some(500), 500, None),
        ("Free shipping", RewardKind::FreeShipping, None, 200, None),
        ("Early access to sales", RewardKind::ExclusiveAccess, None, 800, Some(2)),
    ];
    let mut seeded = (0, 0);
    transact(db, async |txn| {
        for (rank, (name, min_points, multiplier_percent)) in
            [("Bronze", 0, 100), ("Silver", 1_000, 125), ("Gold", 3_000, 150)].into_iter().enumerate()
        {
            let input = CreateTierInput {
                name: name.to_owned(),
                rank: rank as i32,
                min_points,
                multiplier_percent,
                perks: Vec::new(),
            };
            loyalty::create_tier(txn, workspace_id, Actor::SYSTEM, input).await?;
        }
        let mut rewards = Vec::new();
        for (name, kind, value, cost_points, min_tier_rank) in catalogue {
            let input = rewards::RewardInput {
                name: name.to_owned(),
                description: None,
                kind,
                value,
                cost_points,
                min_tier_rank,
                stock: None,
                active_from: None,
                active_to: None,
                coupon_valid_days: 90,
            };
            rewards.push(rewards::save(txn, workspace_id, None, input).await?);
        }
        let orders = order::Entity::find()
            .filter(order::Column::WorkspaceId.eq(workspace_id))
            .filter(order::Column::CustomerId.is_in(members.clone()))
            .filter(order::Column::Status.eq(OrderStatus::Completed))
            .order_by_asc(order::Column::PlacedAt)
            .all(txn)
            .await?;
        // Per customer, the coupon waiting for their next order.
        let mut waiting: std::collections::HashMap<uuid::Uuid, entity::redemption::Model> =
            std::collections::HashMap::new();
        for order in &orders {
            let at = order.placed_at;
            // Coupons that expired before the next order stay unused.
            if let Some(coupon) = waiting.remove(&order.customer_id)
                && rewards::unusable_reason(&coupon, at).is_none()
            {
                rewards::use_coupon(txn, workspace_id, &coupon.coupon_code, order.id, at).await?;
                seeded.1 += 1;
            }
            let Some(posted) = loyalty::service::earn_for_order(txn, order, Actor::SYSTEM, at).await? else {
                continue;
            };
            let affordable: Vec<_> =
                rewards.iter().filter(|r| r.cost_points <= posted.account.points_balance).collect();
            if affordable.is_empty() || !rng.random_bool(0.3) {
                continue;
            }
            let reward = affordable[rng.random_range(0..affordable.len())];
            let key = format!("demo:{}", order.id);
            match rewards::redeem(txn, workspace_id, posted.account.id, reward.id, &key, Actor::SYSTEM, at).await {
                Ok((coupon, _)) => {
                    seeded.0 += 1;
                    if rng.random_bool(0.7) {
                        waiting.insert(order.customer_id, coupon);
                    }
                }
                // A reward above the member's tier: they wait for another time.
                Err(crate::graphql::AppError::Forbidden(_)) => {}
                Err(other) => return Err(other),
            }
        }
        for customer_id in &members {
            loyalty::service::enroll(txn, workspace_id, *customer_id, now).await?;
        }
        Ok(())
    })
    .await?;
    report.loyalty_members = members.len();
    (report.redemptions, report.coupons_used) = seeded;
    Ok(members)
}

/// A finished A/B test: a win-back offer against no contact, on 200 customers, started 70 days
/// ago with a 30-day window, so its results are complete.
async fn seed_experiment(
    db: &DatabaseConnection,
    workspace_id: uuid::Uuid,
    admin_id: uuid::Uuid,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<()> {
    use chrono::Duration;
    use entity::experiment::{ExperimentKind, ExperimentMetric};

    use crate::experiments::service::{self as experiments, NewExperiment, Start, Variant};

    let admin = Actor { kind: entity::audit_log::ActorKind::User, id: Some(admin_id) };
    let new = NewExperiment {
        name: "Win-back offer".to_owned(),
        hypothesis: Some("A 10% offer brings more customers back within 30 days than no contact".to_owned()),
        kind: ExperimentKind::Reactivation,
        variants: ["no contact", "10% offer"]
            .map(|name| Variant { name: name.to_owned(), weight: 1, follow_up: None })
            .into(),
        control_variant: None,
        success_metric: ExperimentMetric::PurchaseRate,
        window_days: 30,
    };
    transact(db, async |txn| {
        let draft = experiments::create(txn, workspace_id, admin, new, now - Duration::days(75)).await?;
        let start = Start { audience: None, max_customers: Some(200), exclusive: false };
        experiments::start(txn, workspace_id, admin, draft.id, start, now - Duration::days(70)).await?;
        experiments::complete(txn, workspace_id, admin, draft.id, now - Duration::days(35)).await?;
        Ok(())
    })
    .await
}

/// Complaints and requests over the last three months, on every channel and in every state:
/// answered, waiting on the customer, escalated, resolved, closed and rated, and some recent
/// ones nobody has answered yet (their SLA clocks run out). Returns how many were filed.
async fn seed_tickets(
    db: &DatabaseConnection,
    workspace_id: uuid::Uuid,
    customers: &[uuid::Uuid],
    now: chrono::DateTime<chrono::Utc>,
    rng: &mut rand::rngs::StdRng,
) -> AppResult<usize> {
    use chrono::Duration;
    use entity::{
        enums::Channel,
        ticket::{TicketCategory, TicketKind},
        ticket_event::Visibility,
    };
    use rand::Rng;
    use sea_orm::Iterable;

    use crate::{events::Outbox, tickets::service as tickets};

    const SUBJECTS: [&str; 6] = [
        "The order arrived damaged",
        "Still waiting for my parcel",
        "Charged twice",
        "Rude answer at the counter",
        "Your competitor is cheaper",
        "Can I change my delivery address?",
    ];
    let channels: Vec<Channel> = Channel::iter().collect();
    let categories: Vec<TicketCategory> = TicketCategory::iter().collect();
    let outbox = Outbox::default();
    let count = 90;
    for i in 0..count {
        let customer_id = customers[rng.random_range(0..customers.len())];
        let channel = channels[i % channels.len()];
        let filed_at = now - Duration::minutes(rng.random_range(30..90 * 24 * 60));
        // Each later step a few hours after the one before, never in the future.
        let mut at = filed_at;
        let mut later = |rng: &mut rand::rngs::StdRng| {
            at = (at + Duration::minutes(rng.random_range(20..2 * 24 * 60))).min(now);
            at
        };
        let change = |now| tickets::Change { workspace_id, actor: Actor::SYSTEM, now, outbox: &outbox };
        let input = tickets::NewTicket {
            kind: if i % 7 == 6 { TicketKind::Request } else { TicketKind::Complaint },
            customer_id: Some(customer_id),
            contact_name: None,
            contact_email: None,
            contact_phone: None,
            subject: SUBJECTS[i % SUBJECTS.len()].to_owned(),
            body: "Please help.".to_owned(),
            channel,
            category: categories[rng.random_range(0..categories.len())],
            priority: None,
            is_public: channel == Channel::Social,
            assignee_id: None,
            group_id: None,
        };
        // The state it ends in: 0 NEW, 1 OPEN, 2 PENDING_CUSTOMER, 3 ESCALATED, 4 RESOLVED, 5+ CLOSED.
        let state = rng.random_range(0..8);
        let (reply_at, escalated_at, resolved_at, closed_at) = (later(rng), later(rng), later(rng), later(rng));
        let score = rng.random_range(1..6);
        transact(db, async |txn| {
            let t = tickets::file(txn, &change(filed_at), input).await?;
            if state == 0 {
                return Ok(());
            }
            let answer = "Sorry about that, we are on it.".to_owned();
            tickets::reply(txn, &change(reply_at), t.id, answer, Visibility::Public, state == 2).await?;
            if state == 3 {
                tickets::escalate(txn, &change(escalated_at), t.id, "needs a refund approval".to_owned(), None).await?;
            }
            if state >= 4 {
                let resolution = tickets::Resolution {
                    root_cause: "carrier".to_owned(),
                    customer_error: false,
                    resolution: "Replaced the item".to_owned(),
                };
                tickets::resolve(txn, &change(resolved_at), t.id, resolution).await?;
            }
            if state >= 5 {
                tickets::close(txn, &change(closed_at), t.id).await?;
                tickets::rate(txn, &change(closed_at), t.id, score, None).await?;
            }
            Ok(())
        })
        .await?;
    }
    Ok(count)
}
