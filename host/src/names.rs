//! The names one deployment uses on NATS — every subject, stream, consumer and bucket — all
//! derived from one prefix (`[nats] prefix`, `photosync` by default), so that several
//! deployments share a NATS account without seeing each other's events. Nothing else in
//! photosync spells a NATS name.

/// The prefix of a deployment that sets none.
pub const DEFAULT_PREFIX: &str = "photosync";

/// The longest prefix accepted: stream and bucket names stay well within NATS's limits.
const MAX_PREFIX: usize = 32;

/// Whether `prefix` can name subjects, streams and buckets; the reason when it cannot.
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    match prefix.chars().next() {
        None => Err("is empty".into()),
        Some(c) if !c.is_ascii_lowercase() => Err(format!(
            "must start with a lowercase letter (not {prefix:?})"
        )),
        _ if prefix.len() > MAX_PREFIX => Err(format!("is longer than {MAX_PREFIX} characters")),
        _ if !prefix.chars().all(allowed) => Err(format!(
            "may hold only lowercase letters, digits, - and _ (not {prefix:?})"
        )),
        _ => Ok(()),
    }
}

/// Every NATS name of one deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// The prefix they are made from.
    pub prefix: String,
    /// Subject of photo-upload events, `<prefix>.photo.uploaded`.
    pub photo_uploaded: String,
    /// Subject of directory-change events (from the watcher or any third party).
    pub directory_changed: String,
    /// Subject of photo-changed events, for downstream applications.
    pub photo_changed: String,
    /// Prefix of dead-letter subjects: `<prefix>.dead.<original subject>`.
    pub dead_prefix: String,
    /// Prefix of result subjects: `<prefix>.result.<outcome>`.
    pub result_prefix: String,
    /// The stream holding photo-upload and directory-change events, `<PREFIX>_EVENTS`.
    pub events_stream: String,
    /// The stream keeping results.
    pub results_stream: String,
    /// The stream keeping photo-changed events.
    pub changes_stream: String,
    /// The stream keeping dead letters until they are replayed.
    pub dead_stream: String,
    /// The durable consumer all workers share for photo uploads, `<prefix>-workers`.
    pub workers_consumer: String,
    /// The durable consumer all workers share for directory changes.
    pub directory_consumer: String,
    /// The Object Store bucket holding uploaded photos under their file names, `<prefix>-photos`.
    pub photos_bucket: String,
    /// The KV bucket of each entry's sync state, the name index and the watcher's cookie.
    pub state_bucket: String,
    /// The Object Store bucket `photosync plugin push` stores plugins in.
    pub plugins_bucket: String,
    /// The Object Store bucket keeping each entry's photos before photosync replaced them.
    pub backups_bucket: String,
}

impl Names {
    /// The names made from `prefix`, which [`check_prefix`] accepts.
    pub fn new(prefix: &str) -> Self {
        let stream = |what: &str| format!("{}_{what}", prefix.to_ascii_uppercase());
        Self {
            prefix: prefix.to_owned(),
            photo_uploaded: format!("{prefix}.photo.uploaded"),
            directory_changed: format!("{prefix}.directory.changed"),
            photo_changed: format!("{prefix}.photo.changed"),
            dead_prefix: format!("{prefix}.dead"),
            result_prefix: format!("{prefix}.result"),
            events_stream: stream("EVENTS"),
            results_stream: stream("RESULTS"),
            changes_stream: stream("CHANGES"),
            dead_stream: stream("DEAD"),
            workers_consumer: format!("{prefix}-workers"),
            directory_consumer: format!("{prefix}-directory"),
            photos_bucket: format!("{prefix}-photos"),
            state_bucket: format!("{prefix}-state"),
            plugins_bucket: format!("{prefix}-plugins"),
            backups_bucket: format!("{prefix}-backups"),
        }
    }

    /// The subject a result with `outcome` is published on.
    pub fn result_subject(&self, outcome: crate::events::Outcome) -> String {
        format!("{}.{}", self.result_prefix, outcome.as_str())
    }

    /// The subject a dead letter of an event first published on `subject` is kept on.
    pub fn dead_subject(&self, subject: &str) -> String {
        format!("{}.{subject}", self.dead_prefix)
    }
}

impl Default for Names {
    fn default() -> Self {
        Self::new(DEFAULT_PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_prefix_gives_the_names_photosync_always_used() {
        let n = Names::default();
        assert_eq!(n.photo_uploaded, "photosync.photo.uploaded");
        assert_eq!(n.events_stream, "PHOTOSYNC_EVENTS");
        assert_eq!(n.workers_consumer, "photosync-workers");
        assert_eq!(n.state_bucket, "photosync-state");
        assert_eq!(
            n.dead_subject("photosync.photo.uploaded"),
            "photosync.dead.photosync.photo.uploaded"
        );
    }

    #[test]
    fn another_prefix_renames_everything() {
        let n = Names::new("forest-b");
        assert_eq!(n.directory_changed, "forest-b.directory.changed");
        assert_eq!(n.dead_stream, "FOREST-B_DEAD");
        assert_eq!(n.backups_bucket, "forest-b-backups");
        assert_eq!(
            n.result_subject(crate::events::Outcome::Written),
            "forest-b.result.written"
        );
    }

    #[test]
    fn prefixes_that_cannot_name_nats_things_are_refused_with_a_reason() {
        for (prefix, reason) in [
            ("", "is empty"),
            ("Prod", "must start with a lowercase letter"),
            ("9x", "must start with a lowercase letter"),
            ("a.b", "may hold only lowercase letters, digits, - and _"),
            ("a*", "may hold only"),
            ("a b", "may hold only"),
            (&"a".repeat(33), "is longer than 32 characters"),
        ] {
            let got = check_prefix(prefix).expect_err("refused");
            assert!(got.starts_with(reason), "{prefix:?}: {got}");
        }
        assert_eq!(check_prefix("test_ad-2"), Ok(()));
    }
}
