//! Task statuses as the runtime reports them.

use std::fmt;

/// The status of one task.
///
/// The runtime's enum today is `queued`, `planning`, `building`, `verifying`,
/// `reviewing`, `done` and `blocked`; the notification plan adds `failed`. Any other value
/// is kept (lower-cased) as [`TaskStatus::Other`] so it stays visible in counts, and it
/// is never terminal: a status we do not understand must keep a run open rather than
/// announce it finished. The derived order (the variants' order, then `Other` by name) is
/// the order statuses are listed in messages.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TaskStatus {
    /// Waiting to be picked up.
    Queued,
    /// Being planned.
    Planning,
    /// Being built.
    Building,
    /// Being verified.
    Verifying,
    /// Being reviewed.
    Reviewing,
    /// Finished successfully (terminal).
    Done,
    /// Finished with a failure (terminal).
    Failed,
    /// Cannot proceed without help (terminal).
    Blocked,
    /// A value this tool does not know, lower-cased and trimmed; never terminal.
    Other(String),
}

impl TaskStatus {
    /// Parses a status case-insensitively, ignoring surrounding whitespace.
    pub fn parse(raw: &str) -> Self {
        let normalized = raw.trim().to_lowercase();
        match normalized.as_str() {
            "queued" => Self::Queued,
            "planning" => Self::Planning,
            "building" => Self::Building,
            "verifying" => Self::Verifying,
            "reviewing" => Self::Reviewing,
            "done" => Self::Done,
            "failed" => Self::Failed,
            "blocked" => Self::Blocked,
            _ => Self::Other(normalized),
        }
    }

    /// Whether a task in this status will not change any more.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Done | Self::Failed | Self::Blocked)
    }

    /// Whether a task in this status needs a human to look at it.
    pub fn needs_attention(&self) -> bool {
        matches!(self, Self::Failed | Self::Blocked)
    }

    /// The status as the runtime spells it; an empty unknown value reads `unset`.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Queued => "queued",
            Self::Planning => "planning",
            Self::Building => "building",
            Self::Verifying => "verifying",
            Self::Reviewing => "reviewing",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Blocked => "blocked",
            Self::Other(name) if name.is_empty() => "unset",
            Self::Other(name) => name,
        }
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_statuses_parse_in_any_case_and_with_whitespace() {
        let cases = [
            ("queued", TaskStatus::Queued),
            ("PLANNING", TaskStatus::Planning),
            ("Building", TaskStatus::Building),
            ("verifying", TaskStatus::Verifying),
            ("ReViEwInG", TaskStatus::Reviewing),
            (" done ", TaskStatus::Done),
            ("FAILED", TaskStatus::Failed),
            ("Blocked\n", TaskStatus::Blocked),
        ];
        for (raw, expected) in cases {
            assert_eq!(TaskStatus::parse(raw), expected, "{raw:?}");
        }
    }

    #[test]
    fn only_done_failed_and_blocked_are_terminal() {
        let terminal: Vec<_> = ["queued", "planning", "building", "verifying", "reviewing"]
            .into_iter()
            .chain([
                "done", "failed", "blocked", "paused", "", "finished", "DONE!",
            ])
            .filter(|raw| TaskStatus::parse(raw).is_terminal())
            .collect();
        assert_eq!(terminal, ["done", "failed", "blocked"]);
    }

    #[test]
    fn unknown_values_are_kept_lower_cased() {
        assert_eq!(
            TaskStatus::parse(" Paused "),
            TaskStatus::Other("paused".into())
        );
        assert_eq!(TaskStatus::parse("Paused").as_str(), "paused");
        assert_eq!(TaskStatus::parse("  ").as_str(), "unset");
    }

    #[test]
    fn attention_means_failed_or_blocked() {
        assert!(TaskStatus::Failed.needs_attention());
        assert!(TaskStatus::Blocked.needs_attention());
        assert!(!TaskStatus::Done.needs_attention());
        assert!(!TaskStatus::Other("failing".into()).needs_attention());
    }

    #[test]
    fn display_matches_the_runtime_spelling() {
        assert_eq!(TaskStatus::Reviewing.to_string(), "reviewing");
        assert_eq!(TaskStatus::parse("WeIrD").to_string(), "weird");
    }
}
