//! Stage 4, render: for each photo attribute, ask the deduper; transform, once for all the
//! attributes that need output; say what to write and which state to keep.

use std::time::{Duration, Instant};

use tokio::task::block_in_place;

use super::fetch::Source;
use crate::directory::Entry;
use crate::events::AttributeResult;
use crate::pipeline::Pipeline;
use crate::pipeline::frame::Stop;
use crate::plugins::{self, Decision, DedupInput, Profile, Rendition, SyncState};
use crate::state::{AttributeState, EntryState};

/// One attribute's rendition and the deduper's verdict on it.
#[derive(Debug)]
pub(crate) struct Rendered {
    /// Bytes to write, if any.
    pub write: Option<Vec<u8>>,
    /// State to keep, if the deduper gave one.
    pub state: Option<AttributeState>,
    /// The attribute's result if the write goes as planned.
    planned: AttributeResult,
    /// Time spent in the deduper and in the transformer.
    pub deduping: Duration,
    pub transforming: Duration,
}

impl Rendered {
    pub fn attribute(&self) -> &str {
        &self.planned.attribute
    }

    /// The attribute's result: as planned, or, when its bytes were not written after all, with
    /// `not_written` as the reason.
    pub fn result(&self, not_written: Option<&str>) -> AttributeResult {
        let mut result = self.planned.clone();
        if let Some(reason) = not_written.filter(|_| result.written) {
            result.written = false;
            result.reason = reason.to_owned();
        }
        result
    }
}

/// What the deduper said of one profile's attribute before anything was transformed.
struct Asked<'a> {
    profile: &'a Profile,
    ask: DedupInput,
    decision: Decision,
    deduping: Duration,
}

/// Asks the deduper about `profile`'s attribute of `entry`, given its last state. Digests and
/// decisions are microseconds: they run on the async thread.
fn ask<'a>(
    p: &Pipeline,
    entry: &Entry,
    source: &Source,
    state: Option<SyncState>,
    profile: &'a Profile,
) -> Result<Asked<'a>, Stop> {
    let t = Instant::now();
    let current_digests = entry
        .values
        .get(&profile.attribute.to_ascii_lowercase())
        .into_iter()
        .flatten()
        .map(|v| p.value_digest(v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Stop::plugin)?;
    let ask = DedupInput {
        attribute: profile.attribute.clone(),
        source_digest: source.digest.clone(),
        output_digest: None,
        state,
        current_digests,
    };
    let decision = p.deduper.decide(&ask).map_err(Stop::plugin)?;
    Ok(Asked {
        profile,
        ask,
        decision,
        deduping: t.elapsed(),
    })
}

/// Renders every profile's attribute for `entry` from `source`, in order, given the entry's
/// last state: asks the deduper about each, transforms the photo once for all that need
/// output (one `transform-all` call, or one call per rendition for a 0.1.0 transformer; the
/// only work that moves off the async thread), then asks again with each rendition's digest.
/// Stops at the first attribute that fails, with the ones before it in `rendered`.
pub(crate) async fn render_all(
    p: &Pipeline,
    event_id: &str,
    entry: &Entry,
    source: &mut Source,
    previous: &EntryState,
    rendered: &mut Vec<Rendered>,
) -> Result<(), Stop> {
    let asked = p
        .profiles
        .iter()
        .map(|profile| {
            ask(
                p,
                entry,
                source,
                previous.sync_state(&profile.attribute),
                profile,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let needed: Vec<Profile> = asked
        .iter()
        .filter(|a| a.decision == Decision::NeedOutput)
        .map(|a| a.profile.clone())
        .collect();
    let mut transforming = Duration::ZERO;
    let mut answers = Vec::new().into_iter();
    if !needed.is_empty() {
        let photo = source.bytes(&p.bus).await?;
        let t = Instant::now();
        answers = block_in_place(|| p.transformer.transform_all(photo, &needed))
            .map_err(Stop::plugin)?
            .into_iter();
        transforming = t.elapsed();
    }
    for a in asked {
        let answer = if a.decision == Decision::NeedOutput {
            answers.next()
        } else {
            None
        };
        // The one call's time goes to the first attribute that needed it.
        let spent = if answer.is_some() {
            std::mem::take(&mut transforming)
        } else {
            Duration::ZERO
        };
        rendered.push(finish(p, event_id, a, answer, spent)?);
    }
    Ok(())
}

/// One attribute's rendition (when it needed one) judged by the deduper again, with its
/// digest, into what to write and keep.
fn finish(
    p: &Pipeline,
    event_id: &str,
    asked: Asked<'_>,
    answer: Option<Result<Rendition, plugins::Rejection>>,
    transforming: Duration,
) -> Result<Rendered, Stop> {
    let Asked {
        profile,
        mut ask,
        mut decision,
        mut deduping,
    } = asked;
    let mut rendition = None;
    if let Some(answer) = answer {
        let r = answer.map_err(|rejection| {
            Stop::rejected(format!(
                "{}: {}",
                profile.attribute,
                plugins::transformer_describe(&rejection)
            ))
        })?;
        let t = Instant::now();
        ask.output_digest = Some(p.value_digest(&r.jpeg).map_err(Stop::plugin)?);
        decision = p.deduper.decide(&ask).map_err(Stop::plugin)?;
        deduping += t.elapsed();
        rendition = Some(r);
    }
    let (write, state, planned) = planned(
        p,
        event_id,
        &profile.attribute,
        decision,
        rendition,
        ask.output_digest,
    )?;
    Ok(Rendered {
        write,
        state,
        planned,
        deduping,
        transforming,
    })
}

/// The bytes to write (none: nothing to write), the state to keep and the result if the write
/// goes as planned.
type Planned = (Option<Vec<u8>>, Option<AttributeState>, AttributeResult);

/// What the deduper's final `decision` on `rendition` means for the attribute.
fn planned(
    p: &Pipeline,
    event_id: &str,
    attribute: &str,
    decision: Decision,
    rendition: Option<Rendition>,
    output_digest: Option<String>,
) -> Result<Planned, Stop> {
    let keep = |s: &SyncState| AttributeState {
        source_digest: s.source_digest.clone(),
        written_digest: s.written_digest.clone(),
        event_id: event_id.to_owned(),
        directory_digest: None,
        pending_digest: None,
    };
    let mut planned = AttributeResult {
        attribute: attribute.to_owned(),
        written: false,
        digest: output_digest,
        bytes: rendition.as_ref().map(|r| r.jpeg.len()),
        width: rendition.as_ref().map(|r| r.width),
        height: rendition.as_ref().map(|r| r.height),
        quality: rendition.as_ref().map(|r| r.quality),
        reason: String::new(),
    };
    match (decision, rendition) {
        (Decision::Write(s), Some(r)) => {
            planned.written = true;
            planned.reason = format!(
                "written: {}x{} JPEG, {} bytes",
                r.width,
                r.height,
                r.jpeg.len()
            );
            Ok((Some(r.jpeg), Some(keep(&s)), planned))
        }
        (Decision::Skip(skip), _) => {
            planned.reason = skip.reason;
            Ok((None, skip.state.as_ref().map(keep), planned))
        }
        (other, _) => Err(Stop::plugin(plugins::PluginError::MalformedResult {
            plugin: p.deduper.name().to_owned(),
            reason: format!(
                "it answered {other:?} where write with an output or skip was expected"
            ),
        })),
    }
}
