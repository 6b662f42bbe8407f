//! DynamoDB for tests: `moto_server` on 127.0.0.1.
//!
//! `scripts/test.sh` starts one and exports `NOTIFIER_TEST_MOTO_ENDPOINT`; without it
//! (a bare `cargo test`), the first test that needs DynamoDB starts one from `.venv`,
//! and it is stopped when the test binary exits. Either way it runs through
//! `scripts/moto_server_serial.py`, one request at a time, because the threaded server
//! does not apply conditional writes atomically (real DynamoDB does).

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use run_notifier::store::dynamodb::DynamoStore;
use run_notifier::store::Store;

/// A running moto server.
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

static MOTO: OnceLock<Moto> = OnceLock::new();
static STARTED_PID: AtomicI32 = AtomicI32::new(0);
static TABLES: AtomicU32 = AtomicU32::new(0);

extern "C" fn stop_started_moto() {
    let pid = STARTED_PID.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: sending a signal to a process we started has no memory effects.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
}

/// The shared moto server, started on first use when `scripts/test.sh` did not.
pub fn moto() -> &'static Moto {
    MOTO.get_or_init(|| {
        if let Ok(endpoint) = std::env::var("NOTIFIER_TEST_MOTO_ENDPOINT") {
            return Moto { endpoint };
        }
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let python = repo.join(".venv/bin/python");
        assert!(
            repo.join(".venv/bin/moto_server").exists(),
            "moto is not in {}: run scripts/test.sh once, it installs the pinned moto[server] into .venv",
            repo.join(".venv").display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        // The server must outlive this call: it serves every test of the binary and is
        // stopped by `stop_started_moto` at exit, so it is deliberately never waited on.
        #[allow(clippy::zombie_processes)]
        let child = Command::new(python)
            .arg(repo.join("scripts/moto_server_serial.py"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        STARTED_PID.store(i32::try_from(child.id()).unwrap_or(0), Ordering::SeqCst);
        // SAFETY: registers a plain function to run at process exit.
        unsafe {
            libc::atexit(stop_started_moto);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    })
}

impl Moto {
    /// The environment a `run-notifier` process needs to use this server.
    pub fn env(&self) -> [(&'static str, String); 4] {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ]
    }

    /// A DynamoDB client for this server.
    pub fn client(&self) -> aws_sdk_dynamodb::Client {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    /// A new, empty table (created like `run-notifier store init` does), and its name.
    pub async fn fresh_table(&self) -> (String, DynamoStore) {
        let name = format!(
            "rn-test-{}-{}-{:04x}",
            std::process::id(),
            TABLES.fetch_add(1, Ordering::SeqCst),
            fastrand::u16(..)
        );
        let store = DynamoStore::new(self.client(), name.clone());
        store.init().await.expect("the table is created");
        (name, store)
    }
}
