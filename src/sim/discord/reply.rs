//! The answers Discord (or Cloudflare in front of it) gives, body and headers.

use std::time::Duration;

use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::ratelimit::ceil_to_millis;
use super::DiscordFault;

/// The name Discord gives a webhook's messages when the body sets no `username`.
const DEFAULT_WEBHOOK_NAME: &str = "Captain Hook";

/// An answer being prepared: rate-limit headers are added just before it is sent.
#[derive(Debug)]
pub(super) struct Reply {
    status: StatusCode,
    body: ReplyBody,
    headers: Vec<(&'static str, String)>,
    /// False for answers that come from Cloudflare, not Discord: no `X-RateLimit-*`.
    from_discord: bool,
}

#[derive(Debug)]
enum ReplyBody {
    Empty,
    Json(Value),
    Html(String),
    Text(String),
}

impl Reply {
    fn new(status: StatusCode, body: ReplyBody) -> Self {
        Self {
            status,
            body,
            headers: Vec::new(),
            from_discord: true,
        }
    }

    fn json(status: StatusCode, body: Value) -> Self {
        Self::new(status, ReplyBody::Json(body))
    }

    /// The status code, for the attempt log.
    pub(super) fn status(&self) -> u16 {
        self.status.as_u16()
    }

    /// Whether Discord's `X-RateLimit-*` headers belong on this answer.
    pub(super) fn carries_rate_limit_headers(&self) -> bool {
        self.from_discord
    }

    /// Adds headers (`name` must be lower-case).
    pub(super) fn with_headers(mut self, headers: Vec<(&'static str, String)>) -> Self {
        self.headers.extend(headers);
        self
    }

    fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The axum response.
    pub(super) fn into_response(self) -> Response {
        let mut response = match self.body {
            ReplyBody::Empty => self.status.into_response(),
            ReplyBody::Json(body) => (self.status, axum::Json(body)).into_response(),
            ReplyBody::Html(page) => {
                (self.status, [(CONTENT_TYPE, "text/html")], page).into_response()
            }
            ReplyBody::Text(text) => (self.status, text).into_response(),
        };
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response
                    .headers_mut()
                    .insert(HeaderName::from_static(name), value);
            }
        }
        response
    }
}

/// `{"message", "code"}`, Discord's error shape.
fn discord_error(status: StatusCode, message: &str, code: u32) -> Reply {
    Reply::json(status, json!({"message": message, "code": code}))
}

/// A path that is not a webhook's.
pub(super) fn route_not_found() -> Reply {
    discord_error(StatusCode::NOT_FOUND, "404: Not Found", 0)
}

/// Anything but `POST` on a webhook path (this stand-in only executes webhooks).
pub(super) fn method_not_allowed() -> Reply {
    discord_error(StatusCode::METHOD_NOT_ALLOWED, "405: Method Not Allowed", 0)
}

pub(super) fn too_large() -> Reply {
    discord_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "Request entity too large",
        40005,
    )
}

pub(super) fn unknown_webhook() -> Reply {
    discord_error(StatusCode::NOT_FOUND, "Unknown Webhook", 10015)
}

pub(super) fn invalid_token() -> Reply {
    discord_error(StatusCode::UNAUTHORIZED, "Invalid Webhook Token", 50027)
}

pub(super) fn missing_permissions() -> Reply {
    discord_error(StatusCode::FORBIDDEN, "Missing Permissions", 50013)
}

pub(super) fn invalid_json() -> Reply {
    discord_error(
        StatusCode::BAD_REQUEST,
        "The request body contains invalid JSON.",
        50109,
    )
}

pub(super) fn empty_message() -> Reply {
    discord_error(
        StatusCode::BAD_REQUEST,
        "Cannot send an empty message",
        50006,
    )
}

/// 50035 "Invalid Form Body" with Discord's `errors` tree.
pub(super) fn form_error(errors: Value) -> Reply {
    let body = json!({"message": "Invalid Form Body", "code": 50035, "errors": errors});
    Reply::json(StatusCode::BAD_REQUEST, body)
}

/// What Discord answers a body sent without `Content-Type: application/json`.
pub(super) fn content_type_invalid() -> Reply {
    form_error(json!({"_errors": [{
        "code": "CONTENT_TYPE_INVALID",
        "message": "Expected \"Content-Type\" header to be one of {'application/json', 'multipart/form-data'}.",
    }]}))
}

/// Discord's 429: `retry_after` in the body and, rounded up to whole seconds, in
/// `Retry-After`.
pub(super) fn rate_limited(wait: Duration, global: bool) -> Reply {
    rate_limited_exactly(ceil_to_millis(wait).as_secs_f64(), global)
}

fn rate_limited_exactly(retry_after: f64, global: bool) -> Reply {
    let body = json!({
        "message": "You are being rate limited.",
        "retry_after": retry_after,
        "global": global,
    });
    let reply = Reply::json(StatusCode::TOO_MANY_REQUESTS, body)
        .with_header("retry-after", ceil_seconds(retry_after).to_string())
        .with_header("x-ratelimit-scope", scope(global).to_owned());
    if global {
        reply.with_header("x-ratelimit-global", "true".to_owned())
    } else {
        reply
    }
}

fn scope(global: bool) -> &'static str {
    if global {
        "global"
    } else {
        "user"
    }
}

fn ceil_seconds(seconds: f64) -> u64 {
    // A negative or NaN wait from a test's fault becomes 0; the cast saturates otherwise.
    seconds.max(0.0).ceil() as u64
}

/// The answer an injected fault gives; `None` for [`DiscordFault::Slow`], which delays a
/// normal answer instead, and for [`DiscordFault::Blackhole`], which holds the request
/// (see [`gateway_timeout`]).
pub(super) fn fault(fault: &DiscordFault) -> Option<Reply> {
    match fault {
        DiscordFault::RateLimited {
            retry_after,
            global,
        } => Some(rate_limited_exactly(*retry_after, *global)),
        DiscordFault::RateLimitedHeaderOnly { retry_after_header } => {
            Some(rate_limited_header_only(*retry_after_header))
        }
        DiscordFault::CloudflareBan => Some(cloudflare_ban()),
        DiscordFault::Status(status) => Some(status_fault(*status)),
        DiscordFault::Slow(_) | DiscordFault::Blackhole(_) => None,
    }
}

/// Cloudflare's `504` when Discord behind it never answered: an HTML page, and no
/// `X-RateLimit-*` headers since it does not come from Discord.
pub(super) fn gateway_timeout() -> Reply {
    let mut reply = status_fault(504);
    reply.from_discord = false;
    reply
}

fn rate_limited_header_only(seconds: u64) -> Reply {
    let body = json!({"message": "You are being rate limited.", "global": false});
    Reply::json(StatusCode::TOO_MANY_REQUESTS, body)
        .with_header(RETRY_AFTER.as_str(), seconds.to_string())
}

fn cloudflare_ban() -> Reply {
    let mut reply = Reply::new(
        StatusCode::TOO_MANY_REQUESTS,
        ReplyBody::Html("error code: 1015".to_owned()),
    );
    reply.from_discord = false;
    reply
}

/// A status answer shaped like the one Discord (or its edge, for 5xx) gives.
fn status_fault(status: u16) -> Reply {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match status.as_u16() {
        400 => form_error(json!({"embeds": {"0": {"description": {"_errors": [{
            "code": "BASE_TYPE_MAX_LENGTH",
            "message": "Must be 4096 or fewer in length.",
        }]}}}})),
        401 => invalid_token(),
        403 => missing_permissions(),
        404 => unknown_webhook(),
        502..=504 => Reply::new(status, ReplyBody::Html(edge_page(status))),
        500..=599 => Reply::new(status, ReplyBody::Text(status_line(status))),
        _ => discord_error(status, &status_line(status), 0),
    }
}

/// `"502: Bad Gateway"`.
fn status_line(status: StatusCode) -> String {
    let reason = status.canonical_reason().unwrap_or("Error");
    format!("{}: {reason}", status.as_u16())
}

/// The HTML page Cloudflare serves when Discord behind it does not answer.
fn edge_page(status: StatusCode) -> String {
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n\
         <center><h1>{title}</h1></center>\r\n<hr><center>cloudflare</center>\r\n\
         </body>\r\n</html>\r\n"
    )
}

/// 204: posted, nothing to say (no `wait=true`).
pub(super) fn no_content() -> Reply {
    Reply::new(StatusCode::NO_CONTENT, ReplyBody::Empty)
}

/// A failure of the capture server itself.
pub(super) fn internal_error() -> Reply {
    Reply::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        ReplyBody::Text("500: Internal Server Error".to_owned()),
    )
}

/// What a posted message is called and where it went.
pub(super) struct Posted<'a> {
    pub(super) message_id: &'a str,
    pub(super) webhook_id: &'a str,
    pub(super) channel_id: &'a str,
    pub(super) timestamp: &'a str,
    pub(super) mention_everyone: bool,
}

/// 200 with the message object, Discord's answer with `wait=true`.
pub(super) fn message(posted: &Posted<'_>, body: &Value) -> Reply {
    Reply::json(StatusCode::OK, message_object(posted, body))
}

fn message_object(posted: &Posted<'_>, body: &Value) -> Value {
    let username = body
        .get("username")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_WEBHOOK_NAME);
    json!({
        "id": posted.message_id,
        "type": 0,
        "content": body.get("content").and_then(Value::as_str).unwrap_or(""),
        "channel_id": posted.channel_id,
        "author": {
            "id": posted.webhook_id,
            "username": username,
            "avatar": null,
            "discriminator": "0000",
            "public_flags": 0,
            "flags": 0,
            "bot": true,
            "global_name": null,
        },
        "attachments": [],
        "embeds": rich_embeds(body),
        "mentions": [],
        "mention_roles": [],
        "pinned": false,
        "mention_everyone": posted.mention_everyone,
        "tts": body.get("tts").and_then(Value::as_bool).unwrap_or(false),
        "timestamp": posted.timestamp,
        "edited_timestamp": null,
        "flags": body.get("flags").and_then(Value::as_u64).unwrap_or(0),
        "components": [],
        "webhook_id": posted.webhook_id,
    })
}

/// The embeds as Discord stores them: whatever `type` was sent, a posted embed is `rich`.
fn rich_embeds(body: &Value) -> Vec<Value> {
    let embeds = body.get("embeds").and_then(Value::as_array);
    embeds
        .into_iter()
        .flatten()
        .map(|embed| {
            let mut embed = embed.clone();
            if let Some(object) = embed.as_object_mut() {
                object.insert("type".to_owned(), json!("rich"));
            }
            embed
        })
        .collect()
}
