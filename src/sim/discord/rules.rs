//! Discord's rules for the JSON body of an execute-webhook request.
//!
//! Written from Discord's documentation, not from the client: every length is counted in
//! Unicode code points after trimming leading and trailing whitespace, as Discord counts,
//! and a failure is reported as an `errors` tree shaped like Discord's
//! (`{"embeds":{"0":{"title":{"_errors":[{"code":..,"message":..}]}}}}`).

use serde_json::{json, Map, Value};

const CONTENT_MAX: usize = 2000;
const EMBEDS_MAX: usize = 10;
const TITLE_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 4096;
const FIELDS_MAX: usize = 25;
const FIELD_NAME_MAX: usize = 256;
const FIELD_VALUE_MAX: usize = 1024;
const FOOTER_TEXT_MAX: usize = 2048;
const AUTHOR_NAME_MAX: usize = 256;
/// Title, description, field names and values, footer text and author name, summed over
/// all embeds of one message.
const EMBED_TOTAL_MAX: usize = 6000;
const USERNAME_MAX: usize = 80;
const THREAD_NAME_MAX: usize = 100;
const URL_MAX: usize = 2048;
const COLOR_MAX: u64 = 0xFF_FFFF;
const MENTION_IDS_MAX: usize = 100;
/// Discord refuses webhook names containing these, in any case.
const FORBIDDEN_IN_USERNAME: [&str; 2] = ["discord", "clyde"];
const MENTION_TYPES: [&str; 3] = ["everyone", "users", "roles"];
/// URL schemes Discord accepts for links, and additionally for images.
const WEB_SCHEMES: &[&str] = &["http://", "https://"];
const MEDIA_SCHEMES: &[&str] = &["http://", "https://", "attachment://"];
/// The top-level keys of `IncomingWebhookRequestPartial` in Discord's OpenAPI description.
/// Discord silently ignores any other key, which hides client typos, so they are reported.
const KNOWN_KEYS: [&str; 12] = [
    "content",
    "embeds",
    "allowed_mentions",
    "components",
    "attachments",
    "poll",
    "tts",
    "flags",
    "username",
    "avatar_url",
    "thread_name",
    "applied_tags",
];

/// Why Discord would refuse a body.
#[derive(Debug)]
pub(super) enum BodyProblem {
    /// Error 50035 "Invalid Form Body", with this `errors` tree.
    Form(Value),
    /// Error 50006 "Cannot send an empty message": neither content nor embeds.
    Empty,
}

impl BodyProblem {
    /// The problem as an `errors` tree; an empty message gets a root-level error.
    pub(super) fn into_tree(self) -> Value {
        match self {
            Self::Form(tree) => tree,
            Self::Empty => json!({"_errors": [
                {"code": "EMPTY_MESSAGE", "message": "Cannot send an empty message"}
            ]}),
        }
    }
}

/// Checks a parsed body against Discord's rules.
pub(super) fn check(body: &Value) -> Result<(), BodyProblem> {
    let mut checker = Checker::default();
    let Some(object) = body.as_object() else {
        checker.error(
            &Path::root(),
            "DICT_TYPE_CONVERT",
            "Only dictionaries may be used in a DictType",
        );
        return Err(BodyProblem::Form(checker.into_tree()));
    };
    checker.top_level(object);
    if !checker.errors.is_empty() {
        return Err(BodyProblem::Form(checker.into_tree()));
    }
    if is_empty_message(object) {
        return Err(BodyProblem::Empty);
    }
    Ok(())
}

/// Things Discord accepts silently but that show a client bug: unknown top-level keys, above
/// all the misspelled `allow_mentions`, which leaves every mention live.
pub(super) fn soft_violations(body: &Value) -> Vec<String> {
    let Some(object) = body.as_object() else {
        return Vec::new();
    };
    object
        .keys()
        .filter(|key| !KNOWN_KEYS.contains(&key.as_str()))
        .map(|key| unknown_key_violation(key))
        .collect()
}

fn unknown_key_violation(key: &str) -> String {
    match key {
        "allow_mentions" => "body has unknown key `allow_mentions` (a misspelling of \
            `allowed_mentions`; Discord ignores it, so mentions are not suppressed)"
            .to_owned(),
        "wait" | "thread_id" => format!(
            "body has key `{key}`, which Discord ignores there: it belongs in the query string"
        ),
        other => format!("body has unknown key {other:?}, which Discord ignores"),
    }
}

/// True when Discord would have nothing to show: no non-blank content and no embed.
fn is_empty_message(object: &Map<String, Value>) -> bool {
    let has_content = object
        .get("content")
        .and_then(Value::as_str)
        .is_some_and(|content| !content.trim().is_empty());
    let has_embeds = object
        .get("embeds")
        .and_then(Value::as_array)
        .is_some_and(|embeds| !embeds.is_empty());
    !(has_content || has_embeds)
}

/// A length as Discord measures it: code points, after trimming whitespace at both ends.
fn discord_len(text: &str) -> usize {
    text.trim().chars().count()
}

/// A snowflake id written as text: up to 20 digits.
pub(super) fn is_snowflake(text: &str) -> bool {
    !text.is_empty() && text.len() <= 20 && text.bytes().all(|b| b.is_ascii_digit())
}

/// A location in the body, as the keys of Discord's `errors` tree.
#[derive(Clone, Debug, Default)]
struct Path(Vec<String>);

impl Path {
    fn root() -> Self {
        Self::default()
    }

    fn at(&self, segment: impl ToString) -> Self {
        let mut path = self.clone();
        path.0.push(segment.to_string());
        path
    }
}

/// How long a text field may be.
#[derive(Clone, Copy)]
struct Limit {
    max: usize,
    required: bool,
}

impl Limit {
    fn optional(max: usize) -> Self {
        Self {
            max,
            required: false,
        }
    }

    fn required(max: usize) -> Self {
        Self {
            max,
            required: true,
        }
    }
}

/// Walks a body and collects every error, as Discord reports all of them at once.
#[derive(Default)]
struct Checker {
    errors: Map<String, Value>,
}

impl Checker {
    fn into_tree(self) -> Value {
        Value::Object(self.errors)
    }

    /// Adds `{"code", "message"}` to the `_errors` list at `path`.
    fn error(&mut self, path: &Path, code: &str, message: impl Into<String>) {
        let mut node = &mut self.errors;
        for segment in &path.0 {
            let child = node
                .entry(segment.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            node = match child {
                Value::Object(map) => map,
                // Only objects are ever inserted on the way down.
                _ => return,
            };
        }
        let list = node
            .entry("_errors")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = list {
            list.push(json!({"code": code, "message": message.into()}));
        }
    }

    fn top_level(&mut self, body: &Map<String, Value>) {
        let root = Path::root();
        self.text(body, "content", &root, Limit::optional(CONTENT_MAX));
        self.username(body, &root);
        self.url(body, "avatar_url", &root, WEB_SCHEMES, false);
        self.boolean(body, "tts", &root);
        self.integer(body, "flags", &root, 0, u64::MAX);
        self.text(body, "thread_name", &root, Limit::optional(THREAD_NAME_MAX));
        self.allowed_mentions(body, &root);
        self.embeds(body, &root);
    }

    fn embeds(&mut self, body: &Map<String, Value>, root: &Path) {
        let path = root.at("embeds");
        let Some(embeds) = self.array(body, "embeds", root, EMBEDS_MAX) else {
            return;
        };
        let total: usize = embeds
            .iter()
            .enumerate()
            .map(|(index, embed)| self.embed(embed, &path.at(index)))
            .sum();
        if total > EMBED_TOTAL_MAX {
            self.error(
                &path,
                "MAX_EMBED_SIZE_EXCEEDED",
                format!("Embed size exceeds maximum size of {EMBED_TOTAL_MAX}"),
            );
        }
    }

    /// Checks one embed; returns its size towards the 6000 total.
    fn embed(&mut self, value: &Value, path: &Path) -> usize {
        let Some(embed) = self.as_model(value, path) else {
            return 0;
        };
        let mut size = self.text(embed, "title", path, Limit::optional(TITLE_MAX));
        size += self.text(embed, "description", path, Limit::optional(DESCRIPTION_MAX));
        self.url(embed, "url", path, WEB_SCHEMES, false);
        self.integer(embed, "color", path, 0, COLOR_MAX);
        self.timestamp(embed, path);
        size += self.footer(embed, path);
        size += self.author(embed, path);
        size += self.fields(embed, path);
        for media in ["image", "thumbnail"] {
            if let Some(object) = self.object(embed, media, path) {
                self.url(object, "url", &path.at(media), MEDIA_SCHEMES, true);
            }
        }
        size
    }

    fn footer(&mut self, embed: &Map<String, Value>, path: &Path) -> usize {
        let Some(footer) = self.object(embed, "footer", path) else {
            return 0;
        };
        let path = path.at("footer");
        self.url(footer, "icon_url", &path, MEDIA_SCHEMES, false);
        self.text(footer, "text", &path, Limit::required(FOOTER_TEXT_MAX))
    }

    fn author(&mut self, embed: &Map<String, Value>, path: &Path) -> usize {
        let Some(author) = self.object(embed, "author", path) else {
            return 0;
        };
        let path = path.at("author");
        self.url(author, "url", &path, WEB_SCHEMES, false);
        self.url(author, "icon_url", &path, MEDIA_SCHEMES, false);
        self.text(author, "name", &path, Limit::required(AUTHOR_NAME_MAX))
    }

    fn fields(&mut self, embed: &Map<String, Value>, path: &Path) -> usize {
        let Some(fields) = self.array(embed, "fields", path, FIELDS_MAX) else {
            return 0;
        };
        let path = path.at("fields");
        fields
            .iter()
            .enumerate()
            .map(|(index, field)| self.field(field, &path.at(index)))
            .sum()
    }

    fn field(&mut self, value: &Value, path: &Path) -> usize {
        let Some(field) = self.as_model(value, path) else {
            return 0;
        };
        self.boolean(field, "inline", path);
        self.text(field, "name", path, Limit::required(FIELD_NAME_MAX))
            + self.text(field, "value", path, Limit::required(FIELD_VALUE_MAX))
    }

    fn username(&mut self, body: &Map<String, Value>, root: &Path) {
        let Some(name) = self.string(body, "username", root) else {
            return;
        };
        let path = root.at("username");
        if !(1..=USERNAME_MAX).contains(&discord_len(name)) {
            let message = format!("Must be between 1 and {USERNAME_MAX} in length.");
            self.error(&path, "BASE_TYPE_BAD_LENGTH", message);
        }
        let lower = name.to_lowercase();
        for word in FORBIDDEN_IN_USERNAME.iter().filter(|w| lower.contains(*w)) {
            let message = format!("Username cannot contain \"{word}\"");
            self.error(&path, "USERNAME_INVALID_CONTAINS", message);
        }
    }

    fn allowed_mentions(&mut self, body: &Map<String, Value>, root: &Path) {
        let Some(mentions) = self.object(body, "allowed_mentions", root) else {
            return;
        };
        let path = root.at("allowed_mentions");
        let parse = self.mention_types(mentions, &path);
        self.boolean(mentions, "replied_user", &path);
        for kind in ["users", "roles"] {
            let ids = self.mention_ids(mentions, kind, &path);
            if ids > 0 && parse.contains(&kind) {
                let message =
                    format!("parse:[\"{kind}\"] and {kind}: [ids...] are mutually exclusive.");
                self.error(&path, "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE", message);
            }
        }
    }

    /// Checks `allowed_mentions.parse`; returns the valid mention types it names.
    fn mention_types(&mut self, mentions: &Map<String, Value>, path: &Path) -> Vec<&'static str> {
        let Some(parse) = self.array(mentions, "parse", path, usize::MAX) else {
            return Vec::new();
        };
        let path = path.at("parse");
        let mut types = Vec::new();
        for (index, item) in parse.iter().enumerate() {
            match MENTION_TYPES.iter().find(|t| item.as_str() == Some(**t)) {
                Some(kind) => types.push(*kind),
                None => self.error(
                    &path.at(index),
                    "BASE_TYPE_CHOICES",
                    "Value must be one of {'everyone', 'users', 'roles'}.",
                ),
            }
        }
        types
    }

    /// Checks `allowed_mentions.users` or `.roles`; returns how many ids it lists.
    fn mention_ids(&mut self, mentions: &Map<String, Value>, kind: &str, path: &Path) -> usize {
        let Some(ids) = self.array(mentions, kind, path, MENTION_IDS_MAX) else {
            return 0;
        };
        let path = path.at(kind);
        for (index, id) in ids.iter().enumerate() {
            let valid = id.as_str().map_or(id.is_u64(), is_snowflake);
            if !valid {
                let message = format!("Value \"{}\" is not snowflake.", brief(id));
                self.error(&path.at(index), "NUMBER_TYPE_COERCE", message);
            }
        }
        ids.len()
    }

    /// Checks an optional or required text field; returns its length towards embed totals.
    fn text(&mut self, object: &Map<String, Value>, key: &str, path: &Path, limit: Limit) -> usize {
        let path_here = path.at(key);
        let Some(text) = self.string(object, key, path) else {
            if limit.required {
                self.error(&path_here, "BASE_TYPE_REQUIRED", "This field is required");
            }
            return 0;
        };
        let len = discord_len(text);
        if limit.required && len == 0 {
            self.error(&path_here, "BASE_TYPE_REQUIRED", "This field is required");
        }
        if len > limit.max {
            let message = format!("Must be {} or fewer in length.", limit.max);
            self.error(&path_here, "BASE_TYPE_MAX_LENGTH", message);
        }
        len
    }

    /// A link or image address: http(s) (or `attachment://` for images), at most 2048 long.
    fn url(
        &mut self,
        object: &Map<String, Value>,
        key: &str,
        path: &Path,
        schemes: &[&str],
        required: bool,
    ) {
        let path_here = path.at(key);
        let Some(url) = self.string(object, key, path) else {
            if required {
                self.error(&path_here, "BASE_TYPE_REQUIRED", "This field is required");
            }
            return;
        };
        let lower = url.to_ascii_lowercase();
        let well_formed = schemes.iter().any(|scheme| {
            lower
                .strip_prefix(scheme)
                .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace))
        });
        if !well_formed {
            self.error(&path_here, "URL_TYPE_INVALID_URL", "Not a well formed URL.");
        }
        if url.chars().count() > URL_MAX {
            let message = format!("Must be {URL_MAX} or fewer in length.");
            self.error(&path_here, "BASE_TYPE_MAX_LENGTH", message);
        }
    }

    fn timestamp(&mut self, embed: &Map<String, Value>, path: &Path) {
        let Some(text) = self.string(embed, "timestamp", path) else {
            return;
        };
        let format = time::format_description::well_known::Rfc3339;
        if time::OffsetDateTime::parse(text, &format).is_err() {
            let message = format!(
                "Could not parse {}. Should be ISO8601.",
                brief(&json!(text))
            );
            self.error(&path.at("timestamp"), "DATE_TIME_TYPE_PARSE", message);
        }
    }

    /// An optional integer in `min..=max` (floats are refused, as Discord's int type does).
    fn integer(&mut self, object: &Map<String, Value>, key: &str, path: &Path, min: u64, max: u64) {
        let Some(value) = present(object, key) else {
            return;
        };
        let path = path.at(key);
        // i128 holds every JSON integer serde_json can produce, signed or not.
        let number = value
            .as_i64()
            .map(i128::from)
            .or_else(|| value.as_u64().map(i128::from));
        match number {
            None => {
                let message = format!("Value \"{}\" is not int.", brief(value));
                self.error(&path, "NUMBER_TYPE_COERCE", message);
            }
            Some(n) if n < i128::from(min) => {
                let message = format!("int value should be greater than or equal to {min}.");
                self.error(&path, "NUMBER_TYPE_MIN", message);
            }
            Some(n) if n > i128::from(max) => {
                let message = format!("int value should be less than or equal to {max}.");
                self.error(&path, "NUMBER_TYPE_MAX", message);
            }
            Some(_) => {}
        }
    }

    fn boolean(&mut self, object: &Map<String, Value>, key: &str, path: &Path) {
        let Some(value) = present(object, key) else {
            return;
        };
        if !value.is_boolean() {
            let message = format!("Value \"{}\" is not bool.", brief(value));
            self.error(&path.at(key), "BOOLEAN_TYPE_COERCE", message);
        }
    }

    /// An optional string field: `None` if absent, null, or not a string (then an error).
    fn string<'v>(
        &mut self,
        object: &'v Map<String, Value>,
        key: &str,
        path: &Path,
    ) -> Option<&'v str> {
        let value = present(object, key)?;
        let text = value.as_str();
        if text.is_none() {
            let message = format!("Could not interpret \"{}\" as string.", brief(value));
            self.error(&path.at(key), "STRING_TYPE_CONVERT", message);
        }
        text
    }

    /// An optional nested object: `None` if absent, null, or not an object (then an error).
    fn object<'v>(
        &mut self,
        object: &'v Map<String, Value>,
        key: &str,
        path: &Path,
    ) -> Option<&'v Map<String, Value>> {
        self.as_model(present(object, key)?, &path.at(key))
    }

    fn as_model<'v>(&mut self, value: &'v Value, path: &Path) -> Option<&'v Map<String, Value>> {
        let object = value.as_object();
        if object.is_none() {
            let message = "Only dictionaries may be used in a ModelType";
            self.error(path, "MODEL_TYPE_CONVERT", message);
        }
        object
    }

    /// An optional list of at most `max` items; an over-long list is reported but returned,
    /// so its items are checked too.
    fn array<'v>(
        &mut self,
        object: &'v Map<String, Value>,
        key: &str,
        path: &Path,
        max: usize,
    ) -> Option<&'v Vec<Value>> {
        let value = present(object, key)?;
        let path = path.at(key);
        let Some(items) = value.as_array() else {
            let message = "Only iterables may be used in a ListType";
            self.error(&path, "LIST_TYPE_CONVERT", message);
            return None;
        };
        if items.len() > max {
            let message = format!("Must be {max} or fewer in length.");
            self.error(&path, "BASE_TYPE_MAX_LENGTH", message);
        }
        Some(items)
    }
}

/// A key's value, treating an explicit `null` as absent, as Discord does.
fn present<'v>(object: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    object.get(key).filter(|value| !value.is_null())
}

/// A value quoted in an error message, cut short so a huge value cannot bloat the answer.
fn brief(value: &Value) -> String {
    let text = match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    text.chars().take(64).collect()
}
