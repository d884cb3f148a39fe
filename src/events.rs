//! Live events for subscriptions. Services collect events in an [`Outbox`] while their
//! transaction runs; the caller publishes them only after the commit, so nobody hears of a change
//! that was rolled back. On PostgreSQL events travel through `NOTIFY`, so every server instance
//! (this one included, through its `LISTEN`) delivers them; on SQLite, which has one process, an
//! in-process broadcast does.

use std::sync::{Arc, Mutex};

use sea_orm::{DatabaseConnection, DbBackend, sqlx::postgres::PgListener};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::graphql::AppError;

/// The PostgreSQL notification channel.
const CHANNEL: &str = "vafa_events";
/// Events a slow subscriber may fall behind by before it misses some.
const BUFFER: usize = 1024;

/// Something subscribers may want to hear about. Small on purpose (`NOTIFY` payloads are
/// limited); subscribers load what they show.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Event {
    /// A row was added to a ticket's event log.
    #[serde(rename_all = "camelCase")]
    TicketEvent { workspace_id: Uuid, ticket_id: Uuid, event_id: Uuid },
    /// An SLA target is about to be missed, or was.
    #[serde(rename_all = "camelCase")]
    SlaAlert { workspace_id: Uuid, ticket_id: Uuid, sla_event_id: Uuid },
    /// A loyalty account's balance, pending points, debt or tier changed.
    #[serde(rename_all = "camelCase")]
    LoyaltyAccountChanged { workspace_id: Uuid, account_id: Uuid },
    /// A user was deactivated, an API key revoked or a customer deleted: live sockets of that
    /// `subject` (a user, key or customer id) re-check their credentials.
    #[serde(rename_all = "camelCase")]
    AccessRevoked { workspace_id: Uuid, subject: Uuid },
    /// Local only: this instance may have missed events (its `LISTEN` connection was lost, or a
    /// subscriber fell behind). Never published.
    #[serde(skip)]
    Gap,
}

impl Event {
    /// The workspace the event belongs to; `None` for a [`Event::Gap`], which concerns all.
    pub fn workspace_id(&self) -> Option<Uuid> {
        match self {
            Event::TicketEvent { workspace_id, .. }
            | Event::SlaAlert { workspace_id, .. }
            | Event::LoyaltyAccountChanged { workspace_id, .. }
            | Event::AccessRevoked { workspace_id, .. } => Some(*workspace_id),
            Event::Gap => None,
        }
    }
}

/// Events raised inside one transaction, published after it commits.
#[derive(Default, Debug)]
pub struct Outbox(Mutex<Vec<Event>>);

impl Outbox {
    pub fn push(&self, event: Event) {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(event);
    }

    fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).len()
    }

    fn truncate(&self, len: usize) {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).truncate(len);
    }
}

tokio::task_local! {
    /// The outbox of the request or job in progress, for services deep in a call chain (the
    /// loyalty ledger) that have no outbox handed to them.
    static AMBIENT: Outbox;
}

/// Raises `event` into the ambient outbox of the request or job in progress; nothing happens
/// outside one (e.g. a CLI import).
pub fn raise(event: Event) {
    let _ = AMBIENT.try_with(|outbox| outbox.push(event));
}

/// Where the ambient outbox stands; with [`rollback_to`], drops the events of a transaction that
/// did not commit (`graphql::transact` does this).
pub fn mark() -> Option<usize> {
    AMBIENT.try_with(Outbox::len).ok()
}

pub fn rollback_to(mark: Option<usize>) {
    if let Some(len) = mark {
        let _ = AMBIENT.try_with(|outbox| outbox.truncate(len));
    }
}

/// The next event of `workspace_id`, or `EVENTS_MISSED` when some may have been lost (the
/// subscriber fell behind, or the cross-instance connection was down): the subscription goes
/// on, and the client knows to reload what it shows. `None` once the bus is gone.
pub async fn next_of_workspace(
    receiver: &mut broadcast::Receiver<Arc<Event>>,
    workspace_id: Uuid,
) -> Option<Result<Arc<Event>, AppError>> {
    loop {
        match receiver.recv().await {
            Ok(event) => match event.workspace_id() {
                Some(id) if id == workspace_id => return Some(Ok(event)),
                Some(_) => {}
                None => return Some(Err(missed())),
            },
            Err(broadcast::error::RecvError::Lagged(count)) => {
                tracing::warn!(missed = count, "a subscriber fell behind and missed events");
                return Some(Err(missed()));
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        }
    }
}

fn missed() -> AppError {
    AppError::EventsMissed("some events may have been missed; reload what you show".to_owned())
}

/// Fans events out to this instance's subscribers.
#[derive(Clone)]
pub struct EventBus {
    local: broadcast::Sender<Arc<Event>>,
    db: DatabaseConnection,
}

impl EventBus {
    pub fn new(db: DatabaseConnection) -> Self {
        EventBus { local: broadcast::channel(BUFFER).0, db }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.local.subscribe()
    }

    /// Runs `work` with an ambient outbox (see [`raise`]) and publishes what it collected, each
    /// distinct event once, when `work` is done: after its transactions committed.
    pub async fn collecting<T>(&self, work: impl Future<Output = T>) -> T {
        let (value, events) = AMBIENT
            .scope(Outbox::default(), async {
                let value = work.await;
                (value, AMBIENT.with(Outbox::take))
            })
            .await;
        let outbox = Outbox::default();
        for event in events {
            if !outbox.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).contains(&event) {
                outbox.push(event);
            }
        }
        self.publish(&outbox).await;
        value
    }

    /// Publishes what `outbox` collected. Call after the transaction committed. Delivery is
    /// best effort: the durable record is the database row the event points to.
    pub async fn publish(&self, outbox: &Outbox) {
        let events = outbox.take();
        if events.is_empty() {
            return;
        }
        if self.db.get_database_backend() != DbBackend::Postgres {
            for event in events {
                // No receivers is fine: nobody is subscribed.
                let _ = self.local.send(Arc::new(event));
            }
            return;
        }
        let pool = self.db.get_postgres_connection_pool();
        for event in events {
            let payload = match serde_json::to_string(&event) {
                Ok(payload) => payload,
                Err(err) => {
                    tracing::error!(error = %err, "cannot encode event");
                    continue;
                }
            };
            if let Err(err) =
                sea_orm::sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(payload).execute(pool).await
            {
                tracing::warn!(error = %err, "event not published");
            }
        }
    }

    /// On PostgreSQL, listens for every instance's events and hands them to local subscribers,
    /// reconnecting after failures. Returns once the first `LISTEN` is in place, so nothing
    /// published afterwards is missed. Nothing to do on SQLite.
    pub async fn start_listener(&self) -> Result<Option<tokio::task::JoinHandle<()>>, sea_orm::sqlx::Error> {
        if self.db.get_database_backend() != DbBackend::Postgres {
            return Ok(None);
        }
        let pool = self.db.get_postgres_connection_pool().clone();
        let local = self.local.clone();
        let mut listener = connect(&pool).await?;
        Ok(Some(tokio::spawn(async move {
            loop {
                let lost = forward(&mut listener, &local).await;
                // Give the connection back before anything else: closing the pool waits for it.
                drop(listener);
                if pool.is_closed() {
                    return;
                }
                tracing::warn!(error = ?lost.err(), "event listener lost its connection; reconnecting");
                listener = loop {
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    if pool.is_closed() {
                        return;
                    }
                    match connect(&pool).await {
                        Ok(fresh) => break fresh,
                        Err(err) => tracing::warn!(error = %err, "event listener cannot reconnect yet"),
                    }
                };
                // What other instances published meanwhile is gone: tell the subscribers.
                let _ = local.send(Arc::new(Event::Gap));
            }
        })))
    }
}

async fn connect(pool: &sea_orm::sqlx::PgPool) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Hands notifications to local subscribers until the connection is lost. `try_recv`, not
/// `recv`: `recv` reconnects by itself and drops what was published meanwhile without a word.
async fn forward(listener: &mut PgListener, local: &broadcast::Sender<Arc<Event>>) -> Result<(), sea_orm::sqlx::Error> {
    while let Some(notification) = listener.try_recv().await? {
        match serde_json::from_str::<Event>(notification.payload()) {
            Ok(event) => {
                let _ = local.send(Arc::new(event));
            }
            Err(err) => tracing::warn!(error = %err, "ignoring a malformed event"),
        }
    }
    Ok(())
}
