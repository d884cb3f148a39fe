//! sea-orm entities, one module per table. No logic beyond enums and relations.

pub mod api_key;
pub mod audit_log;
pub mod customer;
pub mod customer_note;
pub mod customer_tag;
pub mod enums;
pub mod feedback;
pub mod follow_up;
pub mod interaction;
pub mod lead;
pub mod lifecycle_event;
pub mod order;
pub mod refresh_token;
pub mod user;
pub mod workspace;
