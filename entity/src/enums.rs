//! Enums shared by several tables. Stored as their SCREAMING_SNAKE names in text columns.

use sea_orm::entity::prelude::*;

/// Urgency of a lead or ticket.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum Priority {
    #[sea_orm(string_value = "LOW")]
    Low,
    #[sea_orm(string_value = "NORMAL")]
    Normal,
    #[sea_orm(string_value = "HIGH")]
    High,
    #[sea_orm(string_value = "URGENT")]
    Urgent,
}

/// A way of being in touch with a person.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum Channel {
    #[sea_orm(string_value = "PHONE")]
    Phone,
    #[sea_orm(string_value = "EMAIL")]
    Email,
    #[sea_orm(string_value = "SMS")]
    Sms,
    #[sea_orm(string_value = "CHAT")]
    Chat,
    #[sea_orm(string_value = "WEB_FORM")]
    WebForm,
    #[sea_orm(string_value = "SOCIAL")]
    Social,
    #[sea_orm(string_value = "IN_PERSON")]
    InPerson,
}

/// Where a lead (and so the customer it became) came from.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
pub enum AcquisitionSource {
    #[sea_orm(string_value = "WEBSITE")]
    Website,
    #[sea_orm(string_value = "REFERRAL")]
    Referral,
    #[sea_orm(string_value = "SOCIAL")]
    Social,
    #[sea_orm(string_value = "ADVERTISING")]
    Advertising,
    #[sea_orm(string_value = "EVENT")]
    Event,
    #[sea_orm(string_value = "PARTNER")]
    Partner,
    #[sea_orm(string_value = "WALK_IN")]
    WalkIn,
    #[sea_orm(string_value = "COLD_OUTREACH")]
    ColdOutreach,
    #[sea_orm(string_value = "IMPORT")]
    Import,
    #[sea_orm(string_value = "OTHER")]
    Other,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum AgeBand {
    #[sea_orm(string_value = "UNDER_18")]
    #[cfg_attr(feature = "graphql", graphql(name = "UNDER_18"))]
    Under18,
    #[sea_orm(string_value = "AGE_18_24")]
    #[cfg_attr(feature = "graphql", graphql(name = "AGE_18_24"))]
    Age18To24,
    #[sea_orm(string_value = "AGE_25_34")]
    #[cfg_attr(feature = "graphql", graphql(name = "AGE_25_34"))]
    Age25To34,
    #[sea_orm(string_value = "AGE_35_44")]
    #[cfg_attr(feature = "graphql", graphql(name = "AGE_35_44"))]
    Age35To44,
    #[sea_orm(string_value = "AGE_45_54")]
    #[cfg_attr(feature = "graphql", graphql(name = "AGE_45_54"))]
    Age45To54,
    #[sea_orm(string_value = "AGE_55_64")]
    #[cfg_attr(feature = "graphql", graphql(name = "AGE_55_64"))]
    Age55To64,
    #[sea_orm(string_value = "AGE_65_PLUS")]
    #[cfg_attr(feature = "graphql", graphql(name = "AGE_65_PLUS"))]
    Age65Plus,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum IncomeBand {
    #[sea_orm(string_value = "LOW")]
    Low,
    #[sea_orm(string_value = "LOWER_MIDDLE")]
    LowerMiddle,
    #[sea_orm(string_value = "MIDDLE")]
    Middle,
    #[sea_orm(string_value = "UPPER_MIDDLE")]
    UpperMiddle,
    #[sea_orm(string_value = "HIGH")]
    High,
}
