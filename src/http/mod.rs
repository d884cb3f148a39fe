//! HTTP: the GraphQL endpoint (GraphQL-over-HTTP), health checks and the middleware stack.

mod graphiql;
mod server;
mod websocket;

pub use graphiql::VERSION as GRAPHIQL_VERSION;
pub use server::{ConnectionSlot, raise_open_files_limit, serve};

use std::{collections::BTreeMap, net::SocketAddr, time::Duration};

use async_graphql::{
    ServerError,
    http::{ALL_WEBSOCKET_PROTOCOLS, WebSocketProtocols as Protocols, parse_query_string},
    parser::types::{DocumentOperations, OperationType},
};
use axum::{
    Router,
    body::{Body, to_bytes},
    error_handling::HandleErrorLayer,
    extract::{ConnectInfo, FromRequestParts, Request, State, WebSocketUpgrade},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Serialize;
use serde_json::json;
use tower::{ServiceBuilder, limit::ConcurrencyLimitLayer, load_shed::LoadShedLayer};
use tower_http::{
    compression::CompressionLayer,
    cors::{AllowOrigin, Any, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    timeout::TimeoutLayer,
    trace::TraceLayer,
};
use tracing::{Span, field::Empty};

use crate::{
    AppState, auth, db,
    graphql::{AppError, RequestContext, limits},
    schema::{self, VafaSchema},
};

pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const APPLICATION_JSON: &str = "application/json";

#[derive(Clone)]
struct HttpState {
    app: AppState,
    schema: VafaSchema,
}

/// The whole HTTP application: routes plus middleware.
pub fn build_app(app: AppState) -> Router {
    let settings = app.http().clone();
    let schema = schema::build(Some(app.clone()), settings.introspection);
    let request_id = header::HeaderName::from_static("x-request-id");
    let middleware = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id, operation = Empty)
        }))
        .layer(PropagateRequestIdLayer::new(request_id))
        .layer(cors(&settings.cors_origins))
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, settings.request_timeout));
    // Past `max_in_flight` GraphQL requests, shed load with 503 rather than queue without end;
    // health checks stay outside so that they still answer.
    let shedding = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(|_: tower::BoxError| async { overloaded() }))
        .layer(LoadShedLayer::new())
        .layer(ConcurrencyLimitLayer::new(settings.connections.max_in_flight));
    let routes = Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post).route_layer(shedding))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    let routes = if settings.graphiql { routes.merge(graphiql::routes()) } else { routes };
    routes.with_state(HttpState { app, schema }).layer(middleware)
}

/// The request headers browser clients may send: besides the basics, idempotent retries,
/// W3C trace context, Apollo's client awareness and a request id of their own.
const CORS_ALLOWED_HEADERS: [&str; 10] = [
    "authorization",
    "content-type",
    "accept",
    "idempotency-key",
    "traceparent",
    "tracestate",
    "baggage",
    "apollographql-client-name",
    "apollographql-client-version",
    "x-request-id",
];

/// The response headers browser scripts may read: the request id to quote in a support
/// ticket, and when to retry after shedding.
const CORS_EXPOSED_HEADERS: [&str; 2] = ["x-request-id", "retry-after"];

fn cors(origins: &[String]) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST])
        .allow_headers(CORS_ALLOWED_HEADERS.map(header::HeaderName::from_static))
        .expose_headers(CORS_EXPOSED_HEADERS.map(header::HeaderName::from_static))
        .max_age(Duration::from_secs(600));
    if origins.iter().any(|o| o == "*") {
        layer.allow_origin(Any)
    } else {
        layer.allow_origin(AllowOrigin::list(origins.iter().filter_map(|o| o.parse::<HeaderValue>().ok())))
    }
}

fn overloaded() -> Response {
    let mut response = error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        ResponseType::Json,
        "OVERLOADED",
        "the server is busy; retry shortly",
    );
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

async fn healthz() -> impl IntoResponse {
    axum::Json(json!({ "status": "ok" }))
}

async fn readyz(State(s): State<HttpState>) -> Response {
    if db::ping(s.app.db()).await {
        axum::Json(json!({ "status": "ready" })).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({ "status": "database unavailable" }))).into_response()
    }
}

/// Media type of the response, chosen from `Accept`.
#[derive(Copy, Clone, PartialEq, Eq)]
enum ResponseType {
    /// The modern type: status codes say whether the request was valid.
    GraphqlResponse,
    /// Legacy JSON: always 200 for a well-formed request.
    Json,
}

impl ResponseType {
    fn negotiate(headers: &HeaderMap) -> Option<ResponseType> {
        let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
            return Some(ResponseType::Json);
        };
        let mut wildcard = false;
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let refused = parts.any(|p| p.replace(' ', "") == "q=0");
            if refused {
                continue;
            }
            match media.as_str() {
                GRAPHQL_RESPONSE_JSON => return Some(ResponseType::GraphqlResponse),
                APPLICATION_JSON => return Some(ResponseType::Json),
                "*/*" | "application/*" => wildcard = true,
                _ => {}
            }
        }
        // Clients sending only a wildcard are most likely legacy ones: give them plain JSON.
        wildcard.then_some(ResponseType::Json)
    }

    fn content_type(self) -> &'static str {
        match self {
            ResponseType::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            ResponseType::Json => "application/json; charset=utf-8",
        }
    }
}

fn accepts_html(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"))
}

/// A GraphQL response body, serialised straight from async-graphql's values: their objects keep
/// the order of the selection set, which a detour through `serde_json::Value` would sort.
#[derive(Serialize)]
struct ResponseBody<'a> {
    /// Absent for a request error: the request never reached execution.
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a async_graphql::Value>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [ServerError],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extensions: &'a BTreeMap<String, async_graphql::Value>,
}

impl ResponseBody<'_> {
    fn into_response(self, status: StatusCode, response_type: ResponseType) -> Response {
        let body = match serde_json::to_vec(&self) {
            Ok(body) => body,
            Err(err) => {
                tracing::error!(error = %err, "cannot serialise response");
                return error_response(StatusCode::INTERNAL_SERVER_ERROR, response_type, "INTERNAL", "internal error");
            }
        };
        let mut response = (status, body).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(response_type.content_type()));
        response
    }
}

/// A response carrying only errors (the request never reached execution).
fn error_response(status: StatusCode, response_type: ResponseType, code: &str, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(response_type.content_type()));
    response
}

/// A request error (HTTP 400 for the modern media type, 200 for legacy JSON) with its extensions.
fn request_error_response(response_type: ResponseType, error: ServerError) -> Response {
    let status = if response_type == ResponseType::GraphqlResponse { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    ResponseBody { data: None, errors: &[error], extensions: &BTreeMap::new() }.into_response(status, response_type)
}

async fn graphql_get(State(s): State<HttpState>, request: Request) -> Response {
    let headers = request.headers().clone();
    if headers.get(header::UPGRADE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
        return graphql_ws(&s, request).await;
    }
    if s.app.http().graphiql && accepts_html(&headers) && request.uri().query().is_none_or(|q| !q.contains("query=")) {
        return graphiql::page();
    }
    let Some(response_type) = ResponseType::negotiate(&headers) else {
        return error_response(
            StatusCode::NOT_ACCEPTABLE,
            ResponseType::Json,
            "NOT_ACCEPTABLE",
            "cannot produce the media type asked for in Accept",
        );
    };
    let gql = match parse_query_string(request.uri().query().unwrap_or("")) {
        Ok(gql) => gql,
        Err(err) => return error_response(StatusCode::BAD_REQUEST, response_type, "BAD_REQUEST", &err.to_string()),
    };
    execute(&s, request, gql, response_type, true).await
}

/// Subscriptions: the upgrade here, the socket in [`websocket`].
async fn graphql_ws(s: &HttpState, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let Some(protocol) = parts
        .headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|value| value.to_str().ok())
        .and_then(|offered| offered.split(',').find_map(|p| p.trim().parse::<Protocols>().ok()))
    else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, s).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    // The socket keeps its connection's slot for as long as it lives.
    let slot = parts.extensions.get::<server::ConnectionSlot>().cloned();
    let (schema, app) = (s.schema.clone(), s.app.clone());
    let limits = app.http().connections;
    upgrade.protocols(ALL_WEBSOCKET_PROTOCOLS).on_upgrade(move |socket| async move {
        websocket::serve(socket, schema, protocol, app, limits).await;
        drop(slot);
    })
}

async fn graphql_post(State(s): State<HttpState>, request: Request) -> Response {
    let Some(response_type) = ResponseType::negotiate(request.headers()) else {
        return error_response(
            StatusCode::NOT_ACCEPTABLE,
            ResponseType::Json,
            "NOT_ACCEPTABLE",
            "cannot produce the media type asked for in Accept",
        );
    };
    if !is_json_content(request.headers()) {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            response_type,
            "UNSUPPORTED_MEDIA_TYPE",
            "send the request as `Content-Type: application/json` (UTF-8)",
        );
    }
    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, s.app.http().max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                response_type,
                "PAYLOAD_TOO_LARGE",
                "request body too large",
            );
        }
    };
    let gql = match serde_json::from_slice::<async_graphql::Request>(&bytes) {
        Ok(gql) => gql,
        Err(err) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                response_type,
                "BAD_REQUEST",
                &format!("malformed GraphQL request: {err}"),
            );
        }
    };
    execute(&s, Request::from_parts(parts, Body::empty()), gql, response_type, false).await
}

fn is_json_content(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let mut parts = value.split(';').map(|p| p.trim().to_ascii_lowercase());
    let media_ok = parts.next().is_some_and(|m| m == APPLICATION_JSON);
    let charset_ok = parts.all(|p| !p.starts_with("charset=") || p == "charset=utf-8" || p == "charset=\"utf-8\"");
    media_ok && charset_ok
}

async fn execute(
    s: &HttpState,
    request: Request,
    mut gql: async_graphql::Request,
    response_type: ResponseType,
    is_get: bool,
) -> Response {
    // Parse once up front: GET must not run mutations, and the span wants the operation name.
    if gql.query.trim().is_empty() {
        return error_response(
            StatusCode::BAD_REQUEST,
            response_type,
            "BAD_REQUEST",
            "the `query` parameter is required",
        );
    }
    let operation_name = gql.operation_name.clone();
    if let Ok(document) = gql.parsed_query() {
        let operation = match &document.operations {
            DocumentOperations::Single(op) => Some(op.node.ty),
            DocumentOperations::Multiple(ops) => {
                operation_name.as_deref().and_then(|name| ops.get(name)).map(|op| op.node.ty)
            }
        };
        if is_get && operation.is_some_and(|ty| ty != OperationType::Query) {
            let mut response = error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                response_type,
                "METHOD_NOT_ALLOWED",
                "only queries may be sent with GET; use POST",
            );
            response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
            return response;
        }
        // The document's size is known before anything else, even who is asking.
        if let Err(limit) = limits::check_document(document) {
            return request_error_response(response_type, limit.into_server_error(None));
        }
    }
    if let Some(name) = &operation_name {
        Span::current().record("operation", name.as_str());
    }

    let authorization = request.headers().get(header::AUTHORIZATION).map(|v| v.to_str().unwrap_or("\u{0}"));
    let principal = match auth::authenticate(&s.app, authorization).await {
        Ok(principal) => principal,
        Err(err) => {
            let status = if matches!(err, AppError::Internal(_)) {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::UNAUTHORIZED
            };
            if let AppError::Internal(inner) = &err {
                tracing::error!(error = ?inner, "authentication failed");
            }
            let mut response = error_response(status, response_type, err.code(), &err.message());
            if status == StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            return response;
        }
    };
    let client_ip = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let gql = schema::request_loaders(&s.app, gql.data(RequestContext { principal, client_ip }));

    let result = s.app.events().collecting(s.schema.execute(gql)).await;
    // Codes were assigned by `RequestLimits`; a request error has no `data` entry at all.
    let request_error = result.data == async_graphql::Value::Null
        && !result.errors.is_empty()
        && result.errors.iter().all(|e| e.path.is_empty());
    let status = if request_error && response_type == ResponseType::GraphqlResponse {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = ResponseBody {
        data: (!request_error).then_some(&result.data),
        errors: &result.errors,
        extensions: &result.extensions,
    };
    body.into_response(status, response_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn accept_negotiation_follows_the_spec() {
        assert!(ResponseType::negotiate(&HeaderMap::new()) == Some(ResponseType::Json));
        assert!(
            ResponseType::negotiate(&accept("application/graphql-response+json, application/json;q=0.9"))
                == Some(ResponseType::GraphqlResponse)
        );
        assert!(ResponseType::negotiate(&accept("application/json")) == Some(ResponseType::Json));
        assert!(ResponseType::negotiate(&accept("*/*")) == Some(ResponseType::Json));
        assert!(ResponseType::negotiate(&accept("text/plain")).is_none());
        assert!(ResponseType::negotiate(&accept("application/json;q=0")).is_none());
    }

    #[test]
    fn only_utf8_json_bodies_are_accepted() {
        let content = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_str(v).unwrap());
            h
        };
        assert!(is_json_content(&content("application/json")));
        assert!(is_json_content(&content("application/json; charset=utf-8")));
        assert!(!is_json_content(&content("application/json; charset=latin1")));
        assert!(!is_json_content(&content("text/plain")));
        assert!(!is_json_content(&HeaderMap::new()));
    }
}
