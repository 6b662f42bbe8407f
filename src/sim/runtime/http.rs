//! The runtime's HTTP routes, behind the latency, fault and API-key layers.

use std::{io, num::ParseIntError};

use axum::{
    body::{to_bytes, Body, Bytes},
    extract::{ConnectInfo, Path, Query, Request, State},
    http::{header, HeaderValue, StatusCode},
    middleware::{from_fn_with_state, Next},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde::Deserialize;
use serde_json::json;

use super::{conn::KillSwitch, timeline::LiveRun, Counter, RuntimeFault, RuntimeSimulator};

/// The task list's page size when the client gives none.
const DEFAULT_LIMIT: usize = 50;
/// The largest page the runtime hands out.
const MAX_LIMIT: i32 = 500;

/// The routes, with the simulator as state.
pub(super) fn router(simulator: RuntimeSimulator) -> Router {
    let runtime_routes = Router::new()
        .route("/runs", get(list_runs))
        .route("/runs/{run_id}", get(run_detail))
        .route("/runs/{run_id}/tasks", get(task_list))
        .route("/runs/{run_id}/events", get(event_page))
        // A route layer, so that only requests to these endpoints consume faults and need
        // the key: `/healthz` and unknown paths do not.
        .route_layer(from_fn_with_state(simulator.clone(), gate));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(runtime_routes)
        .layer(from_fn_with_state(simulator.clone(), add_latency))
        .with_state(simulator)
}

/// Delays every answer by the configured latency, as a network would.
async fn add_latency(
    State(simulator): State<RuntimeSimulator>,
    request: Request,
    next: Next,
) -> Response {
    let latency = simulator.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    next.run(request).await
}

/// Answers with the next queued fault, if there is one; otherwise checks the API key and
/// lets the request through.
async fn gate(State(simulator): State<RuntimeSimulator>, request: Request, next: Next) -> Response {
    let Some(fault) = simulator.next_fault() else {
        return admit(&simulator, request, next).await;
    };
    simulator.count(Counter::Faulted);
    tracing::debug!(?fault, path = %request.uri().path(), "injecting a fault");
    match fault {
        RuntimeFault::ServerError => server_error(),
        RuntimeFault::HtmlErrorPage => html_error_page(),
        RuntimeFault::EmptyBody => empty_body(),
        RuntimeFault::TruncatedJson => truncate(admit(&simulator, request, next).await).await,
        RuntimeFault::ConnectionReset => reset_connection(&request),
        RuntimeFault::Slow(delay) => {
            tokio::time::sleep(delay).await;
            admit(&simulator, request, next).await
        }
    }
}

/// Lets the request through if it carries the configured API key; otherwise `401` with an
/// empty body, as the runtime answers.
async fn admit(simulator: &RuntimeSimulator, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get("x-api-key")
        .map(HeaderValue::as_bytes);
    if !simulator.key_accepted(presented) {
        simulator.count(Counter::Unauthorized);
        return StatusCode::UNAUTHORIZED.into_response();
    }
    next.run(request).await
}

/// An ASP.NET problem-details answer, as the runtime gives for an unhandled exception.
fn server_error() -> Response {
    let body = r#"{"type":"https://tools.ietf.org/html/rfc9110#section-15.6.1","title":"An error occurred while processing your request.","status":500}"#;
    let content_type = "application/problem+json; charset=utf-8";
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, content_type)],
        body,
    )
        .into_response()
}

/// What nginx in front of a crashed runtime answers.
fn html_error_page() -> Response {
    let body = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n\
                <center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n\
                </body>\r\n</html>\r\n";
    (
        StatusCode::BAD_GATEWAY,
        [(header::CONTENT_TYPE, "text/html")],
        body,
    )
        .into_response()
}

fn empty_body() -> Response {
    let content_type = "application/json; charset=utf-8";
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type)],
        Body::empty(),
    )
        .into_response()
}

/// Keeps the answer's status and headers but only the first half of its body.
async fn truncate(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = match to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::warn!(%error, "could not read an answer to truncate it");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    // hyper sets the length of the cut body; a length left over from the whole body would
    // make the client wait for bytes that never come instead of reading bad JSON.
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes.slice(..bytes.len() / 2)))
}

/// Breaks the connection before any answer, or, when the router is served without kill
/// switches, starts a `200` whose body breaks off (hyper then abandons the answer, sent or
/// not).
fn reset_connection(request: &Request) -> Response {
    if let Some(ConnectInfo(kill)) = request.extensions().get::<ConnectInfo<KillSwitch>>() {
        kill.pull();
        // Never sent: writing it fails on the killed connection.
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let chunks: [io::Result<Bytes>; 2] = [
        Ok(Bytes::from_static(b"{\"runId\":\"")),
        Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "simulated connection reset",
        )),
    ];
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

async fn healthz() -> Response {
    Json(json!({ "ok": true })).into_response()
}

async fn list_runs(State(simulator): State<RuntimeSimulator>) -> Response {
    simulator.count(Counter::RunsList);
    Json(simulator.with_runs_newest_first(LiveRun::list_entry)).into_response()
}

async fn run_detail(
    State(simulator): State<RuntimeSimulator>,
    Path(run_id): Path<String>,
) -> Response {
    simulator.count(Counter::Run);
    match simulator.with_run(&run_id, LiveRun::detail) {
        Some(detail) => Json(detail).into_response(),
        None => run_not_found(&simulator, run_id),
    }
}

/// The task list's query string. `limit` is read as text so that a bad value gets the
/// runtime's answer rather than axum's.
#[derive(Debug, Deserialize)]
struct TaskListQuery {
    limit: Option<String>,
}

async fn task_list(
    State(simulator): State<RuntimeSimulator>,
    Path(run_id): Path<String>,
    Query(query): Query<TaskListQuery>,
) -> Response {
    simulator.count(Counter::Tasks);
    let raw_limit = query.limit.as_deref();
    let Ok(limit) = parse_limit(raw_limit) else {
        // Only a given value can fail to parse.
        return invalid_limit(raw_limit.unwrap_or_default());
    };
    match simulator.with_run(&run_id, |run| run.task_page(limit)) {
        Some(page) => Json(page).into_response(),
        None => run_not_found(&simulator, run_id),
    }
}

/// The page size: 50 when absent, otherwise clamped to 1..=500. A value that is not a
/// 32-bit integer is an error, which gets `400` as ASP.NET's binding of an `int` answers.
fn parse_limit(raw: Option<&str>) -> Result<usize, ParseIntError> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_LIMIT);
    };
    // .NET's int parsing allows surrounding white space and a sign; Rust's allows the sign.
    let limit: i32 = raw.trim().parse()?;
    // Positive after clamping, so the cast is exact.
    Ok(limit.clamp(1, MAX_LIMIT) as usize)
}

/// The validation answer of an ASP.NET `[ApiController]`.
fn invalid_limit(raw: &str) -> Response {
    let body = json!({
        "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        "title": "One or more validation errors occurred.",
        "status": 400,
        "errors": { "limit": [format!("The value '{raw}' is not valid.")] },
    });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

async fn event_page(
    State(simulator): State<RuntimeSimulator>,
    Path(run_id): Path<String>,
) -> Response {
    simulator.count(Counter::Events);
    match simulator.with_run(&run_id, |_| ()) {
        // The simulator keeps no event log: an empty last page.
        Some(()) => Json(json!({ "items": [], "nextCursor": null })).into_response(),
        None => run_not_found(&simulator, run_id),
    }
}

fn run_not_found(simulator: &RuntimeSimulator, run_id: String) -> Response {
    simulator.count(Counter::NotFound);
    let body = json!({ "error": "run not found", "runId": run_id });
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}
