//! sea-orm entities, one module per table. No logic beyond enums and relations.

pub mod api_key;
pub mod audit_log;
pub mod refresh_token;
pub mod user;
pub mod workspace;
