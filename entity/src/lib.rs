//! sea-orm entities, one module per table. No logic beyond enums and relations.

pub mod agent_group;
pub mod agent_group_member;
pub mod api_key;
pub mod audit_log;
pub mod business_hours;
pub mod customer;
pub mod customer_note;
pub mod customer_tag;
pub mod enums;
pub mod feedback;
pub mod follow_up;
pub mod holiday;
pub mod interaction;
pub mod lead;
pub mod lifecycle_event;
pub mod order;
pub mod refresh_token;
pub mod sla_event;
pub mod sla_policy;
pub mod ticket;
pub mod ticket_event;
pub mod user;
pub mod workspace;
