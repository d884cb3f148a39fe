//! Per-workspace rules, stored as JSON on the workspace; every field has a default, so older
//! rows and partial updates keep working.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, async_graphql::SimpleObject)]
#[serde(default, rename_all = "camelCase")]
pub struct WorkspaceSettings {
    /// A customer is active with a completed order in the last this many days (docs/metrics.md "W").
    pub activity_window_days: i64,
    /// With no completed order for this many days a customer is DORMANT.
    pub dormant_after_days: i64,
    /// LOYAL needs at least this many completed orders …
    pub loyal_min_orders: i32,
    /// … spanning at least this many days (first to last), and an order within the window.
    pub loyal_min_span_days: i64,
    /// AT_RISK when the days since the last order exceed this many times the customer's usual gap.
    pub at_risk_gap_factor: i64,
    /// "Hard to reach": at least this many outbound attempts in the window …
    pub hard_to_reach_min_attempts: i64,
    /// … of which at least this percentage got no answer or bounced.
    pub hard_to_reach_percent: i64,
    /// THANK_YOU follow-ups are due this many hours after an order.
    pub thank_you_delay_hours: i64,
    /// POST_PURCHASE_SURVEY follow-ups are due this many days after an order.
    pub survey_delay_days: i64,
    /// CHECK_IN when the last order is this many days old (and the customer not yet dormant).
    pub check_in_after_days: i64,
    /// BIRTHDAY and ANNIVERSARY greetings are due this many days before the date.
    pub greeting_days_before: i64,
    /// Orders older than this many days get no thank-you or survey (first runs on old data).
    pub follow_up_lookback_days: i64,
    /// A closed ticket can be reopened for this many days; after that a new one is filed.
    pub ticket_reopen_window_days: i64,
    /// A CSAT score at or below this on a recent ticket or survey is an at-risk signal.
    pub at_risk_csat_max: i32,
    /// An NPS answer at or below this within the activity window is an at-risk signal (6: detractors).
    pub at_risk_nps_max: i32,
    /// A repeat buyer whose BG/NBD probability of still being a customer is below this is at risk.
    pub at_risk_probability_alive_below: f64,
    /// No conversation with a customer for this many days is an at-risk signal; 0 turns it off.
    pub at_risk_no_contact_days: i64,
    /// Open a loyalty account automatically when a lead converts and at a customer's first order.
    pub loyalty_auto_enroll: bool,
    /// Points earned per whole unit of the workspace currency (before the tier multiplier).
    pub points_per_currency_unit: i64,
    /// How fractional points of a purchase are rounded.
    pub points_rounding: PointsRounding,
    /// Whether a reversal may take the balance below zero; otherwise what cannot be taken back
    /// becomes debt, netted from future earnings.
    pub allow_negative_balance: bool,
    /// Points granted once to the customer of a complaint whose SLA was breached; 0 turns it off.
    pub goodwill_points_on_breach: i64,
    /// Earned points expire this many months after they were earned (oldest spent first); 0 = never.
    pub points_expiry_months: u32,
    /// Purchase points become spendable this many days after the order (returns window); 0 = at once.
    pub points_pending_days: i64,
    /// Bonus points on a customer's first completed order; 0 = off.
    pub first_purchase_bonus_points: i64,
    /// Bonus points once a year in the customer's birthday month (granted by the daily job); 0 = off.
    pub birthday_bonus_points: i64,
    /// Bonus points for giving feedback (NPS, CSAT, "why us?"), once per feedback; 0 = off.
    pub feedback_bonus_points: i64,
    /// What counts towards a tier: all points ever earned, or those earned in the last 12 months.
    pub tier_qualification: TierQualification,
    /// When an account that no longer qualifies for its tier moves down.
    pub tier_downgrade: TierDowngrade,
    /// For `AFTER_DAYS_BELOW`: how many days below the threshold before moving down.
    pub tier_downgrade_days: i64,
    /// Points for the referrer when the referee's first order is approved; 0 = none.
    pub referrer_points: i64,
    /// Points for the referee at the same moment; 0 = none.
    pub referee_points: i64,
    /// Days a referee's first order must survive (not refunded or cancelled) before rewards are paid.
    pub referral_approval_days: i64,
    /// Gross margin in percent for margin-based CLV; 0 = not set.
    pub gross_margin_percent: i64,
    /// Average customer lifespan in years for historical CLV; 0 = derived as 1 / annual churn.
    pub customer_lifespan_years: f64,
    /// What 100 points are worth in minor units of the workspace currency (for the points liability).
    pub value_per_100_points_minor: i64,
    /// The background job refits the predictive models on the orders up to yesterday when the
    /// newest fit is this many days old (or there is none); 0 = only on demand.
    pub prediction_refit_days: i64,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TierQualification {
    /// Lifetime points (never decrease, so tiers are kept for good).
    Lifetime,
    /// Points earned in the last 12 months, net of reversals.
    RollingYear,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TierDowngrade {
    /// A tier once reached is kept.
    Never,
    /// Re-evaluated at the end of each 12-month qualification period counted from when the tier was reached.
    EndOfPeriod,
    /// Moved down after `tierDowngradeDays` days in a row below the tier's threshold.
    AfterDaysBelow,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PointsRounding {
    Down,
    Nearest,
    Up,
}

impl Default for WorkspaceSettings {
    fn default() -> Self {
        WorkspaceSettings {
            activity_window_days: 90,
            dormant_after_days: 90,
            loyal_min_orders: 3,
            loyal_min_span_days: 90,
            at_risk_gap_factor: 2,
            hard_to_reach_min_attempts: 3,
            hard_to_reach_percent: 50,
            thank_you_delay_hours: 24,
            survey_delay_days: 7,
            check_in_after_days: 60,
            greeting_days_before: 1,
            follow_up_lookback_days: 14,
            ticket_reopen_window_days: 7,
            at_risk_csat_max: 2,
            at_risk_nps_max: 6,
            at_risk_probability_alive_below: 0.5,
            at_risk_no_contact_days: 0,
            loyalty_auto_enroll: true,
            points_per_currency_unit: 1,
            points_rounding: PointsRounding::Down,
            allow_negative_balance: false,
            goodwill_points_on_breach: 0,
            points_expiry_months: 0,
            points_pending_days: 0,
            first_purchase_bonus_points: 0,
            birthday_bonus_points: 0,
            feedback_bonus_points: 0,
            tier_qualification: TierQualification::Lifetime,
            tier_downgrade: TierDowngrade::Never,
            tier_downgrade_days: 30,
            referrer_points: 0,
            referee_points: 0,
            referral_approval_days: 0,
            gross_margin_percent: 0,
            customer_lifespan_years: 0.0,
            value_per_100_points_minor: 100,
            prediction_refit_days: 7,
        }
    }
}

/// Up to ten years, for settings counted in days.
const DAYS: std::ops::RangeInclusive<i64> = 0..=3650;
const POINTS: std::ops::RangeInclusive<i64> = 0..=crate::loyalty::service::MAX_POINTS;

/// The allowed range of every numeric setting, by its API (camelCase) name: the one table the
/// update checks and the README documents. Booleans and enums need none.
macro_rules! setting_ranges {
    ($settings:expr, $name:expr, { $($api:literal: $field:ident in $range:expr),* $(,)? }) => {
        match $name {
            $($api => {
                let range = $range;
                (!range.contains(&$settings.$field)).then(|| {
                    format!("must be from {} to {}", range.start(), range.end())
                })
            })*
            _ => None,
        }
    };
}

impl WorkspaceSettings {
    /// Reads settings, falling back to defaults for anything missing or malformed.
    pub fn from_json(value: &serde_json::Value) -> Self {
        serde_json::from_value(value.clone()).unwrap_or_default()
    }

    /// Why the setting `name` (camelCase) is out of its range, if it is.
    pub fn out_of_range(&self, name: &str) -> Option<String> {
        setting_ranges!(self, name, {
            "activityWindowDays": activity_window_days in 1..=3650,
            "dormantAfterDays": dormant_after_days in 1..=3650,
            "loyalMinOrders": loyal_min_orders in 1..=10_000,
            "loyalMinSpanDays": loyal_min_span_days in DAYS,
            "atRiskGapFactor": at_risk_gap_factor in 1..=100,
            "hardToReachMinAttempts": hard_to_reach_min_attempts in 1..=1_000,
            "hardToReachPercent": hard_to_reach_percent in 0..=100,
            "thankYouDelayHours": thank_you_delay_hours in 0..=8_760,
            "surveyDelayDays": survey_delay_days in 0..=365,
            "checkInAfterDays": check_in_after_days in 1..=3650,
            "greetingDaysBefore": greeting_days_before in 0..=365,
            "followUpLookbackDays": follow_up_lookback_days in DAYS,
            "ticketReopenWindowDays": ticket_reopen_window_days in DAYS,
            "atRiskCsatMax": at_risk_csat_max in 0..=5,
            "atRiskNpsMax": at_risk_nps_max in 0..=10,
            "atRiskProbabilityAliveBelow": at_risk_probability_alive_below in 0.0..=1.0,
            "atRiskNoContactDays": at_risk_no_contact_days in DAYS,
            "pointsPerCurrencyUnit": points_per_currency_unit in 0..=10_000,
            "goodwillPointsOnBreach": goodwill_points_on_breach in POINTS,
            "pointsExpiryMonths": points_expiry_months in 0..=1_200,
            "pointsPendingDays": points_pending_days in DAYS,
            "firstPurchaseBonusPoints": first_purchase_bonus_points in POINTS,
            "birthdayBonusPoints": birthday_bonus_points in POINTS,
            "feedbackBonusPoints": feedback_bonus_points in POINTS,
            "tierDowngradeDays": tier_downgrade_days in 1..=3650,
            "referrerPoints": referrer_points in POINTS,
            "refereePoints": referee_points in POINTS,
            "referralApprovalDays": referral_approval_days in DAYS,
            "grossMarginPercent": gross_margin_percent in 0..=100,
            "customerLifespanYears": customer_lifespan_years in 0.0..=100.0,
            "valuePer100PointsMinor": value_per_100_points_minor in 0..=crate::money::MAX_MINOR,
            "predictionRefitDays": prediction_refit_days in DAYS,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_settings_keep_defaults() {
        let settings = WorkspaceSettings::from_json(&serde_json::json!({ "activityWindowDays": 30 }));
        assert_eq!(settings.activity_window_days, 30);
        assert_eq!(settings.loyal_min_orders, 3);
        assert_eq!(WorkspaceSettings::from_json(&serde_json::json!("garbage")), WorkspaceSettings::default());
    }

    #[test]
    fn every_numeric_setting_has_a_range_the_defaults_are_in() {
        let defaults = WorkspaceSettings::default();
        let names = serde_json::to_value(&defaults).unwrap();
        for (name, value) in names.as_object().unwrap() {
            assert_eq!(defaults.out_of_range(name), None, "{name}");
            if value.is_number() {
                // The largest value of the setting's type that parses.
                let candidates = [
                    serde_json::json!(1e308),
                    serde_json::json!(i64::MAX),
                    serde_json::json!(u32::MAX),
                    serde_json::json!(i32::MAX),
                ];
                let settings = candidates
                    .iter()
                    .find_map(|huge| {
                        let mut patched = names.clone();
                        patched[name] = huge.clone();
                        serde_json::from_value::<WorkspaceSettings>(patched).ok()
                    })
                    .unwrap();
                assert!(settings.out_of_range(name).is_some(), "{name} has no upper bound");
            }
        }
    }
}
