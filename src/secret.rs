//! Values that must never reach a log line, an error message or a panic.
//!
//! The webhook URL carries its token (the whole credential: anyone holding the URL can
//! post) and the runtime API key opens the runtime. Both travel through configuration,
//! clients and error paths, so the type itself refuses to print them: `Debug` and
//! `Display` are redacted and the only way to the value is [`Secret::expose`], which makes
//! every use easy to audit with a grep.

use std::fmt;

/// A string whose value is only reachable through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself. Call it only where the value leaves for its destination
    /// (an HTTP header, a request URL), never to format a message.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = Secret::new("hunter2-token");
        assert_eq!(format!("{secret}"), "****");
        assert_eq!(format!("{secret:?}"), "Secret(****)");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(Secret(****))");
        assert_eq!(secret.expose(), "hunter2-token");
    }
}
