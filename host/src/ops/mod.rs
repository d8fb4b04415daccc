//! Operators' tools: `import` (with `--dry-run`), `watch-folder`, `resync`, `rollback`,
//! `report` and `forget`. They publish events and wait for their results like any producer, or, for a dry
//! run, drive a pipeline that changes nothing. What they share: finding photo files
//! (`files`), following results with a progress line and a summary (`results`), and
//! `--since` (`since`).

mod files;
pub mod folder;
pub mod forget;
pub mod import;
pub mod report;
mod results;
pub mod resync;
pub mod rollback;
mod since;

pub use files::{is_partial_or_hidden, photo_files, wanted};
pub use results::{OUTCOMES, Progress, Results, Summary};
pub use since::parse_since;
