//! `run-notifier watch` end to end: the real binary against the simulated runtime and the
//! Discord capture, over HTTP.

mod common;

use std::time::{Duration, Instant};

use common::*;
use run_notifier::sim::discord::DiscordFault;
use run_notifier::sim::runtime::RuntimeFault;

const LIMIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn the_plans_acceptance_one_message_with_counts_and_attention() {
    let world = World::start().await;
    let terminal_at = Instant::now() + Duration::from_secs(3);
    world.runtime.upsert_run(plan_run("run-plan", 3.0));
    let poll = 1.0;
    let done = run(
        world
            .watch("run-plan")
            .env("POLL_SECONDS", poll.to_string()),
        LIMIT,
    )
    .await;

    assert_eq!(done.code, 0, "{}", done.stderr);
    let messages = world.messages();
    assert_eq!(messages.len(), 1, "exactly one message");
    let embed = embed(&messages[0]);
    assert_eq!(text(embed, "title"), "Run finished: run-plan");
    let description = text(embed, "description");
    assert!(
        description.contains("**attention-required**"),
        "{description}"
    );
    assert!(
        description.contains("done=12 failed=2 blocked=1 total=15"),
        "{description}"
    );
    assert!(
        description.contains("**Lint**: clippy found 3 warnings"),
        "{description}"
    );
    assert_eq!(embed["color"], 0xE7_4C_3C);
    assert_eq!(
        messages[0].body["allowed_mentions"],
        serde_json::json!({"parse": []})
    );
    assert!(!messages[0].pings_someone);
    assert!(
        done.stdout.contains("outcome: attention-required"),
        "{}",
        done.stdout
    );
    assert!(done
        .stdout
        .contains("counts:  done=12 failed=2 blocked=1 total=15"));
    world.assert_no_violations();

    // Notified only once the run was terminal, and within one poll interval of it (plus
    // a little for the process and a loaded machine).
    assert!(
        messages[0].received_at >= terminal_at,
        "announced before the run finished"
    );
    let late = done.exited_at.saturating_duration_since(terminal_at);
    assert!(
        late <= Duration::from_secs_f64(poll + 0.75),
        "exited {late:?} after the run finished"
    );
}

#[tokio::test]
async fn fail_on_attention_sets_exit_1_and_success_stays_0() {
    let world = World::start().await;
    world.runtime.upsert_run(plan_run("run-bad", 0.2));
    world
        .runtime
        .upsert_run(run_of("run-good", vec![task("t", "T", &[(0.0, "DONE")])]));
    let bad = run(world.watch("run-bad").env("FAIL_ON_ATTENTION", "1"), LIMIT).await;
    assert_eq!(bad.code, 1, "{}", bad.stderr);
    let good = run(world.watch("run-good").env("FAIL_ON_ATTENTION", "1"), LIMIT).await;
    assert_eq!(good.code, 0, "{}", good.stderr);
    let messages = world.messages();
    assert_eq!(messages.len(), 2);
    let good_embed = embed(&messages[1]);
    assert!(text(good_embed, "description").starts_with("✅ **success**"));
    assert_eq!(good_embed["color"], 0x2E_CC_71);
}

#[tokio::test]
async fn sixty_tasks_are_not_announced_until_all_sixty_finish() {
    let world = World::start().await;
    let mut tasks: Vec<_> = (0..50)
        .map(|i| task(&format!("a{i:02}"), "early", &[(0.0, "done")]))
        .collect();
    tasks.extend((50..60).map(|i| {
        task(
            &format!("b{i:02}"),
            "late",
            &[(0.0, "building"), (1.5, "done")],
        )
    }));
    let last_done = Instant::now() + Duration::from_millis(1500);
    world.runtime.upsert_run(run_of("run-sixty", tasks));
    let done = run(&mut world.watch("run-sixty"), LIMIT).await;
    assert_eq!(done.code, 0, "{}", done.stderr);
    let messages = world.messages();
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0].received_at >= last_done,
        "announced with tasks still building"
    );
    assert!(
        text(embed(&messages[0]), "description").contains("done=60 failed=0 blocked=0 total=60")
    );
}

#[tokio::test]
async fn a_run_with_no_tasks_yet_is_not_finished() {
    let world = World::start().await;
    let appears = Instant::now() + Duration::from_millis(1200);
    world
        .runtime
        .upsert_run(run_of("run-late", vec![task("t", "T", &[(1.2, "done")])]));
    let done = run(&mut world.watch("run-late"), LIMIT).await;
    assert_eq!(done.code, 0, "{}", done.stderr);
    let messages = world.messages();
    assert_eq!(messages.len(), 1);
    assert!(messages[0].received_at >= appears);
}

#[tokio::test]
async fn max_wait_posts_a_still_running_notice_and_exits_3() {
    let world = World::start().await;
    world.runtime.upsert_run(run_of("run-empty", vec![]));
    world.runtime.upsert_run(run_of(
        "run-odd-status",
        vec![
            task("a", "A", &[(0.0, "done")]),
            task("b", "B", &[(0.0, "Paused")]),
        ],
    ));
    for (run_id, state) in [
        ("run-empty", "done=0 failed=0 blocked=0 total=0"),
        (
            "run-odd-status",
            "done=1 failed=0 blocked=0 total=2 paused=1",
        ),
    ] {
        let started = Instant::now();
        let done = run(world.watch(run_id).env("MAX_WAIT_SECONDS", "1"), LIMIT).await;
        assert_eq!(done.code, 3, "{run_id}: {}", done.stderr);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(done.stdout.contains("Run still running"), "{}", done.stdout);
        let notice = world.messages().pop().expect("a notice");
        let body = notice.body.to_string();
        assert!(!body.contains("Run finished"), "{body}");
        assert!(text(embed(&notice), "title").starts_with(&format!("Run still running: {run_id}")));
        assert!(
            text(embed(&notice), "description").contains(state),
            "{body}"
        );
    }
    assert_eq!(world.messages().len(), 2);
}

#[tokio::test]
async fn the_wait_limit_holds_even_while_the_runtime_is_stuck() {
    let world = World::start().await;
    world.runtime.upsert_run(run_of(
        "run-stuck",
        vec![task("t", "T", &[(0.0, "building")])],
    ));
    world
        .runtime
        .push_faults([RuntimeFault::Slow(Duration::from_secs(30))]);
    let started = Instant::now();
    let mut command = world.watch("run-stuck");
    command
        .env("MAX_WAIT_SECONDS", "1")
        .env("HTTP_TIMEOUT_SECONDS", "20");
    let done = run(&mut command, LIMIT).await;
    assert_eq!(done.code, 3, "{}", done.stderr);
    // The limit plus the last look's short grace, not the 20 s request timeout.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn runtime_faults_are_survived() {
    let world = World::start().await;
    world.runtime.upsert_run(plan_run("run-faulty", 0.1));
    world.runtime.push_faults([
        RuntimeFault::ServerError,
        RuntimeFault::HtmlErrorPage,
        RuntimeFault::EmptyBody,
        RuntimeFault::TruncatedJson,
        RuntimeFault::ConnectionReset,
        RuntimeFault::Slow(Duration::from_secs(3)),
        RuntimeFault::ServerError,
        RuntimeFault::HtmlErrorPage,
    ]);
    let done = run(
        world.watch("run-faulty").env("HTTP_TIMEOUT_SECONDS", "1"),
        LIMIT,
    )
    .await;
    assert_eq!(done.code, 0, "{}", done.stderr);
    let messages = world.messages();
    assert_eq!(messages.len(), 1);
    assert!(
        text(embed(&messages[0]), "description").contains("done=12 failed=2 blocked=1 total=15")
    );
}

#[tokio::test]
async fn discord_429_is_waited_out_never_early() {
    let world = World::start().await;
    world.runtime.upsert_run(plan_run("run-429", 0.0));
    world.discord.push_faults([DiscordFault::RateLimited {
        retry_after: 1.2,
        global: false,
    }]);
    let done = run(&mut world.watch("run-429"), LIMIT).await;
    assert_eq!(done.code, 0, "{}", done.stderr);
    let attempts = world.discord.attempts();
    assert_eq!(
        attempts.iter().map(|a| a.status).collect::<Vec<_>>(),
        [429, 200]
    );
    assert!(attempts[1].at.duration_since(attempts[0].at) >= Duration::from_millis(1200));
    assert_eq!(world.messages().len(), 1);
    world.assert_no_violations();
}

#[tokio::test]
async fn discord_5xx_is_retried() {
    let world = World::start().await;
    world.runtime.upsert_run(plan_run("run-5xx", 0.0));
    world.discord.push_faults([
        DiscordFault::Status(502),
        DiscordFault::Status(500),
        DiscordFault::Status(503),
    ]);
    let done = run(&mut world.watch("run-5xx"), LIMIT).await;
    assert_eq!(done.code, 0, "{}", done.stderr);
    let statuses: Vec<_> = world.discord.attempts().iter().map(|a| a.status).collect();
    assert_eq!(statuses, [502, 500, 503, 200]);
    assert_eq!(world.messages().len(), 1);
}

#[tokio::test]
async fn a_deleted_webhook_stops_at_once_with_exit_4() {
    let world = World::start().await;
    world.runtime.upsert_run(plan_run("run-404", 0.0));
    world.discord.forget_webhook(WEBHOOK_ID);
    let done = run(&mut world.watch("run-404"), LIMIT).await;
    assert_eq!(done.code, 4, "{}", done.stderr);
    assert_eq!(world.discord.attempts().len(), 1, "exactly one try");
    assert!(done.stderr.contains("does not exist"), "{}", done.stderr);
    assert!(
        done.stderr.contains("DISCORD_WEBHOOK_URL"),
        "{}",
        done.stderr
    );
}

#[tokio::test]
async fn a_bad_token_stops_with_exit_4() {
    let world = World::start().await;
    world.runtime.upsert_run(plan_run("run-401", 0.0));
    world.discord.push_faults([DiscordFault::Status(401)]);
    let done = run(&mut world.watch("run-401"), LIMIT).await;
    assert_eq!(done.code, 4, "{}", done.stderr);
    assert!(done.stderr.contains("token"), "{}", done.stderr);
}

#[tokio::test]
async fn an_unknown_run_stops_with_exit_2_naming_run_and_url() {
    let world = World::start().await;
    let done = run(&mut world.watch("run-nobody-knows"), LIMIT).await;
    assert_eq!(done.code, 2, "{}", done.stderr);
    assert!(done.stderr.contains("run-nobody-knows"), "{}", done.stderr);
    assert!(
        done.stderr.contains("/runs/run-nobody-knows"),
        "{}",
        done.stderr
    );
    assert!(world.messages().is_empty());
}

#[tokio::test]
async fn the_api_key_is_sent_and_a_missing_one_is_explained() {
    let world = World::start_with_key(Some(API_KEY)).await;
    world.runtime.upsert_run(plan_run("run-keyed", 0.0));
    let without = run(&mut world.watch("run-keyed"), LIMIT).await;
    assert_eq!(without.code, 2, "{}", without.stderr);
    assert!(
        without.stderr.contains("set RUNTIME_API_KEY"),
        "{}",
        without.stderr
    );
    let with = run(
        world.watch("run-keyed").env("RUNTIME_API_KEY", API_KEY),
        LIMIT,
    )
    .await;
    assert_eq!(with.code, 0, "{}", with.stderr);
    assert_eq!(world.messages().len(), 1);
}

#[tokio::test]
async fn task_text_pings_nobody_and_renders_literally() {
    let world = World::start().await;
    world.runtime.upsert_run(run_of(
        "run-mentions",
        vec![ending(
            "t",
            "@everyone **boom**",
            0.0,
            "failed",
            "<@&123> @here `rm -rf`",
        )],
    ));
    let done = run(&mut world.watch("run-mentions"), LIMIT).await;
    assert_eq!(done.code, 0, "{}", done.stderr);
    let message = world.messages().pop().expect("a message");
    assert!(!message.pings_someone);
    let description = text(embed(&message), "description");
    assert!(
        description.contains(r"@everyone \*\*boom\*\*"),
        "{description}"
    );
    assert!(!description.contains("**boom**"), "{description}");
}

#[tokio::test]
async fn forty_failed_tasks_with_long_errors_make_a_valid_message() {
    let world = World::start().await;
    let error = "E".repeat(900);
    let tasks = (0..40)
        .map(|i| {
            ending(
                &format!("t{i}"),
                &format!("Failing task {i}"),
                0.0,
                "failed",
                &error,
            )
        })
        .collect();
    world.runtime.upsert_run(run_of("run-forty", tasks));
    let done = run(&mut world.watch("run-forty"), LIMIT).await;
    assert_eq!(done.code, 0, "{}", done.stderr);
    let statuses: Vec<_> = world.discord.attempts().iter().map(|a| a.status).collect();
    assert_eq!(statuses, [200], "Discord accepted it the first time");
    let description = text(embed(&world.messages()[0]), "description").to_string();
    assert!(description.contains(" more"), "{description}");
}

#[tokio::test]
async fn odd_run_ids_are_one_path_segment() {
    let world = World::start().await;
    let odd = "odd/id?x=1#frag é";
    world
        .runtime
        .upsert_run(run_of(odd, vec![task("t", "T", &[(0.0, "done")])]));
    let done = run(&mut world.watch(&format!("  {odd} ")), LIMIT).await;
    assert_eq!(done.code, 0, "{}", done.stderr);
    let message = world.messages().pop().expect("a message");
    let url = text(embed(&message), "url");
    assert!(
        url.ends_with("/runs/odd%2Fid%3Fx%3D1%23frag%20%C3%A9"),
        "{url}"
    );
}

#[tokio::test]
async fn dry_run_prints_the_body_and_posts_nothing() {
    let world = World::start().await;
    world.runtime.upsert_run(plan_run("run-dry", 0.0));
    let mut command = world.watch("run-dry");
    command.env_remove("DISCORD_WEBHOOK_URL").arg("--dry-run");
    let done = run(&mut command, LIMIT).await;
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert!(world.discord.attempts().is_empty());
    let json_end = done.stdout.find("\n}\n").expect("a JSON body on stdout") + 2;
    let body: serde_json::Value =
        serde_json::from_str(&done.stdout[..json_end]).expect("valid JSON");
    assert_eq!(body["embeds"][0]["title"], "Run finished: run-dry");
    if let Some(dir) = std::env::var_os("DISCORD_BODIES_DIR") {
        std::fs::write(
            std::path::Path::new(&dir).join("dry-run.json"),
            body.to_string(),
        )
        .expect("body recorded");
    }
}

#[tokio::test]
async fn ctrl_c_exits_promptly() {
    let world = World::start().await;
    world.runtime.upsert_run(run_of(
        "run-forever",
        vec![task("t", "T", &[(0.0, "building")])],
    ));
    let child = world
        .watch("run-forever")
        .env("POLL_SECONDS", "30")
        .spawn()
        .expect("starts");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let pid = child.id().expect("running").to_string();
    let interrupted = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let done = wait(child, Duration::from_secs(5)).await;
    assert_eq!(done.code, 130, "{}", done.stderr);
    assert!(interrupted.elapsed() < Duration::from_secs(2));
    assert!(world.messages().is_empty());
}

#[tokio::test]
async fn bad_configuration_exits_2_with_a_clear_message() {
    let world = World::start().await;
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("RUN_ID", " ")], "run id is empty"),
        (&[("POLL_SECONDS", "soon")], "not a number of seconds"),
        (&[("BASE_URL", "localhost:5080")], "runtime URL"),
        (
            &[(
                "DISCORD_WEBHOOK_URL",
                "https://discord.com/api/hooks/1/tOkEn-SeCrEt-4f9a1c",
            )],
            "/webhooks/<id>/<token>",
        ),
        (&[("FAIL_ON_ATTENTION", "maybe")], "FAIL_ON_ATTENTION"),
    ];
    for (env, expected) in cases {
        let mut command = world.watch("run-x");
        for (key, value) in env {
            command.env(key, value);
        }
        let done = run(&mut command, LIMIT).await;
        assert_eq!(done.code, 2, "{env:?}: {}", done.stderr);
        assert!(done.stderr.contains(expected), "{env:?}: {}", done.stderr);
        assert!(
            !done.all_output().contains(TOKEN),
            "{env:?} leaked the token"
        );
    }
    let mut missing = binary();
    missing.arg("watch").env("RUN_ID", "r");
    let done = run(&mut missing, LIMIT).await;
    assert_eq!(done.code, 2);
    assert!(done.stderr.contains("--webhook-url"), "{}", done.stderr);
}

#[tokio::test]
async fn help_explains_every_flag_its_variable_and_the_exit_codes() {
    let done = run(
        binary().args(["watch", "--help"]).env(
            "DISCORD_WEBHOOK_URL",
            "https://x/webhooks/1/tOkEn-SeCrEt-4f9a1c",
        ),
        LIMIT,
    )
    .await;
    assert_eq!(done.code, 0);
    for needle in [
        "BASE_URL",
        "RUN_ID",
        "DISCORD_WEBHOOK_URL",
        "POLL_SECONDS",
        "MAX_WAIT_SECONDS",
        "FAIL_ON_ATTENTION",
        "RUNTIME_API_KEY",
        "--dry-run",
        "Exit codes",
        "130",
    ] {
        assert!(done.stdout.contains(needle), "--help lacks {needle}");
    }
    assert!(
        !done.stdout.contains(TOKEN),
        "--help shows the webhook URL from the environment"
    );
}
