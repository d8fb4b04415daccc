//! Stage 4, render: for each photo attribute, ask the deduper; transform only when it needs
//! the output; say what to write and which state to keep.

use std::time::{Duration, Instant};

use tokio::task::block_in_place;

use super::fetch::Source;
use crate::directory::Entry;
use crate::events::AttributeResult;
use crate::pipeline::Pipeline;
use crate::pipeline::frame::Stop;
use crate::plugins::{self, Decision, DedupInput, Profile, Rendition, SyncState};
use crate::state::AttributeState;

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

/// Renders `profile`'s attribute for `entry` from `source`, given the attribute's last state.
pub(crate) async fn render(
    p: &Pipeline,
    event_id: &str,
    entry: &Entry,
    source: &mut Source,
    state: Option<SyncState>,
    profile: &Profile,
) -> Result<Rendered, Stop> {
    let t = Instant::now();
    // Digests and decisions are microseconds: they run on the async thread. Only the
    // transform, which decodes whole photos, moves off it.
    let current_digests = entry
        .values
        .get(&profile.attribute.to_ascii_lowercase())
        .into_iter()
        .flatten()
        .map(|v| p.deduper.digest(v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Stop::plugin)?;
    let mut ask = DedupInput {
        attribute: profile.attribute.clone(),
        source_digest: source.digest.clone(),
        output_digest: None,
        state,
        current_digests,
    };
    let mut decision = p.deduper.decide(&ask).map_err(Stop::plugin)?;
    let mut deduping = t.elapsed();
    let mut transforming = Duration::ZERO;
    let mut rendition = None;
    if decision == Decision::NeedOutput {
        let photo = source.bytes(&p.bus).await?;
        let t = Instant::now();
        let r = block_in_place(|| p.transformer.transform(photo, profile))
            .map_err(Stop::plugin)?
            .map_err(|rejection| {
                Stop::rejected(format!(
                    "{}: {}",
                    profile.attribute,
                    plugins::transformer_describe(&rejection)
                ))
            })?;
        transforming = t.elapsed();
        let t = Instant::now();
        ask.output_digest = Some(p.deduper.digest(&r.jpeg).map_err(Stop::plugin)?);
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
