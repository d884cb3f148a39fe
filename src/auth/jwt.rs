//! Short-lived HS256 access tokens. Validation pins the algorithm and requires every claim we
//! rely on, so `alg: none`, other algorithms, tampering, expiry and foreign audiences all fail.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    config::JwtSettings,
    graphql::{AppError, AppResult},
};

pub const ISSUER: &str = "vafa";
/// Staff access tokens.
pub const STAFF_AUDIENCE: &str = "vafa:staff";
/// Customer access tokens (mobile apps): the subject is a customer, who sees only their own data.
pub const CUSTOMER_AUDIENCE: &str = "vafa:customer";
/// Clock skew tolerated between servers, in seconds.
const LEEWAY_SECS: u64 = 5;

#[derive(Debug, Serialize, Deserialize, Clone)]
pub struct AccessClaims {
    pub sub: Uuid,
    /// The workspace the token is bound to.
    pub ws: Uuid,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: Uuid,
    /// The sign-in session (refresh-token family) the token was issued for; none for tokens
    /// issued outside a sign-in (CLI, customer codes). Live sockets end with their session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub settings: JwtSettings,
}

/// A freshly signed token and when it stops working.
pub struct SignedToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

impl JwtKeys {
    pub fn new(settings: JwtSettings) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[STAFF_AUDIENCE, CUSTOMER_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        JwtKeys {
            encoding: EncodingKey::from_secret(&settings.secret),
            decoding: DecodingKey::from_secret(&settings.secret),
            validation,
            settings,
        }
    }

    pub fn issue_access(&self, user_id: Uuid, workspace_id: Uuid) -> AppResult<SignedToken> {
        self.issue(user_id, workspace_id, STAFF_AUDIENCE, None)
    }

    /// A staff token of the sign-in session `session` (its refresh-token family).
    pub fn issue_session_access(&self, user_id: Uuid, workspace_id: Uuid, session: Uuid) -> AppResult<SignedToken> {
        self.issue(user_id, workspace_id, STAFF_AUDIENCE, Some(session))
    }

    /// A token for a customer (mobile apps); see `customer_app`.
    pub fn issue_customer_access(&self, customer_id: Uuid, workspace_id: Uuid) -> AppResult<SignedToken> {
        self.issue(customer_id, workspace_id, CUSTOMER_AUDIENCE, None)
    }

    fn issue(&self, subject: Uuid, workspace_id: Uuid, audience: &str, sid: Option<Uuid>) -> AppResult<SignedToken> {
        let now = Utc::now();
        let expires_at = now + self.settings.access_token_ttl;
        let claims = AccessClaims {
            sub: subject,
            ws: workspace_id,
            iss: ISSUER.to_owned(),
            aud: audience.to_owned(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: expires_at.timestamp(),
            jti: Uuid::now_v7(),
            sid,
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("cannot sign token: {e}")))?;
        Ok(SignedToken { token, expires_at })
    }

    pub fn verify_access(&self, token: &str) -> AppResult<AccessClaims> {
        decode::<AccessClaims>(token, &self.decoding, &self.validation).map(|data| data.claims).map_err(|err| {
            tracing::debug!(reason = %err, "access token rejected");
            AppError::Unauthenticated("invalid or expired access token".to_owned())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn keys(secret: &[u8]) -> JwtKeys {
        JwtKeys::new(JwtSettings {
            secret: secret.to_vec(),
            access_token_ttl: Duration::from_secs(60),
            refresh_token_ttl: Duration::from_secs(600),
        })
    }

    #[test]
    fn issued_tokens_verify_and_carry_the_workspace() {
        let keys = keys(&[7; 32]);
        let (user, ws) = (Uuid::now_v7(), Uuid::now_v7());
        let signed = keys.issue_access(user, ws).unwrap();
        let claims = keys.verify_access(&signed.token).unwrap();
        assert_eq!((claims.sub, claims.ws), (user, ws));
    }

    #[test]
    fn a_token_signed_with_another_secret_is_rejected() {
        let signed = keys(&[1; 32]).issue_access(Uuid::now_v7(), Uuid::now_v7()).unwrap();
        assert!(matches!(keys(&[2; 32]).verify_access(&signed.token), Err(AppError::Unauthenticated(_))));
    }
}
