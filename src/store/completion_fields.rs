//! What a completion writes, shared by both stores.

use super::Completion;

/// The optional attributes a completion writes; `None` keeps what the record had.
#[derive(Default)]
pub struct CompletionFields {
    pub message_id: Option<String>,
    pub outcome: Option<String>,
    pub counts: Option<String>,
    pub failure: Option<String>,
    pub stall: Option<String>,
}

impl CompletionFields {
    pub fn of(completion: &Completion) -> Self {
        match completion {
            Completion::Notified {
                message_id,
                outcome,
                counts,
            } => Self {
                message_id: message_id.clone(),
                outcome: Some(outcome.to_string()),
                counts: Some(counts.clone()),
                ..Self::default()
            },
            Completion::Expired { message_id, counts } => Self {
                message_id: message_id.clone(),
                counts: counts.clone(),
                ..Self::default()
            },
            Completion::Failed { reason } => Self {
                failure: Some(reason.clone()),
                ..Self::default()
            },
            Completion::StallAnnounced { stall, message_id } => Self {
                message_id: message_id.clone(),
                stall: Some(stall.clone()),
                ..Self::default()
            },
            Completion::Released => Self::default(),
        }
    }
}
