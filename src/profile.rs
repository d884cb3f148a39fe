//! The person profile shared by leads and customers: geographic, demographic, psychographic and
//! behavioural facts. One input and one output type, applied to either table by macro because
//! the two entities have the same profile columns.

use async_graphql::{InputObject, MaybeUndefined, SimpleObject};
use entity::enums::{AgeBand, Channel, IncomeBand};

#[derive(SimpleObject, Clone, Debug, Default)]
pub struct Profile {
    pub city: Option<String>,
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2 code.
    pub country: Option<String>,
    pub age_band: Option<AgeBand>,
    pub gender: Option<String>,
    pub income_band: Option<IncomeBand>,
    pub occupation: Option<String>,
    pub interests: Vec<String>,
    /// E.g. a DISC or MBTI type: how to talk to them.
    pub personality_type: Option<String>,
    pub preferred_channel: Option<Channel>,
    /// Free text: "prefers short calls after 6pm".
    pub interaction_style: Option<String>,
}

/// Profile changes: an absent field is kept, `null` clears it.
#[derive(InputObject, Clone, Debug, Default)]
pub struct ProfileInput {
    pub city: MaybeUndefined<String>,
    pub region: MaybeUndefined<String>,
    pub country: MaybeUndefined<String>,
    pub age_band: MaybeUndefined<AgeBand>,
    pub gender: MaybeUndefined<String>,
    pub income_band: MaybeUndefined<IncomeBand>,
    pub occupation: MaybeUndefined<String>,
    pub interests: MaybeUndefined<Vec<String>>,
    pub personality_type: MaybeUndefined<String>,
    pub preferred_channel: MaybeUndefined<Channel>,
    pub interaction_style: MaybeUndefined<String>,
}

/// Builds a [`Profile`] from any model with the profile columns.
#[macro_export]
macro_rules! profile_of {
    ($model:expr) => {{
        let m = $model;
        $crate::profile::Profile {
            city: m.city.clone(),
            region: m.region.clone(),
            country: m.country.clone(),
            age_band: m.age_band,
            gender: m.gender.clone(),
            income_band: m.income_band,
            occupation: m.occupation.clone(),
            interests: serde_json::from_value(m.interests.clone()).unwrap_or_default(),
            personality_type: m.personality_type.clone(),
            preferred_channel: m.preferred_channel,
            interaction_style: m.interaction_style.clone(),
        }
    }};
}

/// Applies a [`ProfileInput`] to any active model with the profile columns.
#[macro_export]
macro_rules! apply_profile {
    ($active:expr, $input:expr) => {{
        use sea_orm::ActiveValue::Set;
        let input: $crate::profile::ProfileInput = $input;
        let active = &mut $active;
        if let Some(v) = $crate::profile::text_change(input.city) {
            active.city = Set(v);
        }
        if let Some(v) = $crate::profile::text_change(input.region) {
            active.region = Set(v);
        }
        if let Some(v) = $crate::profile::text_change(input.country).map(|c| c.map(|c| c.to_ascii_uppercase())) {
            active.country = Set(v);
        }
        if let Some(v) = $crate::profile::value_change(input.age_band) {
            active.age_band = Set(v);
        }
        if let Some(v) = $crate::profile::text_change(input.gender) {
            active.gender = Set(v);
        }
        if let Some(v) = $crate::profile::value_change(input.income_band) {
            active.income_band = Set(v);
        }
        if let Some(v) = $crate::profile::text_change(input.occupation) {
            active.occupation = Set(v);
        }
        if let Some(v) = $crate::profile::interests_change(input.interests) {
            active.interests = Set(v);
        }
        if let Some(v) = $crate::profile::text_change(input.personality_type) {
            active.personality_type = Set(v);
        }
        if let Some(v) = $crate::profile::value_change(input.preferred_channel) {
            active.preferred_channel = Set(v);
        }
        if let Some(v) = $crate::profile::text_change(input.interaction_style) {
            active.interaction_style = Set(v);
        }
    }};
}

/// `None`: keep; `Some(None)`: clear; `Some(Some(v))`: set.
pub fn value_change<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

/// `None`: keep; `Some(None)`: clear (null or blank); `Some(Some(text))`: set, trimmed.
pub fn text_change(value: MaybeUndefined<String>) -> Option<Option<String>> {
    value_change(value).map(|v| v.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()))
}

/// Interests as a JSON array: trimmed, de-duplicated, blanks dropped.
pub fn interests_change(value: MaybeUndefined<Vec<String>>) -> Option<serde_json::Value> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(serde_json::json!([])),
        MaybeUndefined::Value(list) => {
            let mut clean: Vec<String> = list.iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
            clean.sort();
            clean.dedup();
            Some(serde_json::json!(clean))
        }
    }
}

/// How many of the profile's facts are known, out of how many (for lead scoring).
pub fn completeness(profile: &Profile) -> (usize, usize) {
    let known = [
        profile.city.is_some(),
        profile.region.is_some(),
        profile.country.is_some(),
        profile.age_band.is_some(),
        profile.gender.is_some(),
        profile.income_band.is_some(),
        profile.occupation.is_some(),
        !profile.interests.is_empty(),
        profile.personality_type.is_some(),
        profile.preferred_channel.is_some(),
        profile.interaction_style.is_some(),
    ];
    (known.iter().filter(|k| **k).count(), known.len())
}
