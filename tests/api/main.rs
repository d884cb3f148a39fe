//! End-to-end tests through the HTTP endpoint. Every test touching the database runs on
//! SQLite and on PostgreSQL (see `support`).

mod support;

mod api_keys;
mod at_risk;
mod auth;
mod cli;
mod connections;
mod customer_app;
mod customers;
mod data_safety;
mod experiments;
mod follow_ups;
mod graphiql;
mod http;
mod import;
mod jwt;
mod leads;
mod limits;
mod loyalty;
mod loyalty_rules;
mod metrics;
mod orders;
mod privacy;
mod roles;
mod tenancy;
mod tickets;
mod users;
mod wire;
