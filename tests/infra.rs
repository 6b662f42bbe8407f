//! The SAM template (infra/template.yaml) and the code agree: `run-notifier store init`
//! creates the same table as the template's `RunsTable`, and the function resource is
//! built, sized, scheduled and configured the way the Lambda binary expects.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use aws_sdk_dynamodb::types::TimeToLiveStatus;
use common::moto::moto;
use common::{binary, run};
use run_notifier::store::dynamodb::SWEEP_INDEX;
use serde_yaml_ng::Value;

const LIMIT: Duration = Duration::from_secs(60);

fn template_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("infra/template.yaml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The template, CloudFormation tags (`!Ref`, `!Sub`, ...) kept as tagged values.
fn template() -> Value {
    serde_yaml_ng::from_str(&template_text()).expect("the template is YAML")
}

fn string<'a>(value: &'a Value, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is a plain string in the template: {value:?}"))
}

fn sequence<'a>(value: &'a Value, what: &str) -> &'a [Value] {
    value
        .as_sequence()
        .unwrap_or_else(|| panic!("{what} is a list in the template: {value:?}"))
}

/// `[{AttributeName, KeyType}]` of the template, in order.
fn template_keys(value: &Value, what: &str) -> Vec<(String, String)> {
    sequence(value, what)
        .iter()
        .map(|key| {
            (
                string(&key["AttributeName"], what).to_string(),
                string(&key["KeyType"], what).to_string(),
            )
        })
        .collect()
}

fn table_keys(keys: &[aws_sdk_dynamodb::types::KeySchemaElement]) -> Vec<(String, String)> {
    keys.iter()
        .map(|key| {
            (
                key.attribute_name().to_string(),
                key.key_type().as_str().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn store_init_creates_the_table_the_template_defines() {
    let template = template();
    let table = &template["Resources"]["RunsTable"];
    assert_eq!(table["Type"], "AWS::DynamoDB::Table");
    let properties = &table["Properties"];

    let moto = moto();
    let name = format!("rn-infra-{}-{:08x}", std::process::id(), fastrand::u32(..));
    let done = run(
        binary()
            .args(["store", "init"])
            .env("NOTIFIER_STORE", format!("dynamodb:{name}"))
            .envs(moto.env()),
        LIMIT,
    )
    .await;
    assert_eq!(done.code, 0, "store init failed:\n{}", done.stderr);

    let client = moto.client();
    let described = client
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .expect("DescribeTable");
    let created = described.table().expect("a table description");

    // Primary key.
    assert_eq!(
        table_keys(created.key_schema()),
        template_keys(&properties["KeySchema"], "KeySchema")
    );

    // Attribute definitions (order does not matter).
    let template_attributes: BTreeSet<(String, String)> =
        sequence(&properties["AttributeDefinitions"], "AttributeDefinitions")
            .iter()
            .map(|attribute| {
                (
                    string(&attribute["AttributeName"], "AttributeName").to_string(),
                    string(&attribute["AttributeType"], "AttributeType").to_string(),
                )
            })
            .collect();
    let created_attributes: BTreeSet<(String, String)> = created
        .attribute_definitions()
        .iter()
        .map(|attribute| {
            (
                attribute.attribute_name().to_string(),
                attribute.attribute_type().as_str().to_string(),
            )
        })
        .collect();
    assert_eq!(created_attributes, template_attributes);

    // The sparse index: its name, keys and projection.
    let template_indexes = sequence(&properties["GlobalSecondaryIndexes"], "GSIs");
    let created_indexes = created.global_secondary_indexes();
    assert_eq!(template_indexes.len(), 1, "one GSI in the template");
    assert_eq!(created_indexes.len(), 1, "one GSI on the table");
    let (template_index, created_index) = (&template_indexes[0], &created_indexes[0]);
    assert_eq!(
        string(&template_index["IndexName"], "IndexName"),
        SWEEP_INDEX
    );
    assert_eq!(created_index.index_name(), Some(SWEEP_INDEX));
    assert_eq!(
        table_keys(created_index.key_schema()),
        template_keys(&template_index["KeySchema"], "the GSI's KeySchema")
    );
    assert_eq!(
        created_index
            .projection()
            .and_then(|p| p.projection_type())
            .map(|t| t.as_str()),
        Some(string(
            &template_index["Projection"]["ProjectionType"],
            "ProjectionType"
        ))
    );

    // On-demand billing.
    assert_eq!(
        string(&properties["BillingMode"], "BillingMode"),
        "PAY_PER_REQUEST"
    );
    assert_eq!(
        created
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map(|m| m.as_str()),
        Some("PAY_PER_REQUEST")
    );

    // TTL on `expiresAt`.
    let ttl = &properties["TimeToLiveSpecification"];
    assert_eq!(ttl["Enabled"], true);
    assert_eq!(string(&ttl["AttributeName"], "TTL attribute"), "expiresAt");
    let described_ttl = client
        .describe_time_to_live()
        .table_name(&name)
        .send()
        .await
        .expect("DescribeTimeToLive");
    let ttl_description = described_ttl
        .time_to_live_description()
        .expect("a TTL description");
    assert_eq!(ttl_description.attribute_name(), Some("expiresAt"));
    assert!(
        matches!(
            ttl_description.time_to_live_status(),
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        ),
        "{ttl_description:?}"
    );

    // Point-in-time recovery, which `store init` turns on too.
    assert_eq!(
        properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    let backups = client
        .describe_continuous_backups()
        .table_name(&name)
        .send()
        .await
        .expect("DescribeContinuousBackups");
    let pitr = backups
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description())
        .and_then(|d| d.point_in_time_recovery_status())
        .map(|s| s.as_str().to_string());
    assert_eq!(pitr.as_deref(), Some("ENABLED"));

    // The table outlives the stack: registrations are not lost with it.
    assert_eq!(table["DeletionPolicy"], "Retain");
}

#[tokio::test]
async fn the_function_is_the_lambda_binary_on_arm64_with_its_schedule_and_no_webhook_url() {
    let template = template();
    let function = &template["Resources"]["SweepFunction"];
    assert_eq!(function["Type"], "AWS::Serverless::Function");
    assert_eq!(function["Metadata"]["BuildMethod"], "rust-cargolambda");
    assert_eq!(
        function["Metadata"]["BuildProperties"]["Binary"],
        "run-notifier-lambda"
    );
    let properties = &function["Properties"];
    assert_eq!(properties["Runtime"], "provided.al2023");
    assert_eq!(properties["Handler"], "bootstrap");
    let architectures: Vec<&str> = sequence(&properties["Architectures"], "Architectures")
        .iter()
        .map(|a| string(a, "an architecture"))
        .collect();
    assert_eq!(architectures, ["arm64"]);
    assert_eq!(properties["MemorySize"].as_u64(), Some(128));
    assert_eq!(properties["LoggingConfig"]["LogFormat"], "JSON");

    // The sweep's time fits the function's: the margin is kept within the timeout.
    let timeout = properties["Timeout"].as_u64().expect("Timeout");
    let variables = &properties["Environment"]["Variables"];
    let margin: u64 = string(
        &variables["NOTIFIER_DEADLINE_MARGIN_SECONDS"],
        "NOTIFIER_DEADLINE_MARGIN_SECONDS",
    )
    .parse()
    .expect("a number of seconds");
    let budget: u64 = string(
        &variables["NOTIFIER_SWEEP_BUDGET_SECONDS"],
        "NOTIFIER_SWEEP_BUDGET_SECONDS",
    )
    .parse()
    .expect("a number of seconds");
    assert!(
        margin < timeout && budget <= timeout - margin,
        "timeout {timeout}"
    );

    // One schedule, never retried (the next tick is the retry).
    let events = properties["Events"]
        .as_mapping()
        .expect("the function has events");
    assert_eq!(events.len(), 1, "{events:?}");
    let (_, schedule) = events.iter().next().expect("one event");
    assert_eq!(schedule["Type"], "ScheduleV2");
    assert_eq!(
        schedule["Properties"]["RetryPolicy"]["MaximumRetryAttempts"].as_u64(),
        Some(0)
    );

    // The webhook URL is never in the template: only the secret's ARN, a parameter.
    assert!(
        !template_text().contains("DISCORD_WEBHOOK_URL"),
        "the template must not carry the webhook URL"
    );
    assert!(template["Parameters"]["WebhookSecretArn"].is_mapping());
    let secret_ref = &variables["DISCORD_WEBHOOK_SECRET_ID"];
    match secret_ref {
        Value::Tagged(tagged) => {
            assert!(tagged.tag == "Ref", "{tagged:?}");
            assert_eq!(tagged.value, "WebhookSecretArn");
        }
        other => panic!("DISCORD_WEBHOOK_SECRET_ID is !Ref WebhookSecretArn: {other:?}"),
    }

    // Every variable the template sets is one the binary reads.
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_run-notifier-lambda"));
    command
        .arg("--help")
        .env_clear()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let help = run(&mut command, LIMIT).await;
    assert_eq!(help.code, 0, "{}", help.stderr);
    let names: Vec<&str> = variables
        .as_mapping()
        .expect("environment variables")
        .keys()
        .map(|key| string(key, "a variable name"))
        .collect();
    assert!(names.contains(&"NOTIFIER_STORE"), "{names:?}");
    // The help is wrapped: compare with every run of whitespace made one space.
    let help_text = help.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    for name in names {
        assert!(
            help_text.contains(&format!("[env: {name}=")),
            "run-notifier-lambda does not read {name}:\n{}",
            help.stdout
        );
    }
}
