//! The Discord messages this tool sends.
//!
//! A finished run gets a message titled `Run finished: <runId>`; a run we stop waiting
//! for gets a notice that is never worded as finished. Text from the runtime is escaped,
//! every piece is cut to Discord's limits, and the list of tasks needing attention gets
//! whatever room the 6000-character total leaves, ending with "… and N more".

use std::time::Duration;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::body::{AllowedMentions, Embed, EmbedField, EmbedFooter, WebhookMessage};
use super::limits::{self, truncate};
use super::markdown::escape;
use crate::domain::{Outcome, RunSnapshot, Task, TaskStatus};
use crate::links::{RunId, RunLinks};

/// Green, for success.
pub const SUCCESS_COLOR: u32 = 0x2E_CC_71;
/// Red, for attention-required.
pub const ATTENTION_COLOR: u32 = 0xE7_4C_3C;
/// Orange, for a stalled run.
pub const STALLED_COLOR: u32 = 0xE6_7E_22;
/// Amber, for a run still running when we stop waiting.
pub const WAITING_COLOR: u32 = 0xF1_C4_0F;

/// The display name the messages are posted under.
pub const USERNAME: &str = "run-notifier";

/// Room kept for the task title and the error of one attention line, so one long error
/// cannot crowd out every other task.
const TASK_TITLE_MAX: usize = 120;
const TASK_ERROR_MAX: usize = 280;

/// The message for a run that finished with `outcome`.
pub fn finished(snapshot: &RunSnapshot, outcome: Outcome, links: &RunLinks) -> WebhookMessage {
    let tally = snapshot.tally();
    let run_id = escape(&snapshot.run.run_id);
    let (emoji, color, summary) = match outcome {
        Outcome::Success => (
            "✅",
            SUCCESS_COLOR,
            format!("all {} tasks done", tally.done),
        ),
        Outcome::AttentionRequired => (
            "🚨",
            ATTENTION_COLOR,
            format!(
                "{} failed, {} blocked of {} tasks",
                tally.failed,
                tally.blocked,
                tally.total()
            ),
        ),
    };
    let mut embed = Embed {
        title: Some(title(
            "Run finished",
            &run_id,
            snapshot.run.title.as_deref(),
        )),
        url: link_if_fits(&links.run),
        color: Some(color),
        timestamp: snapshot.checked_at.format(&Rfc3339).ok(),
        fields: vec![created_field(snapshot), links_field(links)],
        footer: Some(footer(snapshot.source.as_deref())),
        ..Embed::default()
    };
    let head = format!("{emoji} **{outcome}**: {summary}\n{tally}");
    let budget = description_budget(&embed);
    let attention = snapshot.tasks_needing_attention();
    embed.description = Some(if attention.is_empty() {
        truncate(&head, budget)
    } else {
        with_attention_list(head, &attention, budget)
    });
    message(
        format!(
            "{emoji} Run finished: **{outcome}** · {}",
            truncate(&run_id, 200)
        ),
        embed,
    )
}

/// The notice for a run that is still not finished after `waited`: we stop watching it,
/// and say so, without ever calling it finished. `snapshot` is the last look we had, if
/// the runtime ever answered (without one, the notice says the status is unknown).
pub fn still_running(
    run_id: &RunId,
    snapshot: Option<&RunSnapshot>,
    waited: Duration,
    links: &RunLinks,
) -> WebhookMessage {
    let escaped_id = escape(run_id.as_str());
    let waited = human_duration(waited);
    // Without a single answer we do not know the run is still running; say what we know.
    let (what, headline, state) = match snapshot {
        Some(snapshot) => (
            "Run still running",
            format!("⏳ **still running** after {waited}"),
            snapshot.tally().to_string(),
        ),
        None => (
            "Run status unknown",
            format!("⏳ **no answer** from the runtime for {waited}"),
            "the runtime never answered for this run".to_string(),
        ),
    };
    let mut embed = Embed {
        title: Some(title(
            what,
            &escaped_id,
            snapshot.and_then(|s| s.run.title.as_deref()),
        )),
        url: link_if_fits(&links.run),
        color: Some(WAITING_COLOR),
        fields: vec![links_field(links)],
        footer: Some(footer(snapshot.and_then(|s| s.source.as_deref()))),
        ..Embed::default()
    };
    if let Some(snapshot) = snapshot {
        embed.timestamp = snapshot.checked_at.format(&Rfc3339).ok();
        embed.fields.insert(0, created_field(snapshot));
    }
    let description =
        format!("{headline}: no longer waiting for it, so its end will not be announced.\n{state}");
    embed.description = Some(truncate(&description, description_budget(&embed)));
    message(
        format!("⏳ {what} after {waited} · {}", truncate(&escaped_id, 200)),
        embed,
    )
}

/// The notice for a run where no task has moved since `since`. Sent once per stall; it
/// is not a finish, and says so.
pub fn stalled(snapshot: &RunSnapshot, since: OffsetDateTime, links: &RunLinks) -> WebhookMessage {
    let escaped_id = escape(&snapshot.run.run_id);
    let quiet = human_duration((snapshot.checked_at - since).try_into().unwrap_or_default());
    let mut embed = Embed {
        title: Some(title(
            "Run stalled",
            &escaped_id,
            snapshot.run.title.as_deref(),
        )),
        url: link_if_fits(&links.run),
        color: Some(STALLED_COLOR),
        timestamp: snapshot.checked_at.format(&Rfc3339).ok(),
        fields: vec![created_field(snapshot), links_field(links)],
        footer: Some(footer(snapshot.source.as_deref())),
        ..Embed::default()
    };
    let description = format!(
        "⏸️ **stalled**: no task has changed for {quiet} (last change <t:{}:R>); the run is not finished and is still watched.\n{}",
        since.unix_timestamp(),
        snapshot.tally()
    );
    embed.description = Some(truncate(&description, description_budget(&embed)));
    message(
        format!(
            "⏸️ Run stalled for {quiet} · {}",
            truncate(&escaped_id, 200)
        ),
        embed,
    )
}

fn message(content: String, embed: Embed) -> WebhookMessage {
    WebhookMessage {
        content: Some(truncate(&content, limits::CONTENT_MAX)),
        username: Some(USERNAME.to_string()),
        embeds: vec![embed],
        allowed_mentions: AllowedMentions::default(),
    }
}

/// `<what>: <runId>`, then the run's title when it has one.
fn title(what: &str, escaped_id: &str, run_title: Option<&str>) -> String {
    let mut title = format!("{what}: {escaped_id}");
    if let Some(run_title) = run_title.map(escape).filter(|t| !t.is_empty()) {
        title.push_str(" · ");
        title.push_str(&run_title);
    }
    truncate(&title, limits::TITLE_MAX)
}

fn link_if_fits(url: &str) -> Option<String> {
    (url.chars().count() <= limits::URL_MAX).then(|| url.to_string())
}

/// The run's creation time as a Discord timestamp tag, which every reader sees in their
/// own time zone, with the relative form beside it.
fn created_field(snapshot: &RunSnapshot) -> EmbedField {
    let value = match (snapshot.created_at(), &snapshot.run.created_at) {
        (Some(created), _) => {
            let unix = created.unix_timestamp();
            format!("<t:{unix}:f> (<t:{unix}:R>)")
        }
        (None, Some(raw)) if !raw.trim().is_empty() => escape(raw),
        _ => "unknown".to_string(),
    };
    EmbedField {
        name: "Created".into(),
        value: truncate(&value, limits::FIELD_VALUE_MAX),
        inline: true,
    }
}

fn links_field(links: &RunLinks) -> EmbedField {
    let value = format!(
        "[run]({}) · [tasks]({}) · [events]({})",
        links.run, links.tasks, links.events
    );
    let value = if value.chars().count() <= limits::FIELD_VALUE_MAX {
        value
    } else {
        // A cut masked link would be broken markup; a cut bare URL still reads.
        truncate(&links.run, limits::FIELD_VALUE_MAX)
    };
    EmbedField {
        name: "Links".into(),
        value,
        inline: true,
    }
}

fn footer(source: Option<&str>) -> EmbedFooter {
    let mut text = format!("run-notifier {}", env!("CARGO_PKG_VERSION"));
    if let Some(source) = source {
        text.push_str(" · tasks read from ");
        text.push_str(source);
    }
    EmbedFooter {
        text: truncate(&text, 100),
    }
}

/// What the description may spend: its own limit, or what the 6000-character total leaves
/// after everything else in the embed, whichever is smaller.
fn description_budget(embed: &Embed) -> usize {
    let rest = limits::embed_chars(&Embed {
        description: None,
        ..embed.clone()
    });
    limits::DESCRIPTION_MAX.min(limits::EMBED_TOTAL_MAX.saturating_sub(rest))
}

/// Appends one line per failed or blocked task while they fit in `budget`, then
/// "… and N more" for the rest.
fn with_attention_list(head: String, tasks: &[&Task], budget: usize) -> String {
    let mut text = truncate(&head, budget);
    let header = "\n\n**Needs attention**";
    let more = |n: usize| format!("\n… and {n} more");
    if len(&text) + len(header) + len(&more(tasks.len())) > budget {
        return text;
    }
    text.push_str(header);
    for (index, task) in tasks.iter().enumerate() {
        let line = format!("\n{}", attention_line(task));
        let left_after = tasks.len() - index - 1;
        let reserve = if left_after > 0 {
            len(&more(left_after))
        } else {
            0
        };
        if len(&text) + len(&line) + reserve > budget {
            text.push_str(&more(tasks.len() - index));
            break;
        }
        text.push_str(&line);
    }
    text
}

fn attention_line(task: &Task) -> String {
    let marker = match task.status {
        TaskStatus::Failed => "🔴 failed",
        _ => "🟠 blocked",
    };
    let name = task
        .title
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or(&task.task_id);
    let name = truncate(&escape(name), TASK_TITLE_MAX);
    let error = match task.error.as_deref().map(escape) {
        Some(error) if !error.is_empty() => truncate(&error, TASK_ERROR_MAX),
        _ => "no error given".to_string(),
    };
    format!("{marker} · **{name}**: {error}")
}

fn len(text: &str) -> usize {
    text.chars().count()
}

/// `1h 2m 3s`, `10m`, `45s`: whole seconds, zero parts left out.
pub fn human_duration(duration: Duration) -> String {
    let total = duration.as_secs();
    let (hours, minutes, seconds) = (total / 3600, total / 60 % 60, total % 60);
    let parts: Vec<String> = [(hours, "h"), (minutes, "m"), (seconds, "s")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if parts.is_empty() {
        "0s".to_string()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests;
