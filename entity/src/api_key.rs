use sea_orm::entity::prelude::*;

/// An integration's credential: `vafa_<prefix>_<secret>`. The prefix is stored in clear to find
/// the row; the secret only as a SHA-256 hash (it is 256 bits of randomness, so no slow hash is needed).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_key")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub name: String,
    #[sea_orm(unique)]
    pub prefix: String,
    pub secret_hash: String,
    /// JSON array of scope names.
    pub scopes: Json,
    pub created_by: Option<Uuid>,
    pub last_used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
