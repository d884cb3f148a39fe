//! Object ids are plain UUIDs (v7), shown as the GraphQL `ID` scalar everywhere.

use async_graphql::ID;
use uuid::Uuid;

use super::error::{AppError, AppResult};

/// A new, time-ordered id.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// Parses an `ID` argument; `field` names it in the error.
pub fn parse_id(id: &ID, field: &str) -> AppResult<Uuid> {
    Uuid::parse_str(id.as_str()).map_err(|_| AppError::bad_input(field, format!("`{}` is not a valid id", id.as_str())))
}

pub fn to_id(id: Uuid) -> ID {
    ID(id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_garbage_is_bad_input() {
        let id = new_id();
        assert_eq!(parse_id(&to_id(id), "id").unwrap(), id);
        match parse_id(&ID::from("42; drop table"), "input.userId") {
            Err(AppError::BadUserInput { field, .. }) => assert_eq!(field, "input.userId"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
