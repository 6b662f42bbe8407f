//! Both store backends, ready for one test each: the store under test, a second,
//! independent handle on the same data (another SQLite connection, another DynamoDB
//! client, as a second sweeper process would have), and a raw writer that puts items the
//! way a human or a bug would, past every check of the store.

use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use run_notifier::store::dynamodb::DynamoStore;
use run_notifier::store::sqlite::SqliteStore;
use run_notifier::store::Store;
use rusqlite::types::Value;
use tempfile::TempDir;

use super::moto::moto;

/// One attribute of a hand-written item.
#[derive(Clone, Copy, Debug)]
pub enum RawAttr<'a> {
    /// A string (DynamoDB `S`, SQLite TEXT).
    S(&'a str),
    /// A number (DynamoDB `N`, SQLite INTEGER).
    N(i64),
    /// A type no attribute of ours ever has (DynamoDB `BOOL`, SQLite BLOB).
    Odd,
}

/// Writes items straight into a backend, without the store's code.
pub enum RawWriter {
    /// A `rusqlite` connection of its own on the store's file.
    Sqlite(PathBuf),
    /// `PutItem` with a plain SDK client.
    DynamoDb {
        client: aws_sdk_dynamodb::Client,
        table: String,
    },
}

impl RawWriter {
    /// Puts `item` as it is (the names are DynamoDB attributes, and SQLite columns).
    pub async fn put(&self, item: &[(&str, RawAttr<'_>)]) {
        match self {
            Self::Sqlite(path) => {
                let columns: Vec<&str> = item.iter().map(|(name, _)| *name).collect();
                let placeholders: Vec<String> = (1..=item.len()).map(|i| format!("?{i}")).collect();
                let sql = format!(
                    "INSERT INTO runs ({}) VALUES ({})",
                    columns.join(", "),
                    placeholders.join(", ")
                );
                let values: Vec<Value> = item
                    .iter()
                    .map(|(_, value)| match value {
                        RawAttr::S(text) => Value::Text((*text).to_string()),
                        RawAttr::N(number) => Value::Integer(*number),
                        RawAttr::Odd => Value::Blob(vec![1, 2, 3]),
                    })
                    .collect();
                let path = path.clone();
                tokio::task::spawn_blocking(move || {
                    let connection = rusqlite::Connection::open(&path).expect("open the file");
                    connection
                        .busy_timeout(Duration::from_secs(30))
                        .expect("busy timeout");
                    connection
                        .execute(&sql, rusqlite::params_from_iter(values))
                        .expect("raw INSERT");
                })
                .await
                .expect("the raw write ran");
            }
            Self::DynamoDb { client, table } => {
                let item = item
                    .iter()
                    .map(|(name, value)| {
                        let value = match value {
                            RawAttr::S(text) => AttributeValue::S((*text).to_string()),
                            RawAttr::N(number) => AttributeValue::N(number.to_string()),
                            RawAttr::Odd => AttributeValue::Bool(true),
                        };
                        ((*name).to_string(), value)
                    })
                    .collect();
                client
                    .put_item()
                    .table_name(table)
                    .set_item(Some(item))
                    .send()
                    .await
                    .expect("raw PutItem");
            }
        }
    }
}

/// A store under test, with what a contract case needs around it.
pub struct Fixture<S> {
    /// The store the case drives and whose operations it counts.
    pub store: S,
    /// Another handle on the same data, with its own connection or client.
    pub other: S,
    /// Writes hand-made items.
    pub raw: RawWriter,
    /// Keeps the SQLite file's directory alive for the test.
    _dir: Option<TempDir>,
}

/// A SQLite store on a new file in a temporary directory.
pub async fn sqlite_fixture() -> Fixture<SqliteStore> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("state.db");
    let store = SqliteStore::open(&path).await.expect("the file opens");
    store.init().await.expect("init");
    let other = SqliteStore::open(&path)
        .await
        .expect("a second handle opens");
    Fixture {
        store,
        other,
        raw: RawWriter::Sqlite(path),
        _dir: Some(dir),
    }
}

/// A DynamoDB store on a new table of the shared moto server.
pub async fn dynamodb_fixture() -> Fixture<DynamoStore> {
    let moto = moto();
    let (table, store) = moto.fresh_table().await;
    Fixture {
        store,
        other: DynamoStore::new(moto.client(), table.clone()),
        raw: RawWriter::DynamoDb {
            client: moto.client(),
            table,
        },
        _dir: None,
    }
}
