//! Subscriptions over `graphql-transport-ws` (and the legacy `graphql-ws`), with the limits and
//! the revocation async-graphql's own socket loop does not have: `connection_init` within a
//! deadline (4408), at most so many subscriptions per socket, and a principal that stays valid —
//! re-checked before events are delivered and at once when its credentials are revoked, closed
//! with 4403 when it no longer is, when its sign-in session ends (logout) and at its token's
//! expiry.
//!
//! Browsers cannot set headers on a WebSocket, so the token comes in `connection_init`:
//! `{"authorization": "Bearer <token>"}` (or `{"token": "<token>"}`).

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_graphql::{
    Data,
    http::{WebSocket as GraphqlSocket, WebSocketProtocols, WsMessage},
};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt, future};
use serde_json::{Value, json};
use tokio::sync::{broadcast::error::RecvError, mpsc};

use crate::{
    AppState, auth,
    auth::Principal,
    config::ConnectionLimits,
    events::Event,
    graphql::{AppError, RequestContext},
    schema::{self, VafaSchema},
};

/// graphql-transport-ws close codes.
const CLOSE_FORBIDDEN: u16 = 4403;
const CLOSE_INIT_TIMEOUT: u16 = 4408;
/// How long a principal check is trusted before an event is delivered: revocations arrive as
/// events at once; this bounds what a missed one can leak.
const RECHECK_AFTER: Duration = Duration::from_secs(5);

/// Who the socket is, from `connection_init`.
struct Session {
    authorization: String,
    principal: Principal,
    expires_at: Option<DateTime<Utc>>,
    /// The sign-in session of the token, which a logout ends.
    session_id: Option<uuid::Uuid>,
    checked_at: Instant,
}

type SharedSession = Arc<Mutex<Option<Session>>>;

fn session_of(shared: &SharedSession) -> std::sync::MutexGuard<'_, Option<Session>> {
    shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Serves one upgraded socket until either side closes it.
pub async fn serve(
    socket: WebSocket,
    schema: VafaSchema,
    protocol: WebSocketProtocols,
    app: AppState,
    limits: ConnectionLimits,
) {
    let (mut sink, stream) = socket.split();
    let session: SharedSession = Arc::default();
    let active: Arc<Mutex<HashSet<String>>> = Arc::default();
    let (refusals, mut refused) = mpsc::unbounded_channel::<String>();

    let input = {
        let active = active.clone();
        stream.take_while(|message| future::ready(message.is_ok())).filter_map(move |message| {
            let text = match message {
                Ok(Message::Text(text)) => text.as_bytes().to_vec(),
                Ok(Message::Binary(bytes)) => bytes.to_vec(),
                _ => return future::ready(None),
            };
            future::ready(admit(&text, &active, limits.max_subscriptions_per_socket, &refusals).then_some(text))
        })
    };
    let init_app = app.clone();
    let init_session = session.clone();
    let messages = GraphqlSocket::new(schema, input, protocol)
        .on_connection_init(move |payload| async move { connection_data(&init_app, payload, &init_session).await });
    let mut messages = std::pin::pin!(messages);
    let mut events = app.events().subscribe();
    let init_deadline = tokio::time::Instant::now() + limits.ws_init_timeout;

    let close = loop {
        let (authenticated, expires_in) = {
            let session = session_of(&session);
            let expires_in =
                session.as_ref().and_then(|s| s.expires_at).map(|at| (at - Utc::now()).to_std().unwrap_or_default());
            (session.is_some(), expires_in)
        };
        tokio::select! {
            message = messages.next() => match message {
                Some(WsMessage::Text(text)) => {
                    if delivers_data(&text) && !still_allowed(&app, &session, false).await {
                        break Some((CLOSE_FORBIDDEN, "Forbidden"));
                    }
                    release(&text, &active);
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break None;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    let _ = sink.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
                    break None;
                }
                None => break None,
            },
            Some(text) = refused.recv() => {
                if sink.send(Message::Text(text.into())).await.is_err() {
                    break None;
                }
            }
            () = tokio::time::sleep_until(init_deadline), if !authenticated => {
                break Some((CLOSE_INIT_TIMEOUT, "Connection initialisation timeout"));
            }
            () = tokio::time::sleep(expires_in.unwrap_or_default()), if expires_in.is_some() => {
                break Some((CLOSE_FORBIDDEN, "Forbidden: the token expired"));
            }
            event = events.recv(), if authenticated => {
                let verdict = match &event {
                    Ok(event) if **event == Event::Gap => Verdict::Recheck,
                    Ok(event) => verdict(event, &session),
                    // Missed events may have held a revocation.
                    Err(RecvError::Lagged(_)) => Verdict::Recheck,
                    Err(RecvError::Closed) => Verdict::Unaffected,
                };
                match verdict {
                    Verdict::Ended => break Some((CLOSE_FORBIDDEN, "Forbidden: signed out")),
                    Verdict::Recheck if !still_allowed(&app, &session, true).await => {
                        break Some((CLOSE_FORBIDDEN, "Forbidden"));
                    }
                    Verdict::Recheck | Verdict::Unaffected => {}
                }
            }
        }
    };
    if let Some((code, reason)) = close {
        let _ = sink.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
    }
}

/// Whether a client message goes on to async-graphql: a subscription over the socket's limit is
/// refused with an `error` message for its id instead.
fn admit(text: &[u8], active: &Mutex<HashSet<String>>, limit: usize, refusals: &mpsc::UnboundedSender<String>) -> bool {
    let Ok(message) = serde_json::from_slice::<Value>(text) else { return true };
    let (Some(kind), Some(id)) = (message["type"].as_str(), message["id"].as_str()) else { return true };
    let mut active = active.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    match kind {
        "subscribe" | "start" if !active.contains(id) && active.len() >= limit => {
            let error = json!({
                "id": id,
                "type": "error",
                "payload": [{
                    "message": format!("at most {limit} subscriptions may run on one socket"),
                    "extensions": { "code": "TOO_MANY_SUBSCRIPTIONS", "limit": limit, "actual": active.len() + 1 },
                }],
            });
            let _ = refusals.send(error.to_string());
            false
        }
        "subscribe" | "start" => {
            active.insert(id.to_owned());
            true
        }
        "complete" | "stop" => {
            active.remove(id);
            true
        }
        _ => true,
    }
}

/// A subscription the server ended (`complete` or `error`) frees its place.
fn release(text: &str, active: &Mutex<HashSet<String>>) {
    let Ok(message) = serde_json::from_str::<Value>(text) else { return };
    if let (Some("complete" | "error"), Some(id)) = (message["type"].as_str(), message["id"].as_str()) {
        active.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(id);
    }
}

fn delivers_data(text: &str) -> bool {
    serde_json::from_str::<Value>(text).is_ok_and(|m| matches!(m["type"].as_str(), Some("next" | "data")))
}

/// What an event means for the socket's credentials.
enum Verdict {
    /// Its sign-in session ended (logout, or a stolen refresh token's family revoked).
    Ended,
    /// Its user, key or customer changed: authenticate again.
    Recheck,
    Unaffected,
}

fn verdict(event: &Event, session: &SharedSession) -> Verdict {
    let Event::AccessRevoked { subject, .. } = event else { return Verdict::Unaffected };
    match session_of(session).as_ref() {
        Some(s) if s.session_id == Some(*subject) => Verdict::Ended,
        Some(s) if s.principal.subject() == *subject => Verdict::Recheck,
        _ => Verdict::Unaffected,
    }
}

/// Re-authenticates the socket's credentials (at most every [`RECHECK_AFTER`] unless `now`):
/// the same principal, with the same role, must come out.
async fn still_allowed(app: &AppState, session: &SharedSession, now: bool) -> bool {
    let authorization = {
        let guard = session_of(session);
        let Some(current) = guard.as_ref() else { return true };
        if !now && current.checked_at.elapsed() < RECHECK_AFTER {
            return true;
        }
        current.authorization.clone()
    };
    let fresh = auth::authenticate(app, Some(&authorization)).await;
    let mut guard = session_of(session);
    let Some(current) = guard.as_mut() else { return true };
    match fresh {
        Ok(Some(principal)) if principal == current.principal => {
            current.checked_at = Instant::now();
            true
        }
        _ => false,
    }
}

/// Authenticates the socket from its `connection_init` payload and remembers who it is.
async fn connection_data(app: &AppState, payload: Value, session: &SharedSession) -> async_graphql::Result<Data> {
    let field = |name: &str| payload.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    let authorization = field("authorization")
        .or_else(|| field("Authorization"))
        .or_else(|| field("token").map(|token| format!("Bearer {token}")))
        .ok_or_else(|| AppError::Unauthenticated("send the token in connection_init".to_owned()))?;
    let principal = auth::authenticate(app, Some(&authorization))
        .await?
        .ok_or_else(|| AppError::Unauthenticated("send the token in connection_init".to_owned()))?;
    let claims = auth::access_token_claims(app, &authorization);
    let expires_at = claims.as_ref().and_then(|c| DateTime::from_timestamp(c.exp, 0));
    let session_id = claims.and_then(|c| c.sid);
    let mut data = Data::default();
    data.insert(RequestContext { principal: Some(principal.clone()), client_ip: None });
    schema::insert_loaders(app, &mut data);
    *session_of(session) =
        Some(Session { authorization, principal, expires_at, session_id, checked_at: Instant::now() });
    Ok(data)
}
