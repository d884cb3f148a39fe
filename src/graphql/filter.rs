//! Typed filter operators shared by every connection's filter input.

use async_graphql::{InputObject, InputType};
use chrono::{DateTime, Utc};
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

/// `eq` / `in` on an enum column.
#[derive(InputObject, Clone, Debug)]
#[graphql(concrete(name = "UserRoleFilter", params(entity::user::UserRole)))]
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
fn escape_like(text: &str) -> String {
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
