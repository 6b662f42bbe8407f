//! Where a secret comes from: an environment variable, or AWS Secrets Manager (whose
//! secret string is the value itself, e.g. the webhook URL).

use std::future::Future;

use aws_sdk_secretsmanager::error::ProvideErrorMetadata;

use crate::secret::Secret;

/// Reads a secret's current value.
pub trait SecretSource: Send + Sync {
    /// The value now (a rotated secret gives its new value).
    fn fetch(&self) -> impl Future<Output = Result<Secret, String>> + Send;
}

/// A secret given directly (an environment variable, for local use).
pub struct Fixed(pub Secret);

impl SecretSource for Fixed {
    async fn fetch(&self) -> Result<Secret, String> {
        Ok(self.0.clone())
    }
}

/// A secret in AWS Secrets Manager, by name or ARN (neither is secret; the value is).
pub struct SecretsManager {
    client: aws_sdk_secretsmanager::Client,
    id: String,
}

impl SecretsManager {
    /// The secret `id` (name or ARN), read with `client`.
    pub fn new(client: aws_sdk_secretsmanager::Client, id: impl Into<String>) -> Self {
        Self {
            client,
            id: id.into(),
        }
    }
}

impl SecretSource for SecretsManager {
    async fn fetch(&self) -> Result<Secret, String> {
        let value = self
            .client
            .get_secret_value()
            .secret_id(&self.id)
            .send()
            .await
            .map_err(|e| {
                let what = match (e.code(), e.message()) {
                    (Some(code), Some(message)) => format!("{code}: {message}"),
                    _ => crate::http::cause_chain(&e),
                };
                format!(
                    "cannot read secret {:?} from Secrets Manager: {what}",
                    self.id
                )
            })?;
        match value.secret_string() {
            Some(text) if !text.trim().is_empty() => Ok(Secret::new(text.trim())),
            _ => Err(format!(
                "secret {:?} has no secret string; store the value as plain text",
                self.id
            )),
        }
    }
}

/// Either source, chosen by configuration.
pub enum AnySecret {
    /// From the environment.
    Fixed(Fixed),
    /// From Secrets Manager.
    Manager(SecretsManager),
}

impl SecretSource for AnySecret {
    async fn fetch(&self) -> Result<Secret, String> {
        match self {
            Self::Fixed(source) => source.fetch().await,
            Self::Manager(source) => source.fetch().await,
        }
    }
}
