//! `NOTIFIER_STORE`: which store, and the one type the commands hold.

use std::path::PathBuf;

use super::dynamodb::DynamoStore;
use super::sqlite::SqliteStore;
use super::{Claim, Completion, OpCounts, Registered, Stamp, Store, StoreError};
use crate::links::RunId;
use crate::registry::{RawRecord, RawValue, Registration};

/// A parsed `NOTIFIER_STORE` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreSpec {
    /// `sqlite:<path>`.
    Sqlite(PathBuf),
    /// `dynamodb:<table>`; region and endpoint come from the standard AWS environment.
    DynamoDb(String),
}

impl StoreSpec {
    /// Parses `sqlite:<path>` or `dynamodb:<table>`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if let Some(path) = raw.strip_prefix("sqlite:") {
            if path.is_empty() {
                return Err("NOTIFIER_STORE=sqlite: needs a file path, e.g. sqlite:/var/lib/run-notifier/state.db".into());
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if let Some(table) = raw.strip_prefix("dynamodb:") {
            let valid = (3..=255).contains(&table.len())
                && table
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
            if !valid {
                return Err(format!("NOTIFIER_STORE=dynamodb:{table}: a DynamoDB table name has 3 to 255 letters, digits, '_', '-' or '.'"));
            }
            return Ok(Self::DynamoDb(table.to_string()));
        }
        Err(format!(
            "NOTIFIER_STORE={raw:?}: use sqlite:<path> or dynamodb:<table>"
        ))
    }

    /// The default: `$XDG_STATE_HOME/run-notifier/state.db`, or
    /// `~/.local/state/run-notifier/state.db`.
    pub fn default_sqlite() -> Result<Self, String> {
        let non_empty = |name| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let state_home = non_empty("XDG_STATE_HOME")
            .or_else(|| non_empty("HOME").map(|home| home.join(".local").join("state")))
            .ok_or("neither XDG_STATE_HOME nor HOME is set: set NOTIFIER_STORE=sqlite:<path>")?;
        Ok(Self::Sqlite(
            state_home.join("run-notifier").join("state.db"),
        ))
    }

    /// Opens the store (for SQLite: creates and migrates the file as needed).
    pub async fn open(&self) -> Result<AnyStore, StoreError> {
        match self {
            Self::Sqlite(path) => Ok(AnyStore::Sqlite(SqliteStore::open(path).await?)),
            Self::DynamoDb(table) => Ok(AnyStore::DynamoDb(DynamoStore::from_env(table).await)),
        }
    }
}

impl std::fmt::Display for StoreSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            Self::DynamoDb(table) => write!(f, "dynamodb:{table}"),
        }
    }
}

/// Either store, chosen at run time.
pub enum AnyStore {
    /// The embedded file.
    Sqlite(SqliteStore),
    /// The DynamoDB table.
    DynamoDb(DynamoStore),
}

/// Forwards a call to whichever store this is.
macro_rules! forward {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self {
            AnyStore::Sqlite(store) => store.$method($($arg),*).await,
            AnyStore::DynamoDb(store) => store.$method($($arg),*).await,
        }
    };
}

impl Store for AnyStore {
    async fn init(&self) -> Result<(), StoreError> {
        forward!(self.init())
    }
    async fn register(&self, registration: &Registration) -> Result<Registered, StoreError> {
        forward!(self.register(registration))
    }
    async fn unregister(&self, run_id: &RunId) -> Result<bool, StoreError> {
        forward!(self.unregister(run_id))
    }
    async fn open_records(&self) -> Result<Vec<RawRecord>, StoreError> {
        forward!(self.open_records())
    }
    async fn all_records(&self) -> Result<Vec<RawRecord>, StoreError> {
        forward!(self.all_records())
    }
    async fn record(&self, run_id: &str) -> Result<Option<RawRecord>, StoreError> {
        forward!(self.record(run_id))
    }
    async fn claim(&self, run_id: &RunId, claim: &Claim<'_>) -> Result<bool, StoreError> {
        forward!(self.claim(run_id, claim))
    }
    async fn complete(
        &self,
        run_id: &RunId,
        owner: &str,
        completion: &Completion,
        stamp: Stamp,
    ) -> Result<bool, StoreError> {
        forward!(self.complete(run_id, owner, completion, stamp))
    }
    async fn set_aside(
        &self,
        key: &RawValue,
        reason: &str,
        stamp: Stamp,
    ) -> Result<bool, StoreError> {
        forward!(self.set_aside(key, reason, stamp))
    }
    fn op_counts(&self) -> OpCounts {
        match self {
            AnyStore::Sqlite(store) => store.op_counts(),
            AnyStore::DynamoDb(store) => store.op_counts(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_mistakes_are_explained() {
        assert_eq!(
            StoreSpec::parse("sqlite:/tmp/x.db"),
            Ok(StoreSpec::Sqlite("/tmp/x.db".into()))
        );
        assert_eq!(
            StoreSpec::parse(" dynamodb:run-notifier "),
            Ok(StoreSpec::DynamoDb("run-notifier".into()))
        );
        assert!(StoreSpec::parse("sqlite:").is_err());
        assert!(StoreSpec::parse("dynamodb:a b").is_err());
        assert!(StoreSpec::parse("dynamodb:ab").is_err());
        let err = StoreSpec::parse("postgres://x").expect_err("unknown kind");
        assert!(err.contains("sqlite:<path> or dynamodb:<table>"), "{err}");
    }
}
