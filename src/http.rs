//! The one HTTP client the adapters share, and error text that is safe to show.

use std::time::Duration;

/// Builds the HTTP client used for the runtime and Discord alike: built once and reused,
/// so connections and TLS sessions are kept across polls and posts.
///
/// Redirects are not followed: a redirected webhook post would carry its token to
/// wherever the redirect points, and neither service redirects API calls.
pub fn client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// Describes a transport error without the request URL (which, for Discord, holds the
/// token): the error and its causes, joined.
pub fn describe(error: reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "no answer in time"
    } else if error.is_connect() {
        "cannot connect"
    } else if error.is_body() || error.is_decode() {
        "the answer broke off"
    } else {
        "request failed"
    };
    format!("{kind}: {}", cause_chain(&error.without_url()))
}

/// An error and its causes, joined with `: `.
pub fn cause_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
