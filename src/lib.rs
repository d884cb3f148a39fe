//! Vafa: a GraphQL API backend for customer retention.
//!
//! `build_app` gives the HTTP router for `main` and for the tests. Domains live in their own
//! modules (`users`, `workspaces`, `auth`, `customers`, `loyalty`, …), each with its rules in
//! `service.rs` and its GraphQL face in `mod.rs`; `schema` merges the faces into one schema.
//! Rules may call the rules of the domains below them (e.g. orders call loyalty and customers).

pub mod audit;
pub mod auth;
pub mod config;
pub mod contact;
pub mod customer_app;
pub mod customers;
pub mod db;
pub mod demo;
pub mod events;
pub mod experiments;
pub mod feedback;
pub mod follow_ups;
pub mod graphql;
pub mod http;
pub mod import;
pub mod interactions;
pub mod jobs;
pub mod leads;
pub mod loyalty;
pub mod metrics;
pub mod money;
pub mod orders;
pub mod profile;
pub mod schema;
pub mod tickets;
pub mod users;
pub mod workspaces;

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::{
    auth::{jwt::JwtKeys, rate_limit::LoginLimiter},
    config::{HttpSettings, JwtSettings},
    events::EventBus,
};

/// Everything a request may need, cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    db: DatabaseConnection,
    jwt: JwtKeys,
    login_limiter: LoginLimiter,
    http: HttpSettings,
    events: EventBus,
}

impl AppState {
    pub fn new(db: DatabaseConnection, jwt: JwtSettings, http: HttpSettings) -> Self {
        let events = EventBus::new(db.clone());
        AppState(Arc::new(Inner { db, jwt: JwtKeys::new(jwt), login_limiter: LoginLimiter::default(), http, events }))
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.0.db
    }

    pub fn jwt(&self) -> &JwtKeys {
        &self.0.jwt
    }

    pub fn login_limiter(&self) -> &LoginLimiter {
        &self.0.login_limiter
    }

    pub fn http(&self) -> &HttpSettings {
        &self.0.http
    }

    /// Live events for subscriptions.
    pub fn events(&self) -> &EventBus {
        &self.0.events
    }
}

pub use http::build_app;
