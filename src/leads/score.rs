//! The lead score: transparent rules, each contributing points with a reason a salesperson can
//! read. Pure: no database, no clock (the caller passes `now`).

use chrono::{DateTime, Utc};
use entity::{
    enums::{AcquisitionSource, Priority},
    lead::LeadCategory,
};
use serde::{Deserialize, Serialize};

/// What the score is computed from.
pub struct LeadFacts {
    pub category: LeadCategory,
    pub source: AcquisitionSource,
    pub has_email: bool,
    pub has_phone: bool,
    /// Known profile facts, out of `profile_total`.
    pub profile_known: usize,
    pub profile_total: usize,
    /// Contacts the lead started.
    pub inbound: i64,
    /// Our outbound contacts that reached them or got a reply.
    pub answered_outbound: i64,
    /// The latest interaction, or the lead's creation when none.
    pub last_activity: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

/// One rule's contribution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, async_graphql::SimpleObject)]
pub struct ScoreReason {
    /// CATEGORY, SOURCE, CONTACT, PROFILE, ENGAGEMENT or RECENCY.
    pub rule: String,
    pub points: i32,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeadScore {
    pub value: i32,
    pub priority: Priority,
    pub reasons: Vec<ScoreReason>,
}

const MAX_ENGAGEMENT: i64 = 20;

pub fn score(facts: &LeadFacts) -> LeadScore {
    let mut reasons = Vec::new();
    let mut add = |rule: &str, points: i32, detail: String| {
        reasons.push(ScoreReason { rule: rule.to_owned(), points, detail });
    };

    let (points, what) = match facts.category {
        LeadCategory::PastBuyer => (25, "bought before"),
        LeadCategory::Comparing => (20, "comparing offers: knows what they want"),
        LeadCategory::Unaware => (5, "not yet aware of the need"),
    };
    add("CATEGORY", points, what.to_owned());

    let points = match facts.source {
        AcquisitionSource::Referral => 20,
        AcquisitionSource::Partner => 14,
        AcquisitionSource::Event | AcquisitionSource::WalkIn => 12,
        AcquisitionSource::Website => 10,
        AcquisitionSource::Social | AcquisitionSource::Advertising => 6,
        AcquisitionSource::Import | AcquisitionSource::Other => 4,
        AcquisitionSource::ColdOutreach => 2,
    };
    add("SOURCE", points, format!("came through {}", format!("{:?}", facts.source).to_lowercase()));

    let contact = if facts.has_email { 3 } else { 0 } + if facts.has_phone { 2 } else { 0 };
    add("CONTACT", contact, format!("email {}, phone {}", known(facts.has_email), known(facts.has_phone)));

    let profile = (15 * facts.profile_known).checked_div(facts.profile_total).unwrap_or(0) as i32;
    add("PROFILE", profile, format!("{} of {} profile facts known", facts.profile_known, facts.profile_total));

    let engagement = (6 * facts.inbound + 3 * facts.answered_outbound).min(MAX_ENGAGEMENT) as i32;
    add(
        "ENGAGEMENT",
        engagement,
        format!("{} inbound contacts, {} answered outreach", facts.inbound, facts.answered_outbound),
    );

    let idle_days = (facts.now - facts.last_activity).num_days().max(0);
    let recency = match idle_days {
        0..=7 => 15,
        8..=30 => 8,
        31..=90 => 3,
        _ => 0,
    };
    add("RECENCY", recency, format!("last activity {idle_days} days ago"));

    let value = reasons.iter().map(|r| r.points).sum::<i32>().clamp(0, 100);
    let priority = match value {
        75.. => Priority::Urgent,
        55..=74 => Priority::High,
        30..=54 => Priority::Normal,
        _ => Priority::Low,
    };
    LeadScore { value, priority, reasons }
}

fn known(present: bool) -> &'static str {
    if present { "known" } else { "missing" }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn facts() -> LeadFacts {
        let now = Utc::now();
        LeadFacts {
            category: LeadCategory::Unaware,
            source: AcquisitionSource::ColdOutreach,
            has_email: false,
            has_phone: false,
            profile_known: 0,
            profile_total: 11,
            inbound: 0,
            answered_outbound: 0,
            last_activity: now - Duration::days(200),
            now,
        }
    }

    #[test]
    fn a_cold_unknown_lead_scores_low_and_says_why() {
        let s = score(&facts());
        assert_eq!(s.value, 7);
        assert_eq!(s.priority, Priority::Low);
        assert_eq!(s.reasons.len(), 6);
        assert_eq!(s.reasons.iter().map(|r| r.points).sum::<i32>(), s.value);
    }

    #[test]
    fn a_warm_referred_engaged_lead_scores_high() {
        let now = Utc::now();
        let s = score(&LeadFacts {
            category: LeadCategory::Comparing,
            source: AcquisitionSource::Referral,
            has_email: true,
            has_phone: true,
            profile_known: 11,
            profile_total: 11,
            inbound: 2,
            answered_outbound: 5,
            last_activity: now - Duration::days(1),
            now,
        });
        assert_eq!(s.value, 20 + 20 + 5 + 15 + 20 + 15);
        assert_eq!(s.priority, Priority::Urgent);
    }

    #[test]
    fn engagement_is_capped_and_recency_decays() {
        let mut f = facts();
        f.inbound = 100;
        let engaged = score(&f);
        assert_eq!(engaged.reasons.iter().find(|r| r.rule == "ENGAGEMENT").unwrap().points, 20);
        f.last_activity = f.now - Duration::days(20);
        assert_eq!(score(&f).value - engaged.value, 8);
    }
}
