//! Typed filter operators shared by every connection's filter input.

use super::{AppResult, ids::parse_id};
use crate::money;
use async_graphql::{ID, InputObject, InputType};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sea_orm::{
    ColumnTrait, Condition, ExprTrait,
    sea_query::{Expr, Func, LikeExpr},
};

#[derive(InputObject, Clone, Debug, Default)]
pub struct StringFilter {
    pub eq: Option<String>,
    #[graphql(name = "in")]
    pub one_of: Option<Vec<String>>,
    /// Case-insensitive substring match.
    pub contains: Option<String>,
}

impl StringFilter {
    pub fn condition<C: ColumnTrait>(&self, column: C) -> Condition {
        let mut all = eq_or_in(column, self.eq.as_ref(), self.one_of.as_deref());
        if let Some(needle) = &self.contains {
            let pattern = format!("%{}%", escape_like(&needle.to_lowercase()));
            all = all.add(Expr::expr(Func::lower(Expr::col(column))).like(LikeExpr::new(pattern).escape('\\')));
        }
        all
    }
}

#[derive(InputObject, Clone, Debug, Default)]
pub struct DateTimeFilter {
    pub gte: Option<DateTime<Utc>>,
    pub lt: Option<DateTime<Utc>>,
    pub lte: Option<DateTime<Utc>>,
    pub gt: Option<DateTime<Utc>>,
}

impl DateTimeFilter {
    pub fn condition<C: ColumnTrait>(&self, column: C) -> Condition {
        let mut all = Condition::all();
        if let Some(v) = self.gte {
            all = all.add(column.gte(v));
        }
        if let Some(v) = self.gt {
            all = all.add(column.gt(v));
        }
        if let Some(v) = self.lte {
            all = all.add(column.lte(v));
        }
        if let Some(v) = self.lt {
            all = all.add(column.lt(v));
        }
        all
    }
}

/// A whole-number range (bounds inclusive).
#[derive(InputObject, Clone, Debug, Default)]
pub struct IntFilter {
    pub eq: Option<i64>,
    pub gte: Option<i64>,
    pub lte: Option<i64>,
}

impl IntFilter {
    pub fn condition<C: ColumnTrait>(&self, column: C) -> Condition {
        let mut all = Condition::all();
        if let Some(v) = self.eq {
            all = all.add(column.eq(v));
        }
        if let Some(v) = self.gte {
            all = all.add(column.gte(v));
        }
        if let Some(v) = self.lte {
            all = all.add(column.lte(v));
        }
        all
    }
}

/// A money range in the workspace currency (bounds inclusive), compared in minor units.
#[derive(InputObject, Clone, Debug, Default)]
pub struct MoneyFilter {
    pub gte: Option<Decimal>,
    pub lte: Option<Decimal>,
}

impl MoneyFilter {
    pub fn condition<C: ColumnTrait>(&self, column: C, currency: &str, field: &str) -> AppResult<Condition> {
        let mut all = Condition::all();
        if let Some(v) = self.gte {
            all = all.add(column.gte(money::to_minor(v, currency, &format!("{field}.gte"))?));
        }
        if let Some(v) = self.lte {
            all = all.add(column.lte(money::to_minor(v, currency, &format!("{field}.lte"))?));
        }
        Ok(all)
    }
}

/// `eq` / `in` on an id column (`isNull` for optional references).
#[derive(InputObject, Clone, Debug, Default)]
pub struct IdFilter {
    pub eq: Option<ID>,
    #[graphql(name = "in")]
    pub one_of: Option<Vec<ID>>,
    pub is_null: Option<bool>,
}

impl IdFilter {
    pub fn condition<C: ColumnTrait>(&self, column: C, field: &str) -> AppResult<Condition> {
        let eq = self.eq.as_ref().map(|id| parse_id(id, &format!("{field}.eq"))).transpose()?;
        let one_of = self
            .one_of
            .as_ref()
            .map(|ids| ids.iter().map(|id| parse_id(id, &format!("{field}.in"))).collect::<AppResult<Vec<_>>>())
            .transpose()?;
        let mut all = eq_or_in(column, eq.as_ref(), one_of.as_deref());
        match self.is_null {
            Some(true) => all = all.add(column.is_null()),
            Some(false) => all = all.add(column.is_not_null()),
            None => {}
        }
        Ok(all)
    }
}

/// `eq` / `in` on an enum column.
#[derive(InputObject, Clone, Debug)]
#[graphql(concrete(name = "UserRoleFilter", params(entity::user::UserRole)))]
#[graphql(concrete(name = "LifecycleStageFilter", params(entity::customer::LifecycleStage)))]
#[graphql(concrete(name = "AgeBandFilter", params(entity::enums::AgeBand)))]
#[graphql(concrete(name = "IncomeBandFilter", params(entity::enums::IncomeBand)))]
#[graphql(concrete(name = "ChannelFilter", params(entity::enums::Channel)))]
#[graphql(concrete(name = "AcquisitionSourceFilter", params(entity::enums::AcquisitionSource)))]
#[graphql(concrete(name = "PriorityFilter", params(entity::enums::Priority)))]
#[graphql(concrete(name = "OrderStatusFilter", params(entity::order::OrderStatus)))]
#[graphql(concrete(name = "OrderChannelFilter", params(entity::order::OrderChannel)))]
#[graphql(concrete(name = "LeadStatusFilter", params(entity::lead::LeadStatus)))]
#[graphql(concrete(name = "LeadCategoryFilter", params(entity::lead::LeadCategory)))]
#[graphql(concrete(name = "FollowUpStatusFilter", params(entity::follow_up::FollowUpStatus)))]
#[graphql(concrete(name = "FollowUpKindFilter", params(entity::follow_up::FollowUpKind)))]
#[graphql(concrete(name = "FeedbackKindFilter", params(entity::feedback::FeedbackKind)))]
#[graphql(concrete(name = "TicketKindFilter", params(entity::ticket::TicketKind)))]
#[graphql(concrete(name = "TicketStatusFilter", params(entity::ticket::TicketStatus)))]
#[graphql(concrete(name = "TicketCategoryFilter", params(entity::ticket::TicketCategory)))]
#[graphql(concrete(name = "SlaStatusFilter", params(entity::ticket::SlaStatus)))]
#[graphql(concrete(name = "ExperimentStatusFilter", params(entity::experiment::ExperimentStatus)))]
#[graphql(concrete(name = "ExperimentKindFilter", params(entity::experiment::ExperimentKind)))]
pub struct EnumFilter<T: InputType + Into<sea_orm::Value> + Clone> {
    pub eq: Option<T>,
    #[graphql(name = "in")]
    pub one_of: Option<Vec<T>>,
}

impl<T: InputType + Into<sea_orm::Value> + Clone> EnumFilter<T> {
    pub fn condition<C: ColumnTrait>(&self, column: C) -> Condition {
        eq_or_in(column, self.eq.as_ref(), self.one_of.as_deref())
    }
}

/// Adds a filter input's `and` (all hold), `or` (one holds) and `not` (does not hold) to `all`.
pub fn boolean_ops<F>(
    mut all: Condition,
    and: &Option<Vec<F>>,
    or: &Option<Vec<F>>,
    not: &Option<Box<F>>,
    condition: impl Fn(&F) -> AppResult<Condition>,
) -> AppResult<Condition> {
    for f in and.iter().flatten() {
        all = all.add(condition(f)?);
    }
    if let Some(filters) = or {
        let mut any = Condition::any();
        for f in filters {
            any = any.add(condition(f)?);
        }
        all = all.add(any);
    }
    if let Some(f) = not {
        all = all.add(condition(f)?.not());
    }
    Ok(all)
}

/// The `eq` and `in` operators every filter type shares.
fn eq_or_in<C: ColumnTrait, V: Into<sea_orm::Value> + Clone>(
    column: C,
    eq: Option<&V>,
    one_of: Option<&[V]>,
) -> Condition {
    let mut all = Condition::all();
    if let Some(eq) = eq {
        all = all.add(column.eq(eq.clone()));
    }
    if let Some(values) = one_of {
        all = all.add(column.is_in(values.iter().cloned()));
    }
    all
}

/// Escapes LIKE wildcards so user text matches literally (`\` is the escape character on both backends).
pub fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_are_literal() {
        assert_eq!(escape_like("50%_off\\"), "50\\%\\_off\\\\");
    }
}
