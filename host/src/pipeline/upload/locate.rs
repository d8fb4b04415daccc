//! Stage 3, locate: the matcher's criteria for the photo, then the directory search for them.
//! Exactly one entry goes on; none or several end the event as `no-match` or `ambiguous`.

use crate::directory::Entry;
use crate::events::{Outcome, PhotoUpload};
use crate::pipeline::Pipeline;
use crate::pipeline::frame::Stop;
use crate::plugins::{Attribute, Criterion, MatchOutcome, PhotoInfo};
use crate::text::clip;

/// What the matcher says identifies the photo's person.
pub(crate) fn criteria(p: &Pipeline, event: &PhotoUpload) -> Result<Vec<Criterion>, Stop> {
    let info = PhotoInfo {
        file_name: event.file_name.clone(),
        source: event.source.clone(),
        content_type: event.content_type.clone(),
        attributes: event
            .attributes
            .iter()
            .map(|(name, value)| Attribute {
                name: name.clone(),
                values: vec![value.clone()],
            })
            .collect(),
    };
    match p.matcher.match_photo(&info).map_err(Stop::plugin)? {
        MatchOutcome::Criteria(c) => Ok(c),
        MatchOutcome::NoCriteria(reason) => Err(Stop::done(
            Outcome::NoMatch,
            format!("the matcher found no criteria: {reason}"),
        )),
    }
}

/// The one entry that has all `criteria`, with its photo attributes.
pub(crate) async fn search(p: &Pipeline, criteria: &[Criterion]) -> Result<Entry, Stop> {
    let found = p
        .directory
        .find(criteria, &p.attribute_names_owned())
        .await
        .map_err(|e| Stop::directory(&e))?;
    let wanted: Vec<String> = criteria
        .iter()
        .map(|c| format!("{}={}", c.attribute, clip(&c.value, 80)))
        .collect();
    match found.total {
        0 => Err(Stop::done(
            Outcome::NoMatch,
            format!(
                "no entry has {} under {}",
                wanted.join(", "),
                p.directory.config().base_dn
            ),
        )),
        1 => found
            .entries
            .into_iter()
            .next()
            .ok_or_else(|| Stop::failed("the search lost its entry")),
        n => {
            let dns: Vec<&str> = found.entries.iter().map(|e| e.dn.as_str()).collect();
            let more = if n > dns.len() {
                format!(" and {} more", n - dns.len())
            } else {
                String::new()
            };
            Err(Stop::done(
                Outcome::Ambiguous,
                format!(
                    "{n} entries match {}: {}{more}; none was changed",
                    wanted.join(", "),
                    dns.join("; ")
                ),
            ))
        }
    }
}
