//! Tests over real HTTP against a spawned capture, plus direct checks of the body rules.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use serde_json::{json, Value};

use super::{CaptureHandle, DiscordCapture, DiscordFault};

const USER_AGENT: &str = "DiscordBot (https://example.invalid/run-notifier, 0.1.0)";
const TOKEN: &str = "s3cr3t-token";

/// A capture served on a free port, and a client for it.
struct Harness {
    capture: DiscordCapture,
    handle: CaptureHandle,
    client: reqwest::Client,
}

/// What came back.
struct Answer {
    status: u16,
    headers: HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Harness {
    /// A capture whose bucket is roomy enough that only rate-limit tests meet it.
    async fn start() -> Self {
        Self::with(DiscordCapture::with_bucket(100, Duration::from_secs(1))).await
    }

    async fn with(capture: DiscordCapture) -> Self {
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        let handle = capture.spawn(any_port).await.expect("bind capture server");
        Self {
            capture,
            handle,
            client: reqwest::Client::new(),
        }
    }

    /// The webhook URL pinned to v10 with `wait=true`, as a careful client sends it.
    fn url(&self, webhook_id: &str) -> String {
        let url = self.handle.webhook_url(webhook_id, TOKEN);
        format!(
            "{}?wait=true",
            url.replace("/api/webhooks/", "/api/v10/webhooks/")
        )
    }

    /// A well-formed request carrying `body`.
    fn request(&self, url: &str, body: &Value) -> reqwest::RequestBuilder {
        self.client
            .post(url)
            .header("content-type", "application/json")
            .header("user-agent", USER_AGENT)
            .body(body.to_string())
    }

    async fn post(&self, webhook_id: &str, body: &Value) -> Answer {
        self.send(self.request(&self.url(webhook_id), body)).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("request reaches the capture");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("read answer");
        Answer {
            status,
            headers,
            text,
        }
    }

    fn violations_mentioning(&self, needle: &str) -> usize {
        let violations = self.capture.violations();
        violations.iter().filter(|v| v.contains(needle)).count()
    }
}

fn content(text: &str) -> Value {
    json!({"content": text, "allowed_mentions": {"parse": []}})
}

fn embed(fields: Value) -> Value {
    json!({"embeds": [fields], "allowed_mentions": {"parse": []}})
}

/// The first error code at `pointer` in a check_body errors tree.
fn error_code(tree: &Value, pointer: &str) -> Option<String> {
    tree.pointer(&format!("{pointer}/_errors/0/code"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn rejected_at(body: &Value, pointer: &str) -> Option<String> {
    let tree = DiscordCapture::check_body(body).err()?;
    error_code(&tree, pointer)
}

fn chars(c: char, n: usize) -> String {
    std::iter::repeat_n(c, n).collect()
}

#[tokio::test]
async fn accepted_with_wait_answers_the_message() {
    let h = Harness::start().await;
    let answer = h.post("123", &content("run finished")).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let message = answer.json();
    let id = message["id"].as_str().expect("message id");
    assert!(!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(message["type"], 0);
    assert_eq!(message["webhook_id"], "123");
    assert_eq!(message["content"], "run finished");
    assert!(message["channel_id"]
        .as_str()
        .is_some_and(|c| !c.is_empty()));
    assert!(message["timestamp"].as_str().is_some());
    let captured = h.capture.messages();
    assert_eq!(captured.len(), 1);
    assert_eq!(captured[0].message_id, id);
    assert_eq!(captured[0].webhook_id, "123");
    assert!(!captured[0].pings_someone);
    assert_eq!(h.capture.violations(), Vec::<String>::new());
    assert_eq!(h.capture.attempts().len(), 1);
    assert_eq!(h.capture.attempts()[0].status, 200);
}

#[tokio::test]
async fn without_wait_is_204_and_a_violation() {
    let h = Harness::start().await;
    let url = h.handle.webhook_url("7", TOKEN);
    let answer = h.send(h.request(&url, &content("hi"))).await;
    assert_eq!(answer.status, 204);
    assert!(answer.text.is_empty());
    assert_eq!(h.capture.messages().len(), 1);
    assert_eq!(h.violations_mentioning("without wait=true"), 1);
}

#[tokio::test]
async fn title_limit_is_counted_in_code_points() {
    let h = Harness::start().await;
    for (c, bytes) in [('a', 1), ('é', 2), ('😀', 4)] {
        assert_eq!(c.len_utf8(), bytes);
        let ok = h.post("1", &embed(json!({"title": chars(c, 256)}))).await;
        assert_eq!(ok.status, 200, "256 × {c:?}: {}", ok.text);
        let too_long = h.post("1", &embed(json!({"title": chars(c, 257)}))).await;
        assert_eq!(too_long.status, 400, "257 × {c:?}");
        let body = too_long.json();
        assert_eq!(body["code"], 50035);
        assert_eq!(body["message"], "Invalid Form Body");
        let error = &body["errors"]["embeds"]["0"]["title"]["_errors"][0];
        assert_eq!(error["code"], "BASE_TYPE_MAX_LENGTH");
        assert_eq!(error["message"], "Must be 256 or fewer in length.");
    }
    assert_eq!(h.capture.messages().len(), 3);
}

#[tokio::test]
async fn lengths_are_measured_after_trimming() {
    let h = Harness::start().await;
    let padded = format!(" \n\t{} \n", chars('x', 256));
    let answer = h.post("1", &embed(json!({"title": padded}))).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let blank_field = embed(json!({"fields": [{"name": "   ", "value": "v"}]}));
    let answer = h.post("1", &blank_field).await;
    assert_eq!(answer.status, 400);
    let code = &answer.json()["errors"]["embeds"]["0"]["fields"]["0"]["name"]["_errors"][0]["code"];
    assert_eq!(code, "BASE_TYPE_REQUIRED");
}

#[tokio::test]
async fn embed_total_of_6000_spans_all_embeds() {
    let h = Harness::start().await;
    let body = |last: usize| {
        json!({"embeds": [
            {"description": chars('d', 4096)},
            {"title": chars('t', 200), "footer": {"text": chars('f', 1000)}},
            {"author": {"name": chars('a', 200)}, "fields": [{"name": "n", "value": chars('v', last)}]},
        ]})
    };
    // 4096 + 200 + 1000 + 200 + 1 + 503 = 6000
    let answer = h.post("1", &body(503)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let answer = h.post("1", &body(504)).await;
    assert_eq!(answer.status, 400);
    let error = &answer.json()["errors"]["embeds"]["_errors"][0];
    assert_eq!(error["code"], "MAX_EMBED_SIZE_EXCEEDED");
}

#[test]
fn every_single_field_limit() {
    let cases: Vec<(Value, &str)> = vec![
        (json!({"content": chars('c', 2001)}), "/content"),
        (
            json!({"embeds": vec![json!({"title": "t"}); 11]}),
            "/embeds",
        ),
        (
            embed(json!({"description": chars('d', 4097)})),
            "/embeds/0/description",
        ),
        (
            embed(json!({"fields": vec![json!({"name": "n", "value": "v"}); 26]})),
            "/embeds/0/fields",
        ),
        (
            embed(json!({"fields": [{"name": chars('n', 257), "value": "v"}]})),
            "/embeds/0/fields/0/name",
        ),
        (
            embed(json!({"fields": [{"name": "n", "value": chars('v', 1025)}]})),
            "/embeds/0/fields/0/value",
        ),
        (
            embed(json!({"fields": [{"name": "n", "value": ""}]})),
            "/embeds/0/fields/0/value",
        ),
        (
            embed(json!({"fields": [{"value": "v"}]})),
            "/embeds/0/fields/0/name",
        ),
        (
            embed(json!({"footer": {"text": chars('f', 2049)}})),
            "/embeds/0/footer/text",
        ),
        (
            embed(json!({"author": {"name": chars('a', 257)}})),
            "/embeds/0/author/name",
        ),
        (
            embed(json!({"title": "t", "color": 16_777_216})),
            "/embeds/0/color",
        ),
        (embed(json!({"title": "t", "color": -1})), "/embeds/0/color"),
        (
            embed(json!({"title": "t", "color": "red"})),
            "/embeds/0/color",
        ),
        (
            embed(json!({"title": "t", "timestamp": "yesterday"})),
            "/embeds/0/timestamp",
        ),
        (
            embed(json!({"title": "t", "url": "example.com/x"})),
            "/embeds/0/url",
        ),
        (
            json!({"content": "x", "username": chars('u', 81)}),
            "/username",
        ),
        (json!({"content": "x", "username": "  "}), "/username"),
        (
            json!({"content": "x", "username": "My CLYDE bot"}),
            "/username",
        ),
        (json!({"content": 5}), "/content"),
        (
            json!({"content": "x", "allowed_mentions": {"parse": ["everybody"]}}),
            "/allowed_mentions/parse/0",
        ),
    ];
    for (body, pointer) in cases {
        assert!(
            rejected_at(&body, pointer).is_some(),
            "expected an error at {pointer} for {body}"
        );
    }
}

#[test]
fn values_at_the_limits_pass() {
    let body = json!({
        "content": chars('c', 2000),
        "username": chars('u', 80),
        "embeds": [{
            "title": chars('t', 256),
            "description": chars('d', 1000),
            "color": 16_777_215,
            "timestamp": "2026-07-18T12:34:56.789+02:00",
            "url": "https://example.com/run/1",
            "footer": {"text": chars('f', 1000)},
            "author": {"name": chars('a', 256)},
            "fields": vec![json!({"name": "n", "value": chars('v', 100), "inline": true}); 25],
        }],
        "allowed_mentions": {"parse": [], "users": ["123"]},
    });
    assert_eq!(DiscordCapture::check_body(&body), Ok(()));
    assert_eq!(
        DiscordCapture::check_body(&json!({"embeds": [{"title": "t"}], "content": null})),
        Ok(())
    );
}

#[test]
fn parse_with_explicit_ids_is_invalid() {
    for kind in ["users", "roles"] {
        let body = json!({"content": "x", "allowed_mentions": {"parse": [kind], kind: ["42"]}});
        let code = rejected_at(&body, "/allowed_mentions");
        assert_eq!(
            code.as_deref(),
            Some("MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE")
        );
        let empty_list = json!({"content": "x", "allowed_mentions": {"parse": [kind], kind: []}});
        assert_eq!(DiscordCapture::check_body(&empty_list), Ok(()));
    }
}

#[test]
fn check_body_reports_an_empty_message() {
    for body in [
        json!({}),
        json!({"content": " \n "}),
        json!({"embeds": []}),
        json!({"username": "x"}),
    ] {
        let tree = DiscordCapture::check_body(&body).expect_err("empty message");
        assert_eq!(
            error_code(&tree, "").as_deref(),
            Some("EMPTY_MESSAGE"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn empty_body_is_50006() {
    let h = Harness::start().await;
    for body in [json!({}), json!({"content": "   "}), json!({"embeds": []})] {
        let answer = h.post("1", &body).await;
        assert_eq!(answer.status, 400);
        assert_eq!(
            answer.json(),
            json!({"message": "Cannot send an empty message", "code": 50006})
        );
    }
    assert!(h.capture.messages().is_empty());
}

#[tokio::test]
async fn content_type_must_be_json() {
    let h = Harness::start().await;
    let body = content("hi").to_string();
    let missing = h
        .client
        .post(h.url("1"))
        .header("user-agent", USER_AGENT)
        .body(body.clone());
    let answer = h.send(missing).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json()["code"], 50035);
    assert_eq!(
        answer.json()["errors"]["_errors"][0]["code"],
        "CONTENT_TYPE_INVALID"
    );
    assert_eq!(h.violations_mentioning("Content-Type"), 1);
    let with_charset = h
        .client
        .post(h.url("1"))
        .header("user-agent", USER_AGENT)
        .header("content-type", "application/json; charset=utf-8")
        .body(body);
    assert_eq!(h.send(with_charset).await.status, 200);
}

#[tokio::test]
async fn invalid_json_is_50109_and_missing_user_agent_a_violation() {
    let h = Harness::start().await;
    let broken = h
        .client
        .post(h.url("1"))
        .header("content-type", "application/json")
        .body("{\"content\":");
    let answer = h.send(broken).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json()["code"], 50109);
    assert_eq!(h.violations_mentioning("no User-Agent"), 1);
    let odd_agent = h
        .client
        .post(h.url("1"))
        .header("content-type", "application/json")
        .header("user-agent", "curl/8")
        .body(content("x").to_string());
    assert_eq!(h.send(odd_agent).await.status, 200);
    assert_eq!(
        h.violations_mentioning("is not `DiscordBot (url, version)`"),
        1
    );
}

#[tokio::test]
async fn every_answer_carries_rate_limit_headers_and_an_empty_bucket_answers_429() {
    let h = Harness::with(DiscordCapture::with_bucket(2, Duration::from_secs(1))).await;
    let first = h.post("1", &content("a")).await;
    assert_eq!(first.header("x-ratelimit-limit"), Some("2"));
    assert_eq!(first.header("x-ratelimit-remaining"), Some("1"));
    let second = h.post("1", &content("b")).await;
    assert_eq!(second.header("x-ratelimit-remaining"), Some("0"));
    let reset_after: f64 = second
        .header("x-ratelimit-reset-after")
        .and_then(|v| v.parse().ok())
        .expect("reset-after");
    assert!(reset_after > 0.0 && reset_after <= 1.0, "{reset_after}");
    let reset: f64 = second
        .header("x-ratelimit-reset")
        .and_then(|v| v.parse().ok())
        .expect("reset");
    assert!(reset > 1.7e9, "epoch seconds: {reset}");
    assert!(second
        .header("x-ratelimit-bucket")
        .is_some_and(|b| !b.is_empty()));
    assert_eq!(h.violations_mentioning("bucket exhausted"), 0);

    let third = h.post("1", &content("c")).await;
    assert_eq!(third.status, 429);
    let body = third.json();
    assert_eq!(body["message"], "You are being rate limited.");
    assert_eq!(body["global"], false);
    let retry_after = body["retry_after"].as_f64().expect("retry_after");
    assert!(retry_after > 0.0 && retry_after <= 1.0);
    assert_eq!(third.header("retry-after"), Some("1"));
    assert_eq!(third.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(h.violations_mentioning("request while bucket exhausted"), 1);
    // Another webhook has its own bucket.
    assert_eq!(h.post("2", &content("d")).await.status, 200);

    tokio::time::sleep(Duration::from_secs_f64(retry_after)).await;
    let later = h.post("1", &content("e")).await;
    assert_eq!(later.status, 200, "{}", later.text);
    assert_eq!(
        h.capture.violations().len(),
        1,
        "{:?}",
        h.capture.violations()
    );
}

#[tokio::test]
async fn a_request_before_retry_after_is_a_violation() {
    let h = Harness::start().await;
    h.capture.push_faults([DiscordFault::RateLimited {
        retry_after: 0.3,
        global: false,
    }]);
    let limited = h.post("1", &content("a")).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.json()["retry_after"], 0.3);
    assert_eq!(limited.header("retry-after"), Some("1"));
    assert_eq!(limited.header("x-ratelimit-remaining"), Some("0"));

    let too_soon = h.post("1", &content("a")).await;
    assert_eq!(too_soon.status, 429);
    assert_eq!(h.violations_mentioning("request before retry_after"), 1);

    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(h.post("1", &content("a")).await.status, 200);
    assert_eq!(h.capture.violations().len(), 1);
}

#[tokio::test]
async fn a_global_limit_covers_every_webhook() {
    let h = Harness::start().await;
    h.capture.push_faults([DiscordFault::RateLimited {
        retry_after: 5.0,
        global: true,
    }]);
    let limited = h.post("1", &content("a")).await;
    assert_eq!(limited.json()["global"], true);
    assert_eq!(limited.header("x-ratelimit-global"), Some("true"));
    assert_eq!(h.post("2", &content("b")).await.status, 429);
    assert_eq!(
        h.violations_mentioning("webhook 2: request before retry_after"),
        1
    );
}

#[tokio::test]
async fn header_only_429_and_cloudflare_ban() {
    let h = Harness::start().await;
    h.capture.push_faults([
        DiscordFault::RateLimitedHeaderOnly {
            retry_after_header: 2,
        },
        DiscordFault::CloudflareBan,
    ]);
    let header_only = h.post("1", &content("a")).await;
    assert_eq!(header_only.status, 429);
    assert_eq!(header_only.header("retry-after"), Some("2"));
    assert!(header_only.json().get("retry_after").is_none());
    assert!(header_only.header("x-ratelimit-limit").is_some());

    let banned = h.post("2", &content("a")).await;
    assert_eq!(banned.status, 429);
    assert_eq!(banned.text, "error code: 1015");
    assert!(banned
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/html")));
    assert!(banned.header("retry-after").is_none());
    assert!(banned.header("x-ratelimit-limit").is_none());
    assert!(h.capture.messages().is_empty());
}

#[tokio::test]
async fn status_faults_answer_like_discord() {
    let h = Harness::start().await;
    let expected_codes = [(400, 50035), (401, 50027), (403, 50013), (404, 10015)];
    h.capture
        .push_faults(expected_codes.map(|(status, _)| DiscordFault::Status(status)));
    for (index, (status, code)) in expected_codes.into_iter().enumerate() {
        let answer = h.post(&format!("10{index}"), &content("a")).await;
        assert_eq!(answer.status, status);
        assert_eq!(answer.json()["code"], code, "{status}");
        assert!(answer.header("x-ratelimit-remaining").is_some());
    }
    h.capture
        .push_faults([DiscordFault::Status(500), DiscordFault::Status(502)]);
    let plain = h.post("200", &content("a")).await;
    assert_eq!(
        (plain.status, plain.text.as_str()),
        (500, "500: Internal Server Error")
    );
    let page = h.post("201", &content("a")).await;
    assert_eq!(page.status, 502);
    assert!(page.text.contains("<html>") && page.text.contains("502 Bad Gateway"));
    // Faults are used up: the next request goes through.
    assert_eq!(h.post("202", &content("a")).await.status, 200);
    assert_eq!(h.capture.messages().len(), 1);
}

#[tokio::test]
async fn slow_answers_still_post_when_the_client_gives_up() {
    let h = Harness::start().await;
    h.capture
        .push_faults([DiscordFault::Slow(Duration::from_millis(300))]);
    let started = Instant::now();
    let impatient = h
        .request(&h.url("1"), &content("once"))
        .timeout(Duration::from_millis(100));
    assert!(impatient.send().await.is_err(), "the client times out");
    assert!(h.capture.messages().is_empty());
    let messages = h.capture.wait_for_messages(1, Duration::from_secs(5)).await;
    assert_eq!(messages.len(), 1);
    assert!(started.elapsed() >= Duration::from_millis(300));

    h.capture
        .push_faults([DiscordFault::Slow(Duration::from_millis(100))]);
    let patient = h.post("1", &content("twice")).await;
    assert_eq!(patient.status, 200);
}

#[tokio::test]
async fn a_blackholed_post_is_logged_in_flight_and_never_posted() {
    let h = Harness::start().await;
    h.capture
        .push_faults([DiscordFault::Blackhole(Duration::from_millis(400))]);
    let started = Instant::now();
    let request = h.request(&h.url("1"), &content("lost"));
    let waiting = tokio::spawn(request.send());
    // The attempt shows while the request is still held.
    let deadline = Instant::now() + Duration::from_secs(5);
    while h.capture.attempts().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the attempt is logged on arrival"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!waiting.is_finished(), "the request is still held");
    assert_eq!(h.capture.attempts()[0].status, 504);
    let response = waiting
        .await
        .expect("request task")
        .expect("an answer in the end");
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(response.status().as_u16(), 504);
    assert!(response.headers().get("x-ratelimit-limit").is_none());
    let page = response.text().await.expect("read answer");
    assert!(page.contains("504 Gateway Timeout"), "{page}");
    assert!(h.capture.messages().is_empty());
    assert_eq!(
        h.capture.attempts().len(),
        1,
        "logged once, not again on the 504"
    );

    // A client that hangs up first: nothing is posted, not even after the hold.
    h.capture
        .push_faults([DiscordFault::Blackhole(Duration::from_millis(300))]);
    let impatient = h
        .request(&h.url("1"), &content("lost too"))
        .timeout(Duration::from_millis(100));
    assert!(impatient.send().await.is_err(), "the client times out");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(h.capture.messages().is_empty());
    let statuses: Vec<u16> = h.capture.attempts().iter().map(|a| a.status).collect();
    assert_eq!(statuses, [504, 504]);

    // The fault is used up: the next post goes through.
    assert_eq!(h.post("1", &content("delivered")).await.status, 200);
    assert_eq!(h.capture.messages().len(), 1);
    assert_eq!(h.capture.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn forgotten_webhooks_answer_404_and_must_not_be_used_again() {
    let h = Harness::start().await;
    assert_eq!(h.post("55", &content("a")).await.status, 200);
    h.capture.forget_webhook("55");
    let gone = h.post("55", &content("a")).await;
    assert_eq!(gone.status, 404);
    assert_eq!(
        gone.json(),
        json!({"message": "Unknown Webhook", "code": 10015})
    );
    assert_eq!(h.capture.violations().len(), 0);
    assert_eq!(h.post("55", &content("a")).await.status, 404);
    assert_eq!(h.violations_mentioning("after the webhook answered 404"), 1);
}

#[tokio::test]
async fn a_different_token_is_401() {
    let h = Harness::start().await;
    assert_eq!(h.post("9", &content("a")).await.status, 200);
    let wrong = h.url("9").replace(TOKEN, "other-token");
    let answer = h.send(h.request(&wrong, &content("a"))).await;
    assert_eq!(answer.status, 401);
    assert_eq!(
        answer.json(),
        json!({"message": "Invalid Webhook Token", "code": 50027})
    );
    h.send(h.request(&wrong, &content("a"))).await;
    assert_eq!(h.violations_mentioning("already refused with 401"), 1);
    let statuses: Vec<u16> = h.capture.attempts().iter().map(|a| a.status).collect();
    assert_eq!(statuses, [200, 401, 401]);
    for violation in h.capture.violations() {
        assert!(
            !violation.contains("token-") && !violation.contains(TOKEN),
            "{violation}"
        );
    }
}

#[tokio::test]
async fn usernames_naming_discord_are_refused() {
    let h = Harness::start().await;
    let body = json!({"content": "a", "username": "Run Notifier for Discord"});
    let answer = h.post("1", &body).await;
    assert_eq!(answer.status, 400);
    let error = &answer.json()["errors"]["username"]["_errors"][0];
    assert_eq!(error["code"], "USERNAME_INVALID_CONTAINS");
    let fine = json!({"content": "a", "username": "Run Notifier"});
    let answer = h.post("1", &fine).await;
    assert_eq!(answer.json()["author"]["username"], "Run Notifier");
}

#[tokio::test]
async fn pings_follow_allowed_mentions() {
    let h = Harness::start().await;
    let cases = [
        (json!({"content": "@everyone done"}), true),
        (json!({"content": "hey @here"}), true),
        (json!({"content": "cc <@!42>"}), true),
        (
            json!({"content": "@everyone <@42> <@&7>", "allowed_mentions": {"parse": []}}),
            false,
        ),
        (
            json!({"content": "@everyone <@42>", "allowed_mentions": {}}),
            false,
        ),
        (
            json!({"content": "<@42>", "allowed_mentions": {"parse": ["users"]}}),
            true,
        ),
        (
            json!({"content": "@here", "allowed_mentions": {"parse": ["users", "roles"]}}),
            false,
        ),
        (
            json!({"content": "<@&7>", "allowed_mentions": {"roles": ["7"]}}),
            true,
        ),
        (
            json!({"content": "<@&7>", "allowed_mentions": {"roles": ["8"]}}),
            false,
        ),
        (json!({"content": "plain <@not-an-id>"}), false),
        (
            json!({"content": "x", "embeds": [{"title": "@everyone"}]}),
            false,
        ),
    ];
    for (body, _) in &cases {
        assert_eq!(h.post("1", body).await.status, 200, "{body}");
    }
    let flags: Vec<bool> = h
        .capture
        .messages()
        .iter()
        .map(|m| m.pings_someone)
        .collect();
    let expected: Vec<bool> = cases.iter().map(|(_, pings)| *pings).collect();
    assert_eq!(flags, expected);
}

#[tokio::test]
async fn misspelled_keys_are_violations_but_accepted() {
    let h = Harness::start().await;
    let body = json!({"content": "@everyone", "allow_mentions": {"parse": []}, "wait": true});
    let answer = h.post("1", &body).await;
    assert_eq!(answer.status, 200);
    assert_eq!(h.violations_mentioning("`allow_mentions`"), 1);
    assert_eq!(h.violations_mentioning("`wait`"), 1);
    assert!(h.capture.messages()[0].pings_someone);
}

#[tokio::test]
async fn bodies_are_recorded_to_a_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let h = Harness::start().await;
    h.capture.record_bodies_to(dir.path().join("bodies"));
    h.post("1", &content("good")).await;
    h.post("1", &json!({})).await;
    h.send(
        h.client
            .post(h.url("1"))
            .header("content-type", "application/json")
            .body("not json"),
    )
    .await;
    let mut bodies: Vec<Value> = std::fs::read_dir(dir.path().join("bodies"))
        .expect("bodies dir")
        .map(|entry| {
            let path = entry.expect("entry").path();
            assert_eq!(path.extension().and_then(|e| e.to_str()), Some("json"));
            serde_json::from_slice(&std::fs::read(path).expect("read body")).expect("json body")
        })
        .collect();
    bodies.sort_by_key(|body| body.to_string());
    assert_eq!(bodies, [content("good"), json!({})]);
}

#[tokio::test]
async fn paths_queries_and_methods() {
    let h = Harness::start().await;
    let base = format!("http://{}", h.handle.addr());
    for path in [
        "/api/v10/webhooks/1/t?wait=true",
        "/webhooks/1/t?wait=1",
        "/proxy/discord/api/webhooks/1/t?wait=True",
    ] {
        let answer = h
            .send(h.request(&format!("{base}{path}"), &content("a")))
            .await;
        assert_eq!(answer.status, 200, "{path}");
    }
    assert_eq!(h.violations_mentioning("API version"), 0);
    h.send(h.request(
        &format!("{base}/api/v9/webhooks/1/t?wait=true"),
        &content("a"),
    ))
    .await;
    assert_eq!(h.violations_mentioning("API version v9"), 1);

    let thread = h
        .send(h.request(
            &format!("{base}/api/v10/webhooks/1/t?wait=true&thread_id=777"),
            &content("a"),
        ))
        .await;
    assert_eq!(thread.json()["channel_id"], "777");
    assert_eq!(
        h.capture
            .messages()
            .last()
            .and_then(|m| m.thread_id.clone())
            .as_deref(),
        Some("777")
    );

    let bad_wait = h
        .send(h.request(&format!("{base}/webhooks/1/t?wait=maybe"), &content("a")))
        .await;
    assert_eq!(bad_wait.status, 400);
    assert_eq!(
        bad_wait.json()["errors"]["wait"]["_errors"][0]["code"],
        "BOOLEAN_TYPE_COERCE"
    );

    let not_a_webhook = h
        .send(h.request(&format!("{base}/api/webhooks/abc/t"), &content("a")))
        .await;
    assert_eq!(not_a_webhook.status, 404);
    assert_eq!(not_a_webhook.json()["code"], 0);
    let get = h
        .send(h.client.get(format!("{base}/api/webhooks/1/t")))
        .await;
    assert_eq!(get.status, 405);
}

#[tokio::test]
async fn waiting_for_messages_returns_what_there_is() {
    let h = Harness::start().await;
    let capture = h.capture.clone();
    let waiter =
        tokio::spawn(async move { capture.wait_for_messages(2, Duration::from_secs(5)).await });
    h.post("1", &content("a")).await;
    h.post("1", &content("b")).await;
    assert_eq!(waiter.await.expect("waiter").len(), 2);
    let short = h
        .capture
        .wait_for_messages(3, Duration::from_millis(50))
        .await;
    assert_eq!(short.len(), 2);
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let h = Harness::start().await;
    let url = h.url("1");
    h.handle.shutdown().await;
    let request = h
        .client
        .post(url)
        .body("{}")
        .timeout(Duration::from_secs(2));
    assert!(request.send().await.is_err());
}
