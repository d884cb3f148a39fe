//! Follow-ups: thank-yous, surveys, greetings, check-ins, reactivation and "not now" revisits.

pub mod service;
