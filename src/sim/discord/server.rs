//! The HTTP side: which paths are webhooks, reading the request, and running each one to
//! its end even if the client hangs up.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::header::{CONTENT_TYPE, USER_AGENT};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use axum::Router;
use percent_encoding::percent_decode_str;
use serde_json::Value;

use super::reply::{self, Reply};
use super::state::Admission;
use super::Shared;

/// The largest body read; Discord refuses bigger requests too.
const MAX_BODY: usize = 8 * 1024 * 1024;

/// The webhook a path names.
#[derive(Debug)]
pub(super) struct Target {
    pub(super) webhook_id: String,
    pub(super) token: String,
    /// The `N` of a `/vN/` segment just before `webhooks`, if the path has one.
    pub(super) api_version: Option<u32>,
}

impl Target {
    /// Reads `…/webhooks/{digits}/{token}`; any prefix is accepted, as for proxies.
    fn parse(path: &str) -> Option<Self> {
        let segments: Vec<&str> = path.split('/').collect();
        let [.., before, webhooks, id, token] = segments.as_slice() else {
            return None;
        };
        let is_id = !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit());
        if *webhooks != "webhooks" || !is_id || token.is_empty() {
            return None;
        }
        let token = percent_decode_str(token).decode_utf8().ok()?.into_owned();
        let api_version = before.strip_prefix('v').and_then(|v| v.parse().ok());
        Some(Self {
            webhook_id: (*id).to_owned(),
            token,
            api_version,
        })
    }
}

/// One `POST` to a webhook, read whole.
#[derive(Debug)]
pub(super) struct Incoming {
    pub(super) target: Target,
    pub(super) arrived: Instant,
    pub(super) query: Option<String>,
    pub(super) content_type: Option<String>,
    pub(super) user_agent: Option<String>,
    pub(super) body: Bytes,
}

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(move |request: Request| handle(Arc::clone(&shared), request))
}

async fn handle(shared: Arc<Shared>, request: Request) -> Response {
    let arrived = Instant::now();
    let (parts, body) = request.into_parts();
    let Some(target) = Target::parse(parts.uri.path()) else {
        return reply::route_not_found().into_response();
    };
    if parts.method != Method::POST {
        return shared
            .lock()
            .refuse_method(&target, arrived)
            .into_response();
    }
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return shared.lock().refuse_body(&target, arrived).into_response();
    };
    let incoming = Incoming {
        target,
        arrived,
        query: parts.uri.query().map(str::to_owned),
        content_type: header_text(&parts.headers, CONTENT_TYPE.as_str()),
        user_agent: header_text(&parts.headers, USER_AGENT.as_str()),
        body,
    };
    // Its own task, so that a message is still posted when the client gives up waiting
    // (a slow answer): that is how Discord behaves, and why a retry can post twice.
    match tokio::spawn(process(shared, incoming)).await {
        Ok(reply) => reply.into_response(),
        Err(_) => reply::internal_error().into_response(),
    }
}

/// Runs the checks in Discord's order and posts the message if they pass.
async fn process(shared: Arc<Shared>, request: Incoming) -> Reply {
    let body: Option<Value> = serde_json::from_slice(&request.body).ok();
    if body.is_some() {
        record_body(&shared, &request.body).await;
    }
    let admission = shared.lock().admit(&request);
    match admission {
        Admission::Answer(reply) => return reply,
        Admission::Proceed(Some(delay)) => tokio::time::sleep(delay).await,
        Admission::Proceed(None) => {}
        Admission::Hold(hold, reply) => {
            tokio::time::sleep(hold).await;
            return reply;
        }
    }
    let mut state = shared.lock();
    let reply = state.process(&request, body.as_ref());
    shared.accepted.send_replace(state.messages.len());
    reply
}

/// Writes the raw body to the recording directory, if one is set.
async fn record_body(shared: &Shared, body: &Bytes) {
    let Some(path) = shared.lock().next_body_path() else {
        return;
    };
    let body = body.clone();
    // Blocking file I/O goes to the blocking pool (tokio's `fs` feature is not enabled).
    let written = tokio::task::spawn_blocking(move || {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, &body).map_err(|error| {
            std::io::Error::new(error.kind(), format!("{}: {error}", path.display()))
        })
    })
    .await;
    match written {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "could not record a webhook body"),
        Err(error) => tracing::warn!(%error, "recording a webhook body panicked"),
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?;
    Some(String::from_utf8_lossy(value.as_bytes()).into_owned())
}
