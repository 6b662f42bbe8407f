//! The query string of an execute-webhook request: `wait` and `thread_id`.

use percent_encoding::percent_decode_str;
use serde_json::{json, Map, Value};

use super::rules::is_snowflake;

/// The query parameters that change a request's outcome; others are ignored, as Discord
/// ignores them.
#[derive(Debug, Default)]
pub(super) struct Query {
    /// `wait=true`: answer 200 with the message instead of 204.
    pub(super) wait: bool,
    /// Post into this thread.
    pub(super) thread_id: Option<String>,
}

/// Parses `wait` and `thread_id`; a malformed value gives a 50035 `errors` tree, as on
/// Discord.
pub(super) fn parse_query(raw: Option<&str>) -> Result<Query, Value> {
    let mut query = Query::default();
    let mut errors = Map::new();
    for (key, value) in raw.unwrap_or("").split('&').filter_map(query_pair) {
        match key.as_str() {
            "wait" => match parse_bool(&value) {
                Some(wait) => query.wait = wait,
                None => {
                    let message = format!("Value {value:?} is not bool.");
                    errors.insert(key, error("BOOLEAN_TYPE_COERCE", &message));
                }
            },
            "thread_id" if is_snowflake(&value) => query.thread_id = Some(value),
            "thread_id" => {
                let message = format!("Value {value:?} is not snowflake.");
                errors.insert(key, error("NUMBER_TYPE_COERCE", &message));
            }
            _ => {}
        }
    }
    if errors.is_empty() {
        Ok(query)
    } else {
        Err(Value::Object(errors))
    }
}

fn error(code: &str, message: &str) -> Value {
    json!({"_errors": [{"code": code, "message": message}]})
}

/// One `key=value` pair of a query string, decoded; `None` for an empty piece.
fn query_pair(piece: &str) -> Option<(String, String)> {
    if piece.is_empty() {
        return None;
    }
    let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
    Some((decode_component(key), decode_component(value)))
}

fn decode_component(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// Discord reads query booleans loosely, the way Python form parsing does.
fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}
