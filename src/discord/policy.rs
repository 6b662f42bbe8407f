//! What Discord's answer means and what to do next: a pure function of the status, the
//! headers and the body, so every case is unit-tested without a server.

use std::time::Duration;

use serde::Deserialize;

/// How long to stay away after a 429 that gives no `retry_after` or comes as an HTML page
/// (Cloudflare's "error code: 1015"): the address is banned for a while, and hammering
/// makes it longer.
pub const BAN_BACKOFF: Duration = Duration::from_secs(60);

/// The parts of an answer the decision depends on.
#[derive(Clone, Copy, Debug, Default)]
pub struct Answer<'a> {
    /// HTTP status.
    pub status: u16,
    /// `Retry-After` header.
    pub retry_after: Option<&'a str>,
    /// `X-RateLimit-Remaining` header.
    pub remaining: Option<&'a str>,
    /// `X-RateLimit-Reset-After` header (seconds, may be fractional).
    pub reset_after: Option<&'a str>,
    /// The body.
    pub body: &'a [u8],
}

/// What an answer means.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Posted. With `wait=true` Discord returns the message and its id.
    Delivered {
        /// The new message's id, when the body had one.
        message_id: Option<String>,
    },
    /// 429 with a `retry_after`: wait that long (never less), then try again.
    RateLimited {
        /// How long to wait.
        wait: Duration,
        /// The whole client is limited, not only this webhook.
        global: bool,
    },
    /// 429 without `retry_after`, or an HTML 429: a temporary ban; back off long.
    Banned,
    /// 5xx: Discord's side; retry with backoff.
    Transient {
        /// What Discord said, shortened.
        reason: String,
    },
    /// The request cannot succeed as it is; retrying would only repeat it.
    Rejected(Rejection),
}

/// Why Discord refused for good. The `Display` says what to do about it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// 404: the webhook was deleted (code 10015). Discord asks never to use it again.
    #[error("Discord says this webhook does not exist (404 Unknown Webhook): it was deleted or the URL is wrong. Create a webhook in the channel's Integrations settings and use its URL (DISCORD_WEBHOOK_URL, or the webhook secret)")]
    UnknownWebhook,
    /// 401: the token part of the URL is wrong (code 50027).
    #[error("Discord rejected the webhook token (401 Invalid Webhook Token): copy the webhook URL again from the channel's Integrations settings (into DISCORD_WEBHOOK_URL, or the webhook secret)")]
    InvalidToken,
    /// 403: the webhook may not post there.
    #[error("Discord refused the post (403 {0}): check the webhook's channel permissions, or the thread_id in the URL")]
    Forbidden(String),
    /// 400: our body is wrong. A bug of ours: nothing the operator can fix.
    #[error("Discord rejected the message body (400 {0}); this is a bug in run-notifier, please report it with this line")]
    InvalidBody(String),
    /// Any other 4xx.
    #[error("Discord answered {status} ({detail}); check the webhook URL")]
    Other {
        /// HTTP status.
        status: u16,
        /// What Discord said, shortened.
        detail: String,
    },
}

/// Discord's error body: `{"message": ..., "code": ..., "errors": {...}}`.
#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    errors: Option<serde_json::Value>,
    #[serde(default)]
    retry_after: Option<f64>,
    #[serde(default)]
    global: Option<bool>,
}

/// Decides what an answer means.
pub fn classify(answer: &Answer<'_>) -> Verdict {
    let parsed: Option<ErrorBody> = serde_json::from_slice(answer.body).ok();
    match answer.status {
        200..=299 => Verdict::Delivered {
            message_id: message_id(answer.body),
        },
        429 => rate_limited(answer, parsed),
        404 => Verdict::Rejected(Rejection::UnknownWebhook),
        401 => Verdict::Rejected(Rejection::InvalidToken),
        403 => Verdict::Rejected(Rejection::Forbidden(detail(answer.body, parsed.as_ref()))),
        400 => Verdict::Rejected(Rejection::InvalidBody(detail(answer.body, parsed.as_ref()))),
        status @ 500..=599 => Verdict::Transient {
            reason: format!("{status} {}", detail(answer.body, parsed.as_ref())),
        },
        status => Verdict::Rejected(Rejection::Other {
            status,
            detail: detail(answer.body, parsed.as_ref()),
        }),
    }
}

/// How long to wait before the next request because the bucket is empty
/// (`X-RateLimit-Remaining: 0`), if it is.
pub fn bucket_wait(answer: &Answer<'_>) -> Option<Duration> {
    let remaining: u64 = answer.remaining?.trim().parse().ok()?;
    if remaining > 0 {
        return None;
    }
    answer
        .reset_after
        .and_then(seconds)
        .or(Some(Duration::from_secs(1)))
}

fn rate_limited(answer: &Answer<'_>, parsed: Option<ErrorBody>) -> Verdict {
    // Discord's own 429s are JSON; an HTML page is Cloudflare banning the address.
    let Some(parsed) = parsed else {
        return Verdict::Banned;
    };
    let from_body = parsed.retry_after.and_then(non_negative);
    let from_header = answer.retry_after.and_then(seconds);
    // The larger of the two: sending before either has passed is a violation.
    let wait = match (from_body, from_header) {
        (Some(body), Some(header)) => body.max(header),
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => return Verdict::Banned,
    };
    Verdict::RateLimited {
        wait,
        global: parsed.global.unwrap_or(false),
    }
}

fn message_id(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Message {
        id: String,
    }
    serde_json::from_slice::<Message>(body).ok().map(|m| m.id)
}

/// Discord's message and code, plus the flattened `errors` tree
/// (`embeds.0.title: Must be 256 or fewer in length.`), or the start of a non-JSON body.
fn detail(body: &[u8], parsed: Option<&ErrorBody>) -> String {
    let Some(parsed) = parsed else {
        let text = String::from_utf8_lossy(body);
        let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        return if text.is_empty() {
            "no details".to_string()
        } else {
            text.chars().take(200).collect()
        };
    };
    let mut detail = parsed
        .message
        .clone()
        .filter(|message| !message.trim().is_empty())
        .unwrap_or_else(|| "no details".to_string());
    if let Some(code) = parsed.code {
        detail.push_str(&format!(" (code {code})"));
    }
    if let Some(errors) = &parsed.errors {
        let mut lines = Vec::new();
        flatten_errors(errors, String::new(), &mut lines);
        if !lines.is_empty() {
            detail.push_str(": ");
            detail.push_str(&lines.join("; "));
        }
    }
    detail
}

fn flatten_errors(node: &serde_json::Value, path: String, out: &mut Vec<String>) {
    let Some(object) = node.as_object() else {
        return;
    };
    for (key, child) in object {
        if key == "_errors" {
            for error in child.as_array().into_iter().flatten() {
                let message = error
                    .get("message")
                    .and_then(|m| m.as_str())
                    .unwrap_or("invalid");
                out.push(format!("{path}: {message}"));
            }
        } else {
            let child_path = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            flatten_errors(child, child_path, out);
        }
    }
}

fn seconds(raw: &str) -> Option<Duration> {
    raw.trim().parse::<f64>().ok().and_then(non_negative)
}

fn non_negative(seconds: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(seconds).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer<'_> {
        Answer {
            status,
            body: body.as_bytes(),
            ..Answer::default()
        }
    }

    #[test]
    fn success_carries_the_message_id() {
        assert_eq!(
            classify(&answer(200, r#"{"id":"1234","type":0}"#)),
            Verdict::Delivered {
                message_id: Some("1234".into())
            }
        );
        assert_eq!(
            classify(&answer(204, "")),
            Verdict::Delivered { message_id: None }
        );
    }

    #[test]
    fn retry_after_takes_the_larger_of_body_and_header() {
        let mut limited = answer(
            429,
            r#"{"message":"You are being rate limited.","retry_after":1.5,"global":false}"#,
        );
        assert_eq!(
            classify(&limited),
            Verdict::RateLimited {
                wait: Duration::from_millis(1500),
                global: false
            }
        );
        limited.retry_after = Some("2");
        assert_eq!(
            classify(&limited),
            Verdict::RateLimited {
                wait: Duration::from_secs(2),
                global: false
            }
        );
        let global = answer(429, r#"{"retry_after":0.25,"global":true}"#);
        assert_eq!(
            classify(&global),
            Verdict::RateLimited {
                wait: Duration::from_millis(250),
                global: true
            }
        );
    }

    #[test]
    fn a_header_alone_is_enough_when_the_body_is_discords() {
        let mut limited = answer(429, r#"{"message":"You are being rate limited."}"#);
        limited.retry_after = Some("3");
        assert_eq!(
            classify(&limited),
            Verdict::RateLimited {
                wait: Duration::from_secs(3),
                global: false
            }
        );
    }

    #[test]
    fn html_or_bare_429s_are_bans() {
        assert_eq!(classify(&answer(429, "error code: 1015")), Verdict::Banned);
        assert_eq!(
            classify(&answer(429, r#"{"message":"x"}"#)),
            Verdict::Banned
        );
        let mut html_with_header = answer(429, "<html>banned</html>");
        html_with_header.retry_after = Some("5");
        assert_eq!(classify(&html_with_header), Verdict::Banned);
        assert_eq!(
            classify(&answer(429, r#"{"retry_after":-1}"#)),
            Verdict::Banned
        );
    }

    #[test]
    fn permanent_refusals_say_what_is_wrong() {
        let gone = classify(&answer(
            404,
            r#"{"message":"Unknown Webhook","code":10015}"#,
        ));
        assert_eq!(gone, Verdict::Rejected(Rejection::UnknownWebhook));
        assert_eq!(
            classify(&answer(
                401,
                r#"{"message":"Invalid Webhook Token","code":50027}"#
            )),
            Verdict::Rejected(Rejection::InvalidToken)
        );
        let Verdict::Rejected(forbidden) = classify(&answer(
            403,
            r#"{"message":"Missing Permissions","code":50013}"#,
        )) else {
            panic!("403 is a rejection");
        };
        assert!(forbidden
            .to_string()
            .contains("Missing Permissions (code 50013)"));
        let Verdict::Rejected(bare) = classify(&answer(403, "{}")) else {
            panic!("403 is a rejection");
        };
        assert!(bare.to_string().contains("(403 no details)"), "{bare}");
        let Verdict::Rejected(other) = classify(&answer(413, "too big")) else {
            panic!("413 is a rejection");
        };
        assert_eq!(
            other,
            Rejection::Other {
                status: 413,
                detail: "too big".into()
            }
        );
    }

    #[test]
    fn a_400_shows_discords_errors_tree() {
        let body = r#"{"message":"Invalid Form Body","code":50035,"errors":{"embeds":{"0":{"title":{"_errors":[{"code":"BASE_TYPE_MAX_LENGTH","message":"Must be 256 or fewer in length."}]}}}}}"#;
        let Verdict::Rejected(Rejection::InvalidBody(detail)) = classify(&answer(400, body)) else {
            panic!("400 is an invalid body");
        };
        assert_eq!(
            detail,
            "Invalid Form Body (code 50035): embeds.0.title: Must be 256 or fewer in length."
        );
    }

    #[test]
    fn server_errors_are_transient() {
        assert!(matches!(
            classify(&answer(502, "<html>Bad Gateway</html>")),
            Verdict::Transient { .. }
        ));
        assert!(matches!(
            classify(&answer(500, "")),
            Verdict::Transient { .. }
        ));
    }

    #[test]
    fn an_empty_bucket_means_waiting_for_its_reset() {
        let mut headers = answer(200, "{}");
        assert_eq!(bucket_wait(&headers), None);
        headers.remaining = Some("1");
        headers.reset_after = Some("0.5");
        assert_eq!(bucket_wait(&headers), None);
        headers.remaining = Some("0");
        assert_eq!(bucket_wait(&headers), Some(Duration::from_millis(500)));
        headers.reset_after = None;
        assert_eq!(bucket_wait(&headers), Some(Duration::from_secs(1)));
    }
}
