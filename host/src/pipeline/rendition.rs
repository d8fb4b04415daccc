//! One rendition of one event: ask the deduper, transform only when it needs the output, and
//! say what to write and which state to keep.

use std::time::Instant;

use tokio::task::block_in_place;

use super::source::Source;
use super::{Clock, Pipeline, Stop, plugin_failed, reject};
use crate::directory::Entry;
use crate::events::AttributeResult;
use crate::plugins::{self, Decision, DedupInput, Profile, SyncState};
use crate::state::AttributeState;

/// What every rendition of an event shares.
pub(super) struct Input<'a> {
    pub event_id: &'a str,
    pub entry: &'a Entry,
}

/// The verdict for one attribute.
pub(super) struct Done {
    pub result: AttributeResult,
    /// Bytes to write, if any.
    pub write: Option<Vec<u8>>,
    /// State to keep, if the deduper gave one.
    pub state: Option<AttributeState>,
}

impl Pipeline {
    pub(super) async fn rendition(
        &self,
        input: &Input<'_>,
        source: &mut Source,
        state: Option<SyncState>,
        profile: &Profile,
        clock: &mut Clock,
    ) -> Result<Done, Stop> {
        let t = Instant::now();
        // Digests and decisions are microseconds: they run on the async thread. Only the
        // transform, which decodes whole photos, moves off it.
        let current = input
            .entry
            .values
            .get(&profile.attribute.to_ascii_lowercase());
        let current_digests = current
            .into_iter()
            .flatten()
            .map(|v| self.deduper.digest(v))
            .collect::<Result<Vec<_>, _>>()
            .map_err(plugin_failed)?;
        let mut ask = DedupInput {
            attribute: profile.attribute.clone(),
            source_digest: source.digest.clone(),
            output_digest: None,
            state,
            current_digests,
        };
        let mut decision = self.deduper.decide(&ask).map_err(plugin_failed)?;
        clock.lap("dedup", t);
        let mut rendition = None;
        if decision == Decision::NeedOutput {
            let photo = source.bytes(self).await?;
            let t = Instant::now();
            let r = block_in_place(|| self.transformer.transform(photo, profile))
                .map_err(plugin_failed)?
                .map_err(|rejection| {
                    reject(format!(
                        "{}: {}",
                        profile.attribute,
                        plugins::transformer_describe(&rejection)
                    ))
                })?;
            clock.lap("transform", t);
            let t = Instant::now();
            ask.output_digest = Some(self.deduper.digest(&r.jpeg).map_err(plugin_failed)?);
            decision = self.deduper.decide(&ask).map_err(plugin_failed)?;
            clock.lap("dedup", t);
            rendition = Some(r);
        }
        let keep = |s: &SyncState| AttributeState {
            source_digest: s.source_digest.clone(),
            written_digest: s.written_digest.clone(),
            event_id: input.event_id.to_owned(),
            directory_digest: None,
            pending_digest: None,
        };
        let mut result = AttributeResult {
            attribute: profile.attribute.clone(),
            written: false,
            digest: ask.output_digest.clone(),
            bytes: rendition.as_ref().map(|r| r.jpeg.len()),
            width: rendition.as_ref().map(|r| r.width),
            height: rendition.as_ref().map(|r| r.height),
            quality: rendition.as_ref().map(|r| r.quality),
            reason: String::new(),
        };
        match (decision, rendition) {
            (Decision::Write(s), Some(r)) => {
                result.written = true;
                result.reason = format!(
                    "written: {}x{} JPEG, {} bytes",
                    r.width,
                    r.height,
                    r.jpeg.len()
                );
                Ok(Done {
                    result,
                    write: Some(r.jpeg),
                    state: Some(keep(&s)),
                })
            }
            (Decision::Skip(skip), _) => {
                result.reason = skip.reason;
                Ok(Done {
                    result,
                    write: None,
                    state: skip.state.as_ref().map(keep),
                })
            }
            (other, _) => Err(plugin_failed(plugins::PluginError::MalformedResult {
                plugin: self.deduper.name().to_owned(),
                reason: format!(
                    "it answered {other:?} where write with an output or skip was expected"
                ),
            })),
        }
    }
}
