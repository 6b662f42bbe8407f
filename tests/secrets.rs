//! Neither the webhook token nor the runtime API key appears in any output, at any log
//! level, on any path: success, webhook rejected, runtime refusing the key, runtime
//! failing, rate limits and a bad webhook URL.

mod common;

use std::time::Duration;

use common::*;
use run_notifier::sim::discord::DiscordFault;
use run_notifier::sim::runtime::RuntimeFault;

const LIMIT: Duration = Duration::from_secs(60);

fn assert_clean(done: &Finished, case: &str) {
    let output = done.all_output();
    assert!(
        !output.contains(TOKEN),
        "{case}: the webhook token leaked:\n{output}"
    );
    assert!(
        !output.contains(API_KEY),
        "{case}: the API key leaked:\n{output}"
    );
    assert!(
        !output.contains("SeCrEt"),
        "{case}: a secret leaked:\n{output}"
    );
}

#[tokio::test]
async fn no_secret_in_any_output_at_trace_level() {
    let world = World::start_with_key(Some(API_KEY)).await;
    world.runtime.upsert_run(plan_run("run-s", 0.0));
    let watch = |world: &World| {
        let mut command = world.watch("run-s");
        command
            .env("RUNTIME_API_KEY", API_KEY)
            .env("NOTIFIER_LOG", "trace")
            .env("RUST_LOG", "trace");
        command
    };

    world
        .runtime
        .push_faults([RuntimeFault::ServerError, RuntimeFault::ConnectionReset]);
    world.discord.push_faults([
        DiscordFault::RateLimited {
            retry_after: 0.2,
            global: false,
        },
        DiscordFault::Status(500),
    ]);
    let done = run(&mut watch(&world), LIMIT).await;
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert!(
        done.stderr.contains("223344556677889900/****"),
        "the redacted webhook is shown: {}",
        done.stderr
    );
    assert_clean(&done, "success with faults");

    world.discord.push_faults([DiscordFault::Status(403)]);
    let done = run(&mut watch(&world), LIMIT).await;
    assert_eq!(done.code, 4);
    assert_clean(&done, "webhook forbidden");

    let done = run(
        watch(&world).env("RUNTIME_API_KEY", "key-SeCrEt-wrong"),
        LIMIT,
    )
    .await;
    assert_eq!(done.code, 2);
    assert_clean(&done, "wrong API key");

    let done = run(
        watch(&world).env(
            "DISCORD_WEBHOOK_URL",
            format!("https://discord.com/api/webhooks/abc/{TOKEN}"),
        ),
        LIMIT,
    )
    .await;
    assert_eq!(done.code, 2);
    assert_clean(&done, "bad webhook URL");

    let done = run(
        watch(&world)
            .env("BASE_URL", "http://127.0.0.1:9")
            .env("MAX_WAIT_SECONDS", "0.5"),
        LIMIT,
    )
    .await;
    assert_eq!(done.code, 3);
    assert_clean(&done, "runtime unreachable");

    world.discord.forget_webhook(WEBHOOK_ID);
    let done = run(&mut watch(&world), LIMIT).await;
    assert_eq!(done.code, 4);
    assert_clean(&done, "webhook deleted");
}
