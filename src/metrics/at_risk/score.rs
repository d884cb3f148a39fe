//! At-risk early warning (docs/metrics.md §8): which customers are slipping away, how likely, and why.
//! Pure: the caller gathers each customer's signals.
//!
//! Every reason has a weight in (0, 1); the score is `1 − Π(1 − weight)` over the reasons found,
//! shown as 0–100, so independent warnings compound and none but a P(alive) near 0 reaches 100 on
//! its own. The weights:
//!
//! | reason | when | weight |
//! |---|---|---|
//! | `LOW_PROBABILITY_ALIVE` | a repeat buyer's BG/NBD P(alive) today is below `atRiskProbabilityAliveBelow` | 1 − P(alive) |
//! | `OVERDUE` | days since the last order exceed `atRiskGapFactor` × the expected gap | 0.5 |
//! | `BREACHED_COMPLAINT` | an open complaint missed its SLA | 0.5 |
//! | `OPEN_COMPLAINT` | open complaints (none breached) | 0.3 |
//! | `LOW_SATISFACTION` | CSAT ≤ `atRiskCsatMax`, NPS ≤ `atRiskNpsMax` or a ticket rated ≤ `atRiskCsatMax` within the activity window | 0.4 |
//! | `HARD_TO_REACH` | most recent outbound contact attempts unanswered or bounced | 0.3 |
//! | `NO_RECENT_CONTACT` | no conversation for `atRiskNoContactDays` (0 = off) | 0.15 |
//!
//! The expected gap is the customer's own mean gap between orders with three or more orders, the
//! workspace's median gap with one order, and halfway between with two: P(alive) is 1 for every
//! one-time buyer by construction, so they are judged on the gap alone (docs/metrics.md §8).

use serde::{Deserialize, Serialize};

use crate::{
    customers::lifecycle::{Complaints, Reachability},
    workspaces::settings::WorkspaceSettings,
};

#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RiskReason {
    /// The BG/NBD probability that this repeat buyer is still a customer is below the threshold.
    LowProbabilityAlive,
    /// The customer is late for their next order, measured against their expected gap.
    Overdue,
    /// An open complaint missed its SLA.
    BreachedComplaint,
    /// Open complaints.
    OpenComplaint,
    /// A low CSAT or NPS answer, or a low ticket rating, within the activity window.
    LowSatisfaction,
    /// Most recent outbound contact attempts went unanswered or bounced.
    HardToReach,
    /// No conversation with the customer for a while.
    NoRecentContact,
}

impl RiskReason {
    pub const ALL: [RiskReason; 7] = [
        RiskReason::LowProbabilityAlive,
        RiskReason::Overdue,
        RiskReason::BreachedComplaint,
        RiskReason::OpenComplaint,
        RiskReason::LowSatisfaction,
        RiskReason::HardToReach,
        RiskReason::NoRecentContact,
    ];

    /// The reason's bit in a stored mask.
    pub fn bit(self) -> i32 {
        1 << (RiskReason::ALL.iter().position(|r| *r == self).unwrap_or(0) as i32)
    }

    /// Reasons the lifecycle rules cannot see from a single change (they need the fitted model,
    /// the workspace's median gap, feedback or contact history): those keep a customer AT_RISK
    /// between assessments.
    pub fn needs_assessment(self) -> bool {
        matches!(
            self,
            RiskReason::LowProbabilityAlive
                | RiskReason::Overdue
                | RiskReason::LowSatisfaction
                | RiskReason::NoRecentContact
        )
    }
}

/// One reason found, with its weight and a sentence for people.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, async_graphql::SimpleObject)]
pub struct Finding {
    pub reason: RiskReason,
    /// Its contribution: the score is 1 − Π(1 − weight).
    pub weight: f64,
    pub detail: String,
}

/// What is known about one customer with orders.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Signals {
    pub order_count: i32,
    pub days_since_first_order: i64,
    pub days_since_last_order: i64,
    /// Repeat purchase days (BG/NBD x) and P(alive) today, when a fit exists.
    pub repeat_purchase_days: Option<u32>,
    pub probability_alive: Option<f64>,
    pub complaints: Complaints,
    pub reachability: Reachability,
    /// Lowest NPS and CSAT answers within the activity window.
    pub worst_recent_nps: Option<i32>,
    pub worst_recent_csat: Option<i32>,
    /// Days since the last conversation (inbound, or an outbound contact that reached them).
    pub days_since_contact: Option<i64>,
}

/// The workspace's thresholds and the median gap between orders of its repeat customers.
#[derive(Clone, Debug)]
pub struct Rules<'a> {
    pub settings: &'a WorkspaceSettings,
    pub median_gap_days: Option<f64>,
}

/// Score 0–100 and the reasons behind it (none: not at risk).
#[derive(Clone, Debug, PartialEq)]
pub struct Assessment {
    pub score: i32,
    pub findings: Vec<Finding>,
}

impl Assessment {
    pub fn reason_mask(&self) -> i32 {
        self.findings.iter().fold(0, |mask, f| mask | f.reason.bit())
    }
}

/// The expected days between orders: own rhythm with ≥ 3 orders, the workspace median with one,
/// halfway between with two; at least a day.
pub fn expected_gap(order_count: i32, days_first_to_last: i64, median_gap_days: Option<f64>) -> Option<f64> {
    let own = (order_count >= 2).then(|| days_first_to_last as f64 / f64::from(order_count - 1));
    let gap = match (own, median_gap_days) {
        (Some(own), _) if order_count >= 3 => own,
        (Some(own), Some(median)) => (own + median) / 2.0,
        (Some(own), None) => own,
        (None, median) => median?,
    };
    Some(gap.max(1.0))
}

pub fn assess(s: &Signals, rules: &Rules<'_>) -> Assessment {
    let settings = rules.settings;
    let mut findings = Vec::new();
    let mut found = |reason, weight: f64, detail: String| findings.push(Finding { reason, weight, detail });
    if let (Some(x), Some(alive)) = (s.repeat_purchase_days, s.probability_alive)
        && x >= 1
        && alive < settings.at_risk_probability_alive_below
    {
        found(
            RiskReason::LowProbabilityAlive,
            1.0 - alive,
            format!("{:.0} % chance of still being a customer (BG/NBD, {x} repeat purchase days)", alive * 100.0),
        );
    }
    let span = s.days_since_first_order - s.days_since_last_order;
    if let Some(gap) = expected_gap(s.order_count, span, rules.median_gap_days)
        && s.days_since_last_order as f64 > settings.at_risk_gap_factor as f64 * gap
    {
        let basis = match s.order_count {
            1 => "the workspace's median gap, after one order".to_owned(),
            2 => "between their own and the workspace's median, after two orders".to_owned(),
            n => format!("their own rhythm over {n} orders"),
        };
        found(
            RiskReason::Overdue,
            0.5,
            format!("{} days since the last order; expected every {gap:.0} days ({basis})", s.days_since_last_order),
        );
    }
    let c = s.complaints;
    if c.open_breached > 0 {
        found(
            RiskReason::BreachedComplaint,
            0.5,
            format!("{} open complaint(s), {} past SLA", c.open, c.open_breached),
        );
    } else if c.open > 0 {
        found(RiskReason::OpenComplaint, 0.3, format!("{} open complaint(s)", c.open));
    }
    let mut unhappy = Vec::new();
    if let Some(nps) = s.worst_recent_nps.filter(|n| *n <= settings.at_risk_nps_max) {
        unhappy.push(format!("NPS {nps}/10"));
    }
    if let Some(csat) = s.worst_recent_csat.filter(|n| *n <= settings.at_risk_csat_max) {
        unhappy.push(format!("CSAT {csat}/5"));
    }
    if let Some(rating) = c.worst_recent_rating.filter(|n| *n <= settings.at_risk_csat_max) {
        unhappy.push(format!("rated a resolved complaint {rating}/5"));
    }
    if !unhappy.is_empty() {
        found(RiskReason::LowSatisfaction, 0.4, format!("recently: {}", unhappy.join(", ")));
    }
    let r = s.reachability;
    if r.hard_to_reach(settings) {
        found(
            RiskReason::HardToReach,
            0.3,
            format!("{} of {} recent contact attempts unanswered", r.unanswered, r.attempts),
        );
    }
    let quiet_days = settings.at_risk_no_contact_days;
    if quiet_days > 0 && s.days_since_first_order > quiet_days {
        match s.days_since_contact {
            Some(days) if days > quiet_days => {
                found(RiskReason::NoRecentContact, 0.15, format!("no conversation for {days} days"))
            }
            None => found(RiskReason::NoRecentContact, 0.15, "never spoken to".to_owned()),
            _ => {}
        }
    }
    let kept = findings.iter().fold(1.0, |kept, f| kept * (1.0 - f.weight.clamp(0.0, 1.0)));
    Assessment { score: ((1.0 - kept) * 100.0).round() as i32, findings }
}

/// The median of `values` (unsorted); `None` when empty.
pub fn median(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        n if n % 2 == 1 => Some(values[n / 2]),
        n => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(settings: &WorkspaceSettings) -> Rules<'_> {
        Rules { settings, median_gap_days: Some(30.0) }
    }

    fn regular(order_count: i32, first: i64, last: i64) -> Signals {
        Signals { order_count, days_since_first_order: first, days_since_last_order: last, ..Signals::default() }
    }

    #[test]
    fn the_expected_gap_shrinks_toward_the_median_for_few_orders() {
        assert_eq!(expected_gap(1, 0, Some(30.0)), Some(30.0));
        assert_eq!(expected_gap(2, 10, Some(30.0)), Some(20.0));
        assert_eq!(expected_gap(3, 100, Some(30.0)), Some(50.0));
        assert_eq!(expected_gap(1, 0, None), None, "no repeat customers in the workspace: no yardstick");
        assert_eq!(expected_gap(2, 0, None), Some(1.0), "two orders on one day: at least a day");
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }

    #[test]
    fn reasons_compound_and_each_says_why() {
        let settings = WorkspaceSettings::default();
        let rules = rules(&settings);
        // Three orders 50 days apart on average, the last 101 days ago: overdue (2 × 50).
        let late = assess(&regular(3, 201, 101), &rules);
        assert_eq!(late.score, 50);
        assert_eq!(late.findings[0].reason, RiskReason::Overdue);
        assert!(late.findings[0].detail.contains("101 days"), "{}", late.findings[0].detail);
        assert!(assess(&regular(3, 200, 100), &rules).findings.is_empty(), "exactly 2 × the gap is not late yet");
        // A one-time buyer is judged on the workspace median (30 days): late after 60.
        assert_eq!(assess(&regular(1, 61, 61), &rules).findings[0].reason, RiskReason::Overdue);
        // P(alive) 1 (x = 0) never clears nor flags; 0.2 for a repeat buyer weighs 0.8.
        let fading = Signals { repeat_purchase_days: Some(2), probability_alive: Some(0.2), ..regular(3, 100, 10) };
        let a = assess(&fading, &rules);
        assert_eq!((a.score, a.findings.len()), (80, 1));
        let one_time = Signals { repeat_purchase_days: Some(0), probability_alive: Some(0.2), ..regular(1, 5, 5) };
        assert!(assess(&one_time, &rules).findings.is_empty());
        // A breached complaint and a detractor: 1 − 0.5 × 0.6 = 0.7.
        let upset = Signals {
            complaints: Complaints { open: 2, open_breached: 1, worst_recent_rating: None },
            worst_recent_nps: Some(3),
            worst_recent_csat: Some(5),
            ..regular(4, 90, 3)
        };
        let a = assess(&upset, &rules);
        assert_eq!(a.score, 70);
        assert_eq!(
            a.findings.iter().map(|f| f.reason).collect::<Vec<_>>(),
            [RiskReason::BreachedComplaint, RiskReason::LowSatisfaction]
        );
        assert_eq!(a.findings[1].detail, "recently: NPS 3/10");
        assert_eq!(a.reason_mask(), RiskReason::BreachedComplaint.bit() | RiskReason::LowSatisfaction.bit());
    }

    #[test]
    fn no_contact_is_off_by_default_and_waits_for_the_customer_to_be_old_enough() {
        let mut settings = WorkspaceSettings::default();
        let quiet = Signals { days_since_contact: None, ..regular(5, 400, 10) };
        assert!(assess(&quiet, &rules(&settings)).findings.is_empty());
        settings.at_risk_no_contact_days = 60;
        assert_eq!(assess(&quiet, &rules(&settings)).findings[0].detail, "never spoken to");
        let talked = Signals { days_since_contact: Some(20), ..quiet };
        assert!(assess(&talked, &rules(&settings)).findings.is_empty());
        let new = Signals { days_since_contact: None, ..regular(1, 30, 30) };
        assert!(assess(&new, &rules(&settings)).findings.is_empty(), "a month-old customer is not out of touch");
    }
}
