//! Where a run lives on the runtime: the base URL and the per-run addresses built on it.
//!
//! A caller may choose any run id (spaces, `/`, `?`, `#`, non-ASCII), so the id always
//! goes into a URL percent-encoded as exactly one path segment, in requests and in the
//! links of a message alike.

use std::fmt;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use url::Url;

/// Everything but RFC 3986's unreserved characters is encoded, so no character of an id
/// can end the segment, start a query or a fragment, or be re-read as something else.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Why a run id cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RunIdError {
    /// Nothing but whitespace.
    #[error("the run id is empty")]
    Empty,
    /// `.` and `..` are path navigation, not names: URL parsers collapse them, so such a
    /// run could never be addressed.
    #[error("the run id {0:?} cannot be addressed in a URL path")]
    DotSegment(String),
}

/// A run id, trimmed as the runtime trims it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(String);

impl RunId {
    /// Validates and trims a run id.
    pub fn parse(raw: &str) -> Result<Self, RunIdError> {
        let id = raw.trim();
        match id {
            "" => Err(RunIdError::Empty),
            "." | ".." => Err(RunIdError::DotSegment(id.to_string())),
            _ => Ok(Self(id.to_string())),
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a runtime base URL cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BaseUrlError {
    /// Not a URL at all.
    #[error("the runtime URL is not a valid URL ({0}); expected e.g. http://127.0.0.1:5080")]
    Invalid(String),
    /// Another scheme than http or https.
    #[error("the runtime URL must start with http:// or https://, not {0}://")]
    Scheme(String),
    /// A query or fragment would be lost or misplaced when paths are appended.
    #[error("the runtime URL must not have a query or fragment")]
    QueryOrFragment,
}

/// The runtime's base URL (`BASE_URL`), e.g. `http://127.0.0.1:5080` or a URL with a path
/// prefix behind a proxy.
#[derive(Clone, PartialEq, Eq)]
pub struct RuntimeBase(Url);

impl RuntimeBase {
    /// Validates a base URL: http(s), no query or fragment; a trailing `/` is ignored.
    pub fn parse(raw: &str) -> Result<Self, BaseUrlError> {
        let url = Url::parse(raw.trim()).map_err(|e| BaseUrlError::Invalid(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(BaseUrlError::Scheme(url.scheme().to_string()));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(BaseUrlError::QueryOrFragment);
        }
        Ok(Self(url))
    }

    /// `<base>/runs/<id>`.
    pub fn run_url(&self, run: &RunId) -> Url {
        self.join(run, "")
    }

    /// `<base>/runs/<id>/tasks`, with `?limit=` when given.
    pub fn tasks_url(&self, run: &RunId, limit: Option<u16>) -> Url {
        let mut url = self.join(run, "/tasks");
        if let Some(limit) = limit {
            url.query_pairs_mut()
                .append_pair("limit", &limit.to_string());
        }
        url
    }

    /// `<base>/runs/<id>/events`.
    pub fn events_url(&self, run: &RunId) -> Url {
        self.join(run, "/events")
    }

    fn join(&self, run: &RunId, suffix: &str) -> Url {
        let segment = utf8_percent_encode(run.as_str(), PATH_SEGMENT);
        let base = self.0.as_str().trim_end_matches('/');
        let joined = format!("{base}/runs/{segment}{suffix}");
        // The base parsed as a URL and the id is fully encoded, so this cannot fail; if
        // it ever did, the base itself is the best address left to show.
        Url::parse(&joined).unwrap_or_else(|_| self.0.clone())
    }
}

/// Shows the URL without any user name or password it may carry.
impl fmt::Display for RuntimeBase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&without_credentials(&self.0))
    }
}

impl fmt::Debug for RuntimeBase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RuntimeBase({self})")
    }
}

/// The three addresses a message links to, as people may see them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunLinks {
    /// `<base>/runs/<id>`.
    pub run: String,
    /// `<base>/runs/<id>/tasks`.
    pub tasks: String,
    /// `<base>/runs/<id>/events`.
    pub events: String,
}

impl RunLinks {
    /// The links of one run.
    pub fn new(base: &RuntimeBase, run: &RunId) -> Self {
        Self {
            run: without_credentials(&base.run_url(run)),
            tasks: without_credentials(&base.tasks_url(run, None)),
            events: without_credentials(&base.events_url(run)),
        }
    }
}

/// A URL as it may be shown to people: credentials in its user-info part removed.
pub fn without_credentials(url: &Url) -> String {
    let mut shown = url.clone();
    // Both setters only fail for URLs that cannot have credentials, which have none.
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(raw: &str) -> RuntimeBase {
        RuntimeBase::parse(raw).expect("valid base")
    }

    fn id(raw: &str) -> RunId {
        RunId::parse(raw).expect("valid id")
    }

    #[test]
    fn plain_ids_make_plain_urls() {
        let base = base("http://127.0.0.1:5080");
        let run = id("run-abc123");
        assert_eq!(
            base.run_url(&run).as_str(),
            "http://127.0.0.1:5080/runs/run-abc123"
        );
        assert_eq!(
            base.tasks_url(&run, Some(500)).as_str(),
            "http://127.0.0.1:5080/runs/run-abc123/tasks?limit=500"
        );
        assert_eq!(
            base.events_url(&run).as_str(),
            "http://127.0.0.1:5080/runs/run-abc123/events"
        );
    }

    #[test]
    fn odd_ids_stay_one_segment() {
        let base = base("http://h:1/prefix/");
        let url = base.tasks_url(&id(" a/b?c#d é %2F "), None);
        assert_eq!(
            url.as_str(),
            "http://h:1/prefix/runs/a%2Fb%3Fc%23d%20%C3%A9%20%252F/tasks"
        );
        assert_eq!(url.query(), None);
        assert_eq!(url.fragment(), None);
        assert_eq!(url.path_segments().map(Iterator::count), Some(4));
    }

    #[test]
    fn ids_are_trimmed_and_must_name_something() {
        assert_eq!(id("  run-1\n").as_str(), "run-1");
        assert_eq!(RunId::parse(" \t"), Err(RunIdError::Empty));
        assert!(matches!(RunId::parse(".."), Err(RunIdError::DotSegment(_))));
        assert!(matches!(
            RunId::parse(" . "),
            Err(RunIdError::DotSegment(_))
        ));
        assert_eq!(id("...").as_str(), "...");
    }

    #[test]
    fn bad_bases_are_explained() {
        assert!(matches!(
            RuntimeBase::parse("127.0.0.1:5080"),
            Err(BaseUrlError::Invalid(_))
        ));
        assert_eq!(
            RuntimeBase::parse("localhost:5080"),
            Err(BaseUrlError::Scheme("localhost".into()))
        );
        assert_eq!(
            RuntimeBase::parse("ftp://h/"),
            Err(BaseUrlError::Scheme("ftp".into()))
        );
        assert_eq!(
            RuntimeBase::parse("http://h/?x=1"),
            Err(BaseUrlError::QueryOrFragment)
        );
        assert!(matches!(
            RuntimeBase::parse("not a url"),
            Err(BaseUrlError::Invalid(_))
        ));
    }

    #[test]
    fn credentials_never_show() {
        let base = base("https://user:pa55@h.example/rt");
        assert_eq!(base.to_string(), "https://h.example/rt");
        assert!(!format!("{base:?}").contains("pa55"));
    }
}
