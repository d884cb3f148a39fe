//! Complaints and tickets: filing from every channel, the status machine, business-hours SLA
//! arithmetic, breach detection exactly once, concurrent numbering, CSAT, the complaint report
//! and live updates across instances.

use chrono::{DateTime, Duration, Utc};
use entity::{
    enums::{Channel, Priority},
    sla_event::{self, SlaEventKind},
    ticket::{self, TicketCategory, TicketKind, TicketStatus},
};
use futures_util::{SinkExt, StreamExt};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
use uuid::Uuid;
use vafa::{
    auth::Actor,
    events::Outbox,
    graphql::transact,
    tickets::{
        breaches,
        service::{self, Change, NewTicket, Resolution},
    },
};

use crate::{
    db_tests,
    support::{Backend, Tenant, TestApp},
    support::{next_json, subscribe},
};

const FILE: &str = "mutation($input: FileComplaintInput!) { fileComplaint(input: $input) { ticket {
  id number kind status priority channel category isPublic contactEmail customer { id name }
  firstResponseDueAt resolutionDueAt slaStatus
} } }";
const TICKET: &str = "query($id: ID!) { ticket(id: $id) {
  id number status priority escalationLevel firstRespondedAt nextReplyDueAt resolutionDueAt slaStatus slaBreached
  rootCause customerError resolution satisfaction reopenCount assignee { id }
  timeToFirstResponse { wallSeconds businessSeconds } timeToResolution { wallSeconds businessSeconds }
  events(first: 50) { edges { node { kind visibility actorKind author { id } body from to } } }
  slaEvents(first: 50) { edges { node { metric kind dueAt } } }
} }";

fn complaint(channel: &str, extra: Value) -> Value {
    let mut input = json!({
        "channel": channel,
        "subject": format!("Complaint by {channel}"),
        "body": "The parcel arrived broken.",
        "category": "PRODUCT_QUALITY",
    });
    for (k, v) in extra.as_object().unwrap() {
        input[k] = v.clone();
    }
    input
}

async fn file(app: &TestApp, token: &str, input: Value) -> Value {
    app.ok(Some(token), FILE, json!({ "input": input })).await["fileComplaint"]["ticket"].clone()
}

async fn ticket_count(app: &TestApp, tenant: &Tenant) -> u64 {
    ticket::Entity::find().filter(ticket::Column::WorkspaceId.eq(tenant.workspace.id)).count(app.db()).await.unwrap()
}

async fn filing_from_every_channel(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let ada = app.customer(token, json!({ "name": "Ada", "email": "ada@example.com" })).await;

    let by_id = file(&app, token, complaint("PHONE", json!({ "customerId": ada }))).await;
    assert_eq!(by_id["number"], 1);
    assert_eq!(by_id["kind"], "COMPLAINT");
    assert_eq!(by_id["status"], "NEW");
    assert_eq!(by_id["customer"]["name"], "Ada");
    assert_eq!(by_id["priority"], "NORMAL", "product quality is NORMAL by default");
    assert_eq!(by_id["slaStatus"], "ON_TRACK");
    assert!(by_id["firstResponseDueAt"].is_string() && by_id["resolutionDueAt"].is_string());

    // Found by email; unknown complainers keep their contact details.
    let by_email = file(&app, token, complaint("EMAIL", json!({ "contactEmail": "ADA@example.com" }))).await;
    assert_eq!(by_email["customer"]["id"], ada);
    let stranger =
        file(&app, token, complaint("SMS", json!({ "contactPhone": "+49 30 1234567", "contactName": "Bob" }))).await;
    assert!(stranger["customer"].is_null());
    let mut numbers = vec![by_id["number"].as_i64().unwrap(), by_email["number"].as_i64().unwrap(), 3];
    assert_eq!(stranger["number"], 3);

    for channel in ["CHAT", "WEB_FORM", "IN_PERSON"] {
        let t = file(&app, token, complaint(channel, json!({ "customerId": ada, "category": "BILLING" }))).await;
        assert_eq!(t["channel"], channel);
        assert_eq!(t["priority"], "HIGH", "billing complaints are HIGH");
        numbers.push(t["number"].as_i64().unwrap());
    }
    // A public social post is raised a step.
    let social = file(
        &app,
        token,
        complaint("SOCIAL", json!({ "contactName": "@carol", "isPublic": true, "category": "PRICE" })),
    )
    .await;
    assert_eq!((social["priority"].as_str(), social["isPublic"].as_bool()), (Some("NORMAL"), Some(true)));
    numbers.push(social["number"].as_i64().unwrap());
    assert_eq!(numbers, (1..=7).collect::<Vec<_>>());

    // Rejections write nothing, not even a ticket number.
    let other = app.tenant("other").await;
    let foreign = app.customer(&other.admin_token, json!({ "name": "Eve" })).await;
    for (input, code, field) in [
        (complaint("EMAIL", json!({})), "BAD_USER_INPUT", Some("input.customerId")),
        (complaint("EMAIL", json!({ "customerId": ada, "subject": "  " })), "BAD_USER_INPUT", Some("input.subject")),
        (complaint("EMAIL", json!({ "contactEmail": "not-an-email" })), "BAD_USER_INPUT", Some("input.contactEmail")),
        (complaint("EMAIL", json!({ "customerId": foreign })), "NOT_FOUND", None),
        (complaint("EMAIL", json!({ "customerId": ada, "groupId": Uuid::now_v7().to_string() })), "NOT_FOUND", None),
    ] {
        let (_, body) = app.post(Some(token), FILE, json!({ "input": input })).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], code, "{body}");
        if let Some(field) = field {
            assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
        }
    }
    assert_eq!(ticket_count(&app, &tenant).await, 7);
    let next = file(&app, token, complaint("EMAIL", json!({ "customerId": ada }))).await;
    assert_eq!(next["number"], 8, "failed filings leave no gap");

    // Viewers read tickets but cannot file them; another workspace sees none of them.
    let (_, viewer) = app.user(&tenant, "viewer@acme.example", "VIEWER").await;
    assert_eq!(
        app.error_code(Some(&viewer), FILE, json!({ "input": complaint("EMAIL", json!({ "customerId": ada })) })).await,
        "FORBIDDEN"
    );
    let list = app.ok(Some(&viewer), "{ tickets(first: 100) { totalCount } }", json!({})).await;
    assert_eq!(list["tickets"]["totalCount"], 8);
    let theirs = app.ok(Some(&other.admin_token), "{ tickets { totalCount } }", json!({})).await;
    assert_eq!(theirs["tickets"]["totalCount"], 0);
    assert_eq!(app.error_code(Some(&other.admin_token), TICKET, json!({ "id": by_id["id"] })).await, "NOT_FOUND");
}

async fn the_full_state_machine(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = Some(tenant.admin_token.as_str());
    let ada = app.customer(&tenant.admin_token, json!({ "name": "Ada" })).await;
    let t = file(&app, &tenant.admin_token, complaint("EMAIL", json!({ "customerId": ada }))).await;
    let id = t["id"].as_str().unwrap();
    let mutate = |name: &str, input_type: &str| {
        format!(
            "mutation($input: {input_type}!) {{ {name}(input: $input) {{ ticket {{ id status escalationLevel reopenCount }} }} }}"
        )
    };
    let ticket_id = json!({ "ticketId": id });
    let with = |extra: Value| {
        let mut input = ticket_id.clone();
        for (k, v) in extra.as_object().unwrap() {
            input[k] = v.clone();
        }
        json!({ "input": input })
    };
    let set_status = mutate("setTicketStatus", "SetTicketStatusInput");
    let reply = mutate("replyToTicket", "ReplyToTicketInput");
    let close = mutate("closeTicket", "TicketIdInput");
    let resolve = mutate("resolveTicket", "ResolveTicketInput");
    let escalate = mutate("escalateTicket", "EscalateTicketInput");
    let reopen = mutate("reopenTicket", "ReopenTicketInput");
    let message = mutate("addCustomerMessage", "TicketTextInput");
    let note = mutate("addInternalNote", "TicketTextInput");
    let rate = mutate("rateTicket", "RateTicketInput");
    let resolution =
        json!({ "rootCause": "Carrier damage", "customerError": false, "resolution": "Sent a replacement" });

    // Illegal moves from NEW.
    assert_eq!(app.error_code(token, &resolve, with(resolution.clone())).await, "INVALID_TRANSITION");
    assert_eq!(app.error_code(token, &close, with(json!({}))).await, "INVALID_TRANSITION");
    assert_eq!(app.error_code(token, &set_status, with(json!({ "status": "RESOLVED" }))).await, "BAD_USER_INPUT");
    // A private reply is for public posts only.
    assert_eq!(
        app.error_code(token, &reply, with(json!({ "body": "hi", "visibility": "PRIVATE" }))).await,
        "BAD_USER_INPUT"
    );

    // The first reply opens the ticket and stops the first-response clock; waiting on the customer pauses resolution.
    let r =
        app.ok(token, &reply, with(json!({ "body": "Sorry! Could you send a photo?", "awaitCustomer": true }))).await;
    assert_eq!(r["replyToTicket"]["ticket"]["status"], "PENDING_CUSTOMER");
    let now = app.ok(token, TICKET, json!({ "id": id })).await["ticket"].clone();
    assert!(now["firstRespondedAt"].is_string());
    assert!(now["timeToFirstResponse"]["wallSeconds"].as_i64().unwrap() >= 0);
    assert!(now["resolutionDueAt"].is_null(), "paused while waiting on the customer");
    // The customer answers: back to OPEN and a reply is owed.
    let m = app.ok(token, &message, with(json!({ "body": "Here it is" }))).await;
    assert_eq!(m["addCustomerMessage"]["ticket"]["status"], "OPEN");
    let now = app.ok(token, TICKET, json!({ "id": id })).await["ticket"].clone();
    assert!(now["nextReplyDueAt"].is_string() && now["resolutionDueAt"].is_string());
    app.ok(token, &note, with(json!({ "body": "VIP, be generous" }))).await;

    // Support → supervisor → management, and no further.
    for level in ["SUPERVISOR", "MANAGEMENT"] {
        let e = app.ok(token, &escalate, with(json!({ "reason": "customer asks for a manager" }))).await;
        assert_eq!(e["escalateTicket"]["ticket"]["status"], "ESCALATED");
        assert_eq!(e["escalateTicket"]["ticket"]["escalationLevel"], level);
    }
    assert_eq!(app.error_code(token, &escalate, with(json!({ "reason": "again" }))).await, "INVALID_TRANSITION");

    // Resolve, rate once, close, reopen.
    assert_eq!(app.error_code(token, &rate, with(json!({ "score": 5 }))).await, "INVALID_TRANSITION");
    let done = app.ok(token, &resolve, with(resolution.clone())).await;
    assert_eq!(done["resolveTicket"]["ticket"]["status"], "RESOLVED");
    assert_eq!(app.error_code(token, &rate, with(json!({ "score": 6 }))).await, "BAD_USER_INPUT");
    app.ok(token, &rate, with(json!({ "score": 2, "comment": "slow" }))).await;
    assert_eq!(app.error_code(token, &rate, with(json!({ "score": 5 }))).await, "CONFLICT");
    let feedback = app
        .ok(
            token,
            "query($id: ID!) { customer(id: $id) { feedback { edges { node { kind score } } } } }",
            json!({ "id": ada }),
        )
        .await;
    assert_eq!(feedback["customer"]["feedback"]["edges"][0]["node"], json!({ "kind": "CSAT", "score": 2 }));
    app.ok(token, &close, with(json!({}))).await;
    assert_eq!(app.error_code(token, &reply, with(json!({ "body": "late" }))).await, "INVALID_TRANSITION");
    let back = app.ok(token, &reopen, with(json!({ "reason": "broken again" }))).await;
    assert_eq!(back["reopenTicket"]["ticket"]["status"], "OPEN");
    assert_eq!(back["reopenTicket"]["ticket"]["reopenCount"], 1);

    // Closed longer than the reopen window (7 days): a new ticket is needed.
    app.ok(token, &resolve, with(resolution)).await;
    app.ok(token, &close, with(json!({}))).await;
    let mut row = ticket::Entity::find_by_id(id.parse::<Uuid>().unwrap()).one(app.db()).await.unwrap().unwrap();
    row.closed_at = Some(Utc::now() - Duration::days(8));
    service::save(app.db(), row, Utc::now()).await.unwrap();
    assert_eq!(app.error_code(token, &reopen, with(json!({ "reason": "again" }))).await, "INVALID_TRANSITION");

    // Every change is in the history, with who did it.
    let history = app.ok(token, TICKET, json!({ "id": id })).await["ticket"]["events"]["edges"].clone();
    let statuses: Vec<(String, String)> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["kind"] == "STATUS")
        .map(|e| (e["node"]["from"].as_str().unwrap().to_owned(), e["node"]["to"].as_str().unwrap().to_owned()))
        .collect();
    let expected = [
        ("NEW", "OPEN"),
        ("OPEN", "PENDING_CUSTOMER"),
        ("PENDING_CUSTOMER", "OPEN"),
        ("OPEN", "ESCALATED"),
        ("ESCALATED", "RESOLVED"),
        ("RESOLVED", "CLOSED"),
        ("CLOSED", "OPEN"),
        ("OPEN", "RESOLVED"),
        ("RESOLVED", "CLOSED"),
    ];
    assert_eq!(statuses, expected.map(|(a, b)| (a.to_owned(), b.to_owned())));
    let first = &history[0]["node"];
    assert_eq!(
        (first["kind"].as_str(), first["author"]["id"].as_str()),
        (Some("CREATED"), Some(tenant.admin.id.to_string().as_str()))
    );
    let note = history.as_array().unwrap().iter().find(|e| e["node"]["kind"] == "NOTE").unwrap();
    assert_eq!(note["node"]["visibility"], "INTERNAL");
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn new_ticket(customer_id: Option<Uuid>, priority: Priority) -> NewTicket {
    NewTicket {
        kind: TicketKind::Complaint,
        customer_id,
        contact_name: Some("Walk-in".to_owned()),
        contact_email: None,
        contact_phone: None,
        subject: "Late delivery".to_owned(),
        body: "Still waiting".to_owned(),
        channel: Channel::Phone,
        category: TicketCategory::LateDelivery,
        priority: Some(priority),
        is_public: false,
        assignee_id: None,
        group_id: None,
    }
}

/// Runs a service call as the workspace's admin at a chosen time.
async fn at_time<T>(
    app: &TestApp,
    tenant: &Tenant,
    now: DateTime<Utc>,
    work: impl AsyncFnOnce(&sea_orm::DatabaseTransaction, &Change<'_>) -> vafa::graphql::AppResult<T>,
) -> T {
    let outbox = Outbox::default();
    let actor = Actor { kind: entity::audit_log::ActorKind::User, id: Some(tenant.admin.id) };
    let change = Change { workspace_id: tenant.workspace.id, actor, now, outbox: &outbox };
    transact(app.db(), async |txn| work(txn, &change).await).await.expect("service call")
}

async fn due_times_count_business_hours_only(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = Some(tenant.admin_token.as_str());
    // Berlin: Mon–Fri 09:00–12:00 and 13:00–17:00; Monday 30 November is a holiday.
    let slots: Vec<Value> = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]
        .iter()
        .flat_map(|d| {
            [
                json!({ "weekday": d, "start": "09:00", "end": "12:00" }),
                json!({ "weekday": d, "start": "13:00", "end": "17:00" }),
            ]
        })
        .collect();
    let hours = app
        .ok(token, "mutation($input: SetBusinessHoursInput!) { setBusinessHours(input: $input) { timezone alwaysOpen slots { weekday start end } } }", json!({ "input": { "slots": slots } }))
        .await;
    assert_eq!(hours["setBusinessHours"]["timezone"], "Europe/Berlin");
    assert_eq!(hours["setBusinessHours"]["slots"].as_array().unwrap().len(), 10);
    let overlapping = json!({ "input": { "slots": [
        { "weekday": "MONDAY", "start": "09:00", "end": "12:00" }, { "weekday": "MONDAY", "start": "11:00", "end": "13:00" } ] } });
    let (_, body) = app
        .post(
            token,
            "mutation($input: SetBusinessHoursInput!) { setBusinessHours(input: $input) { alwaysOpen } }",
            overlapping,
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "input.slots[1]");
    app.ok(
        token,
        "mutation { addHoliday(input: { date: \"2026-11-30\", name: \"Company day\" }) { date } }",
        json!({}),
    )
    .await;
    app.ok(token, "mutation { setSlaPolicy(input: { priority: NORMAL, firstResponseMinutes: 120, nextReplyMinutes: 60, resolutionMinutes: 600, warningMinutes: 30 }) { isDefault } }", json!({})).await;

    // Filed Friday 27 Nov 16:00 Berlin (15:00 UTC): 60 minutes on Friday, none on the weekend or
    // the holiday, so the first response is due Tuesday 10:00 Berlin (09:00 UTC).
    let filed = at("2026-11-27T15:00:00Z");
    let t =
        at_time(&app, &tenant, filed, async |txn, c| service::file(txn, c, new_ticket(None, Priority::Normal)).await)
            .await;
    assert_eq!(t.first_response_due_at, Some(at("2026-12-01T09:00:00Z")));
    // Resolution 600 business minutes: 60 Friday + Tuesday 420 + Wednesday 120 → Wednesday 11:00 Berlin.
    assert_eq!(t.resolution_due_at, Some(at("2026-12-02T10:00:00Z")));

    // Reply Tuesday 09:30 Berlin over night and weekend: 90 business minutes, 3 days of wall time.
    let replied = at("2026-12-01T08:30:00Z");
    let t = at_time(&app, &tenant, replied, async |txn, c| {
        service::reply(txn, c, t.id, "On it".into(), entity::ticket_event::Visibility::Public, true).await
    })
    .await;
    assert_eq!(t.first_response_business_secs, Some(90 * 60));
    assert_eq!(t.status, TicketStatus::PendingCustomer);
    // Waiting on the customer from Tuesday 09:30 until Thursday 09:00 Berlin: 90 minutes were used,
    // so 510 are left from Thursday 09:00 → Thursday 17:00 (420) + Friday 09:00 + 90 → Friday 10:30.
    let answered = at("2026-12-03T08:00:00Z");
    let t = at_time(&app, &tenant, answered, async |txn, c| {
        service::customer_message(txn, c, t.id, "Photo attached".into()).await
    })
    .await;
    assert_eq!(t.status, TicketStatus::Open);
    assert_eq!(t.resolution_due_at, Some(at("2026-12-04T09:30:00Z")));
    // A reply is owed within 60 business minutes of the message.
    assert_eq!(t.next_reply_due_at, Some(at("2026-12-03T09:00:00Z")));
    let resolved_at = at("2026-12-03T12:30:00Z"); // Thursday 13:30 Berlin: 180 before lunch + 30 after.
    let t = at_time(&app, &tenant, resolved_at, async |txn, c| {
        let resolution =
            Resolution { root_cause: "Carrier".into(), customer_error: false, resolution: "Refunded shipping".into() };
        service::resolve(txn, c, t.id, resolution).await
    })
    .await;
    assert_eq!(t.resolution_business_secs, Some((90 + 210) * 60));

    let data = app.ok(token, TICKET, json!({ "id": t.id.to_string() })).await;
    let log: Vec<(String, String)> = data["ticket"]["slaEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["node"]["metric"].as_str().unwrap().to_owned(), e["node"]["kind"].as_str().unwrap().to_owned()))
        .collect();
    let expected = [
        ("FIRST_RESPONSE", "ACTIVATED"),
        ("RESOLUTION", "ACTIVATED"),
        ("FIRST_RESPONSE", "FULFILLED"),
        ("RESOLUTION", "PAUSED"),
        ("RESOLUTION", "RESUMED"),
        ("NEXT_REPLY", "ACTIVATED"),
        ("RESOLUTION", "FULFILLED"),
    ];
    assert_eq!(log, expected.map(|(a, b)| (a.to_owned(), b.to_owned())));
    assert_eq!(data["ticket"]["timeToResolution"]["businessSeconds"], (90 + 210) * 60);
    assert_eq!(data["ticket"]["slaStatus"], "MET");
}

async fn breaches_are_detected_once_and_escalate(app: TestApp) {
    let tenant = app.tenant("acme").await;
    // No business hours: clocks run around the clock. URGENT: first response 30 min (warning 10 before), escalates.
    let filed = Utc::now() - Duration::hours(2);
    let mut ids = Vec::new();
    for _ in 0..12 {
        let t = at_time(&app, &tenant, filed, async |txn, c| {
            service::file(txn, c, new_ticket(None, Priority::Urgent)).await
        })
        .await;
        ids.push(t.id);
    }
    // A warning first: 25 minutes in.
    let early = breaches::run(app.db(), None, filed + Duration::minutes(25)).await.unwrap();
    assert_eq!((early.warnings, early.breaches), (12, 0));
    let t = ticket::Entity::find_by_id(ids[0]).one(app.db()).await.unwrap().unwrap();
    assert_eq!(t.sla_status, entity::ticket::SlaStatus::AtRisk);

    // Two instances check at once: every breach is recorded exactly once.
    let other = vafa::db::connect(&app.database_url).await.unwrap();
    let now = filed + Duration::minutes(45);
    let (a, b) = tokio::join!(breaches::run(app.db(), None, now), breaches::run(&other, None, now));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.breaches + b.breaches, 12, "{a:?} {b:?}");
    let again = breaches::run(app.db(), None, now + Duration::minutes(1)).await.unwrap();
    assert_eq!(again.breaches, 0);
    for id in &ids {
        let breached = sla_event::Entity::find()
            .filter(sla_event::Column::TicketId.eq(*id))
            .filter(sla_event::Column::Kind.eq(SlaEventKind::Breached))
            .count(app.db())
            .await
            .unwrap();
        assert_eq!(breached, 1);
    }
    let data = app.ok(Some(&tenant.admin_token), TICKET, json!({ "id": ids[0].to_string() })).await["ticket"].clone();
    assert_eq!(data["slaStatus"], "BREACHED");
    assert_eq!(data["slaBreached"], true);
    assert_eq!(data["status"], "ESCALATED", "URGENT breaches escalate");
    assert_eq!(data["escalationLevel"], "SUPERVISOR");
    let kinds: Vec<&str> =
        data["events"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "SLA_BREACH").count(), 1);
    assert_eq!(kinds.iter().filter(|k| **k == "SLA_WARNING").count(), 1);
    let breached = app
        .ok(
            Some(&tenant.admin_token),
            "{ tickets(filter: { breached: true, slaStatus: { eq: BREACHED } }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(breached["tickets"]["totalCount"], 12);
}

async fn concurrent_filing_keeps_numbers_unique(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let ada = app.customer(&tenant.admin_token, json!({ "name": "Ada" })).await;
    let filings = (0..16).map(|_| file(&app, &tenant.admin_token, complaint("CHAT", json!({ "customerId": ada }))));
    let mut numbers: Vec<i64> =
        futures_util::future::join_all(filings).await.iter().map(|t| t["number"].as_i64().unwrap()).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=16).collect::<Vec<_>>());
}

async fn round_robin_skips_agents_at_capacity(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = Some(tenant.admin_token.as_str());
    let (alice, _) = app.user(&tenant, "alice@acme.example", "AGENT").await;
    let (bob, _) = app.user(&tenant, "bob@acme.example", "AGENT").await;
    let group =
        app.ok(token, "mutation { createAgentGroup(input: { name: \"Support\" }) { group { id } } }", json!({})).await;
    let group = group["createAgentGroup"]["group"]["id"].as_str().unwrap().to_owned();
    let member = "mutation($input: SetAgentGroupMemberInput!) { setAgentGroupMember(input: $input) { group { members { user { id } capacity } } } }";
    app.ok(token, member, json!({ "input": { "groupId": group, "userId": alice, "capacity": 1 } })).await;
    let data = app.ok(token, member, json!({ "input": { "groupId": group, "userId": bob } })).await;
    assert_eq!(data["setAgentGroupMember"]["group"]["members"].as_array().unwrap().len(), 2);
    let mut assigned = Vec::new();
    for _ in 0..3 {
        let t = app
            .ok(
                token,
                "mutation($input: FileComplaintInput!) { fileComplaint(input: $input) { ticket { assignee { id } } } }",
                json!({ "input": complaint("EMAIL", json!({ "contactName": "Zed", "groupId": group })) }),
            )
            .await;
        assigned.push(t["fileComplaint"]["ticket"]["assignee"]["id"].as_str().unwrap().to_owned());
    }
    // Alice (capacity 1) takes one; Bob takes the rest.
    assert_eq!(assigned, [alice.clone(), bob.clone(), bob.clone()]);
}

async fn report_numbers_on_a_known_fixture(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = Some(tenant.admin_token.as_str());
    let ada: Uuid = app.customer(&tenant.admin_token, json!({ "name": "Ada" })).await.parse().unwrap();
    let bob: Uuid = app.customer(&tenant.admin_token, json!({ "name": "Bob" })).await.parse().unwrap();
    let day = at("2026-11-02T08:00:00Z");
    // Four complaints, answered after 10, 20, 30 and 40 minutes (no business hours: wall = business).
    let mut ids = Vec::new();
    for (i, (customer, category)) in [
        (ada, TicketCategory::LateDelivery),
        (ada, TicketCategory::LateDelivery),
        (bob, TicketCategory::Billing),
        (bob, TicketCategory::Price),
    ]
    .into_iter()
    .enumerate()
    {
        let filed = day + Duration::hours(i as i64);
        let mut input = new_ticket(Some(customer), Priority::Normal);
        input.category = category;
        let t = at_time(&app, &tenant, filed, async |txn, c| service::file(txn, c, input).await).await;
        let reply_at = filed + Duration::minutes(10 * (i as i64 + 1));
        at_time(&app, &tenant, reply_at, async |txn, c| {
            service::reply(txn, c, t.id, "Looking".into(), entity::ticket_event::Visibility::Public, false).await
        })
        .await;
        ids.push((t.id, filed));
    }
    // Two resolved after 2 h and 4 h; one of them the customer's error; ratings 5 and 2; one reopened and re-resolved.
    for (index, hours, customer_error, score) in [(0usize, 2, false, 5), (2, 4, true, 2)] {
        let (id, filed) = ids[index];
        at_time(&app, &tenant, filed + Duration::hours(hours), async |txn, c| {
            let r = Resolution { root_cause: format!("cause {index}"), customer_error, resolution: "done".into() };
            service::resolve(txn, c, id, r).await?;
            service::rate(txn, c, id, score, None).await
        })
        .await;
    }
    let (id, filed) = ids[0];
    at_time(&app, &tenant, filed + Duration::hours(3), async |txn, c| {
        service::reopen(txn, c, id, "not fixed".into()).await
    })
    .await;
    at_time(&app, &tenant, filed + Duration::hours(5), async |txn, c| {
        service::resolve(
            txn,
            c,
            id,
            Resolution { root_cause: "cause 0".into(), customer_error: false, resolution: "again".into() },
        )
        .await
    })
    .await;

    let report = app
        .ok(
            token,
            "query($input: ComplaintReportInput!) { complaintReport(input: $input) {
            total { count open resolved slaAttainment csat averageRating csatResponses reopenRate customerErrorShare
                    firstResponse { medianSeconds p90Seconds samples } resolution { medianSeconds samples } }
            groups { key stats { count } }
            repeatComplainers { customer { name } complaints }
        } }",
            json!({ "input": { "from": "2026-11-01T00:00:00Z", "to": "2026-11-03T00:00:00Z", "groupBy": "CATEGORY" } }),
        )
        .await["complaintReport"]
        .clone();
    let total = &report["total"];
    assert_eq!(
        (total["count"].as_i64(), total["open"].as_i64(), total["resolved"].as_i64()),
        (Some(4), Some(2), Some(2))
    );
    // [600, 1200, 1800, 2400]: median 1500, p90 at rank 2.7 → 1800 + 0.7 × 600.
    assert_eq!(total["firstResponse"]["medianSeconds"], 1500.0);
    assert_eq!(total["firstResponse"]["p90Seconds"], 2220.0);
    // Resolved after 5 h (wall, since filing) and 4 h.
    assert_eq!(total["resolution"]["medianSeconds"], 4.5 * 3600.0);
    assert_eq!(total["csat"], 0.5);
    assert_eq!(total["averageRating"], 3.5);
    assert_eq!(total["reopenRate"], 0.5);
    assert_eq!(total["customerErrorShare"], 0.5);
    // Every first response was inside the 4 h NORMAL target and both resolutions inside 24 h.
    assert_eq!(total["slaAttainment"], 1.0);
    assert_eq!(report["groups"][0], json!({ "key": "LATE_DELIVERY", "stats": { "count": 2 } }));
    assert_eq!(report["groups"].as_array().unwrap().len(), 3);
    let repeat: Vec<&str> = report["repeatComplainers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["customer"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(repeat, ["Ada", "Bob"], "each filed two complaints");
}

async fn subscriptions_receive_events_from_another_instance(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let other_tenant = app.tenant("other").await;
    // On PostgreSQL the event crosses instances through LISTEN/NOTIFY; SQLite has one process.
    let filing_url = if app.backend == Backend::Postgres { app.another_instance().await } else { app.url.clone() };
    let query = "subscription { ticketEvents(filter: { kinds: [CREATED] }) { kind ticket { number subject } } }";
    let mut socket = subscribe(&app.url, &tenant.admin_token, query).await;
    let mut foreign = subscribe(&app.url, &other_tenant.admin_token, query).await;
    // Give the server a moment to register the subscription before the event is raised.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let client = reqwest::Client::new();
    let body = json!({ "query": FILE, "variables": { "input": complaint("EMAIL", json!({ "contactName": "Zed" })) } });
    let response = client
        .post(format!("{filing_url}/graphql"))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", tenant.admin_token))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let event = next_json(&mut socket).await;
    assert_eq!(event["type"], "next", "{event}");
    assert_eq!(event["payload"]["data"]["ticketEvents"]["kind"], "CREATED");
    assert_eq!(event["payload"]["data"]["ticketEvents"]["ticket"]["number"], 1);
    // The other workspace's subscriber hears nothing.
    let silence = tokio::time::timeout(std::time::Duration::from_millis(500), foreign.next()).await;
    assert!(silence.is_err(), "another workspace received {silence:?}");

    // Without a valid token the connection is refused.
    let mut request = format!("{}/graphql", app.url.replacen("http", "ws", 1)).into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
    let (mut anonymous, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    anonymous.send(Message::text(json!({ "type": "connection_init", "payload": {} }).to_string())).await.unwrap();
    let refused = tokio::time::timeout(std::time::Duration::from_secs(5), anonymous.next()).await.expect("an answer");
    assert!(matches!(refused, Some(Ok(Message::Close(_))) | None | Some(Err(_))), "{refused:?}");
}

async fn complaints_put_customers_at_risk(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = tenant.admin_token.as_str();
    let ada = app.customer(token, json!({ "name": "Ada" })).await;
    let bob = app.customer(token, json!({ "name": "Bob" })).await;
    for (customer, reference) in [(&ada, "a1"), (&bob, "b1")] {
        app.order(token, customer, reference, "20.00", &(Utc::now() - Duration::days(2)).to_rfc3339()).await;
    }
    let stage =
        "query($id: ID!) { customer(id: $id) { lifecycleStage tickets { totalCount edges { node { number } } } } }";
    let t = file(&app, token, complaint("EMAIL", json!({ "customerId": ada }))).await;
    let data = app.ok(Some(token), stage, json!({ "id": ada })).await;
    assert_eq!(data["customer"]["lifecycleStage"], "AT_RISK", "an open complaint is an at-risk signal");
    assert_eq!(data["customer"]["tickets"]["edges"][0]["node"]["number"], t["number"]);
    let with_open = app
        .ok(
            Some(token),
            "{ customers(filter: { hasTicket: { open: true, kind: { eq: COMPLAINT } } }) { edges { node { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(with_open["customers"]["edges"], json!([{ "node": { "name": "Ada" } }]));

    // Resolved with a poor rating: still at risk; a good one would have cleared it.
    let id = t["id"].as_str().unwrap();
    app.ok(
        Some(token),
        "mutation($id: ID!) { replyToTicket(input: { ticketId: $id, body: \"Sorry\" }) { ticket { id } } }",
        json!({ "id": id }),
    )
    .await;
    app.ok(Some(token), "mutation($id: ID!) { resolveTicket(input: { ticketId: $id, rootCause: \"Courier\", resolution: \"Refund\" }) { ticket { id } } }", json!({ "id": id })).await;
    let data = app.ok(Some(token), stage, json!({ "id": ada })).await;
    assert_eq!(data["customer"]["lifecycleStage"], "ACTIVE", "resolved: the signal is gone");
    app.ok(
        Some(token),
        "mutation($id: ID!) { rateTicket(input: { ticketId: $id, score: 1 }) { ticket { id } } }",
        json!({ "id": id }),
    )
    .await;
    let data = app.ok(Some(token), stage, json!({ "id": ada })).await;
    assert_eq!(data["customer"]["lifecycleStage"], "AT_RISK", "a CSAT of 1 is an at-risk signal");
    let history = app
        .ok(
            Some(token),
            "query($id: ID!) { customer(id: $id) { lifecycleHistory { edges { node { toStage reason } } } } }",
            json!({ "id": ada }),
        )
        .await;
    assert_eq!(history["customer"]["lifecycleHistory"]["edges"][0]["node"]["reason"], "rated a resolved complaint 1/5");
}

async fn public_posts_and_merging_duplicates(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = Some(tenant.admin_token.as_str());
    let post =
        file(&app, &tenant.admin_token, complaint("SOCIAL", json!({ "contactName": "@dan", "isPublic": true }))).await;
    let duplicate =
        file(&app, &tenant.admin_token, complaint("EMAIL", json!({ "contactEmail": "dan@example.com" }))).await;
    let reply = "mutation($input: ReplyToTicketInput!) { replyToTicket(input: $input) { ticket { id } } }";
    // A public post gets a public answer and a private message.
    for visibility in ["PUBLIC", "PRIVATE"] {
        app.ok(token, reply, json!({ "input": { "ticketId": post["id"], "body": format!("{visibility} answer"), "visibility": visibility } }))
            .await;
    }
    let merge = "mutation($input: MergeTicketsInput!) { mergeTickets(input: $input) { ticket { id number } } }";
    let input = json!({ "input": { "survivorId": post["id"], "mergedId": duplicate["id"] } });
    assert_eq!(app.ok(token, merge, input.clone()).await["mergeTickets"]["ticket"]["id"], post["id"]);
    assert_eq!(app.error_code(token, merge, input).await, "INVALID_TRANSITION", "already merged");
    let self_merge = json!({ "input": { "survivorId": post["id"], "mergedId": post["id"] } });
    assert_eq!(app.error_code(token, merge, self_merge).await, "BAD_USER_INPUT");

    let survivor = app.ok(token, TICKET, json!({ "id": post["id"] })).await["ticket"].clone();
    let events = survivor["events"]["edges"].as_array().unwrap();
    let replies: Vec<&str> = events
        .iter()
        .filter(|e| e["node"]["kind"] == "REPLY")
        .map(|e| e["node"]["visibility"].as_str().unwrap())
        .collect();
    assert_eq!(replies, ["PUBLIC", "PRIVATE"]);
    assert_eq!(
        events.iter().filter(|e| e["node"]["kind"] == "CREATED").count(),
        2,
        "the duplicate's history moved over"
    );
    let gone = app
        .ok(
            token,
            "query($id: ID!) { ticket(id: $id) { status mergedInto { number } } }",
            json!({ "id": duplicate["id"] }),
        )
        .await;
    assert_eq!(gone["ticket"]["status"], "CLOSED");
    assert_eq!(gone["ticket"]["mergedInto"]["number"], post["number"]);
    // Work goes to the survivor.
    let late = json!({ "input": { "ticketId": duplicate["id"], "body": "hello?" } });
    assert_eq!(app.error_code(token, reply, late).await, "INVALID_TRANSITION");
}

/// A move to the state a ticket is already in is refused and changes nothing: no field, no
/// history line, no SLA log line (issue 14.4).
async fn same_state_moves_are_refused_and_change_nothing(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = Some(tenant.admin_token.as_str());
    let ada = app.customer(&tenant.admin_token, json!({ "name": "Ada" })).await;
    let t = file(&app, &tenant.admin_token, complaint("EMAIL", json!({ "customerId": ada }))).await;
    let id = t["id"].as_str().unwrap();
    let snapshot = "query($id: ID!) { ticket(id: $id) {
      status assignee { id } group { id } rootCause customerError resolution resolvedAt closedAt updatedAt
      resolutionDueAt nextReplyDueAt reopenCount
      events(first: 100) { totalCount edges { node { kind from to body } } }
      slaEvents(first: 100) { totalCount edges { node { metric kind dueAt occurredAt } } }
    } }";
    let call = |name: &str, input_type: &str| {
        format!("mutation($input: {input_type}!) {{ {name}(input: $input) {{ ticket {{ id status }} }} }}")
    };
    let input = |extra: Value| {
        let mut input = json!({ "ticketId": id });
        for (k, v) in extra.as_object().unwrap() {
            input[k] = v.clone();
        }
        json!({ "input": input })
    };
    let set_status = call("setTicketStatus", "SetTicketStatusInput");
    let assign = call("assignTicket", "AssignTicketInput");
    let resolve = call("resolveTicket", "ResolveTicketInput");
    let close = call("closeTicket", "TicketIdInput");
    let reopen = call("reopenTicket", "ReopenTicketInput");
    let refused_unchanged = async |mutation: &str, variables: Value| {
        let before = app.ok(token, snapshot, json!({ "id": id })).await;
        assert_eq!(app.error_code(token, mutation, variables.clone()).await, "INVALID_TRANSITION", "{variables}");
        let after = app.ok(token, snapshot, json!({ "id": id })).await;
        assert_eq!(after, before, "a refused {variables} changed the ticket");
    };

    app.ok(token, &set_status, input(json!({ "status": "OPEN" }))).await;
    refused_unchanged(&set_status, input(json!({ "status": "OPEN" }))).await;
    app.ok(token, &set_status, input(json!({ "status": "PENDING_CUSTOMER" }))).await;
    refused_unchanged(&set_status, input(json!({ "status": "PENDING_CUSTOMER" }))).await;

    let me = tenant.admin.id.to_string();
    app.ok(token, &assign, input(json!({ "assigneeId": me }))).await;
    refused_unchanged(&assign, input(json!({ "assigneeId": me }))).await;

    let resolution = json!({ "rootCause": "Carrier damage", "resolution": "Sent a replacement" });
    app.ok(token, &resolve, input(resolution)).await;
    refused_unchanged(&resolve, input(json!({ "rootCause": "Something else", "resolution": "Overwritten" }))).await;
    app.ok(token, &close, input(json!({}))).await;
    refused_unchanged(&close, input(json!({}))).await;
    refused_unchanged(&resolve, input(json!({ "rootCause": "Something else", "resolution": "Overwritten" }))).await;
    app.ok(token, &reopen, input(json!({ "reason": "broken again" }))).await;
    refused_unchanged(&reopen, input(json!({ "reason": "twice" }))).await;
    refused_unchanged(&set_status, input(json!({ "status": "OPEN" }))).await;
}

/// After a breach escalates a ticket, the breach stays with the agent and group who missed it;
/// the supervisor who then resolves it in time is credited with that clock (issue 14.7).
async fn sla_attainment_stays_with_whoever_held_the_clock(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let token = Some(tenant.admin_token.as_str());
    let (alice, _) = app.user(&tenant, "alice@acme.example", "AGENT").await;
    let (bob, _) = app.user(&tenant, "bob@acme.example", "AGENT").await;
    let group = async |name: &str, level: &str, member: &str| {
        let created = app
            .ok(
                token,
                "mutation($input: CreateAgentGroupInput!) { createAgentGroup(input: $input) { group { id } } }",
                json!({ "input": { "name": name, "escalationLevel": level } }),
            )
            .await;
        let id = created["createAgentGroup"]["group"]["id"].as_str().unwrap().to_owned();
        let member_input = json!({ "input": { "groupId": id, "userId": member } });
        app.ok(
            token,
            "mutation($input: SetAgentGroupMemberInput!) { setAgentGroupMember(input: $input) { group { id } } }",
            member_input,
        )
        .await;
        id
    };
    let support = group("Support", "SUPPORT", &alice).await;
    let supervisors = group("Supervisors", "SUPERVISOR", &bob).await;
    // URGENT: first response due 30 minutes after filing; a breach escalates to the supervisors.
    let filed = Utc::now() - Duration::hours(2);
    let mut input = new_ticket(None, Priority::Urgent);
    input.group_id = Some(support.parse().unwrap());
    let t = at_time(&app, &tenant, filed, async |txn, c| service::file(txn, c, input).await).await;
    assert_eq!(t.assignee_id.map(|id| id.to_string()), Some(alice.clone()));
    let run = breaches::run(app.db(), None, filed + Duration::minutes(45)).await.unwrap();
    assert_eq!(run.breaches, 1);
    let resolution = || Resolution { root_cause: "Courier".into(), customer_error: false, resolution: "Sent".into() };
    let t = at_time(&app, &tenant, filed + Duration::hours(1), async |txn, c| {
        service::resolve(txn, c, t.id, resolution()).await
    })
    .await;
    assert_eq!(t.assignee_id.map(|id| id.to_string()), Some(bob.clone()), "escalated to the supervisor");

    let report = app
        .ok(
            token,
            "query($input: ComplaintReportInput!) { complaintReport(input: $input) {
            total { slaAttainment }
            slaByAgent { agent { id } tickets slaAttainment }
            slaByGroup { group { id } tickets slaAttainment }
        } }",
            json!({ "input": {
                "from": (filed - Duration::days(1)).to_rfc3339(),
                "to": (Utc::now() + Duration::days(1)).to_rfc3339(),
                "groupBy": "ASSIGNEE",
            } }),
        )
        .await["complaintReport"]
        .clone();
    assert_eq!(report["total"]["slaAttainment"], 0.0, "the ticket missed a target");
    let by = |list: &str, holder: &str| {
        let mut rows: Vec<(String, i64, f64)> = report[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let id = r[holder]["id"].as_str().unwrap().to_owned();
                (id, r["tickets"].as_i64().unwrap(), r["slaAttainment"].as_f64().unwrap())
            })
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows
    };
    let mut agents = vec![(alice, 1, 0.0), (bob, 1, 1.0)];
    agents.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(by("slaByAgent", "agent"), agents, "the first-response breach is Alice's, the resolution Bob's");
    let mut groups = vec![(support, 1, 0.0), (supervisors, 1, 1.0)];
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(by("slaByGroup", "group"), groups);
}

/// A customer's message entered by staff is the customer's in the history; the staff member who
/// typed it is recorded apart (issue 14.8).
async fn customer_messages_are_authored_by_the_customer(app: TestApp) {
    let tenant = app.tenant("acme").await;
    let (agent, agent_token) = app.user(&tenant, "alice@acme.example", "AGENT").await;
    let ada = app.customer(&tenant.admin_token, json!({ "name": "Ada" })).await;
    let t = file(&app, &tenant.admin_token, complaint("PHONE", json!({ "customerId": ada }))).await;
    let id = t["id"].as_str().unwrap();
    let message = "mutation($input: TicketTextInput!) { addCustomerMessage(input: $input) { ticket { id } } }";
    app.ok(Some(&agent_token), message, json!({ "input": { "ticketId": id, "body": "I want a refund" } })).await;
    let history = app
        .ok(
            Some(&tenant.admin_token),
            "query($id: ID!) { ticket(id: $id) { events(first: 50) { edges { node {
              kind actorKind author { id } recordedByKind recordedBy { id } body } } } } }",
            json!({ "id": id }),
        )
        .await["ticket"]["events"]["edges"]
        .clone();
    let said: Vec<&Value> =
        history.as_array().unwrap().iter().map(|e| &e["node"]).filter(|e| e["kind"] == "CUSTOMER_MESSAGE").collect();
    assert_eq!(
        said,
        [&json!({
            "kind": "CUSTOMER_MESSAGE",
            "actorKind": "CUSTOMER",
            "author": null,
            "recordedByKind": "USER",
            "recordedBy": { "id": agent },
            "body": "I want a refund",
        })]
    );
    let created = history.as_array().unwrap().iter().map(|e| &e["node"]).find(|e| e["kind"] == "CREATED").unwrap();
    assert_eq!((&created["recordedByKind"], &created["recordedBy"]), (&Value::Null, &Value::Null), "staff's own lines");
}

db_tests!(
    same_state_moves_are_refused_and_change_nothing,
    sla_attainment_stays_with_whoever_held_the_clock,
    customer_messages_are_authored_by_the_customer,
    filing_from_every_channel,
    public_posts_and_merging_duplicates,
    complaints_put_customers_at_risk,
    the_full_state_machine,
    due_times_count_business_hours_only,
    breaches_are_detected_once_and_escalate,
    concurrent_filing_keeps_numbers_unique,
    round_robin_skips_agents_at_capacity,
    report_numbers_on_a_known_fixture,
    subscriptions_receive_events_from_another_instance,
);
