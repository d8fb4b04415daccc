//! `photosync plugin test`: runs a plugin component through a file of cases — calls and what
//! each must answer — in the real sandbox, through the same wrappers and checks the service
//! uses, and reports each case with the plugin's log lines.
//!
//! The format (`format = 1`) is described in `plugins/match-table-py/README.md` and
//! `plugins/dedup-keep-manual-js/README.md`; transformer cases give `photo-file` (or
//! `photo-hex`, `photo-base64`) and a `profile`, and expect a `rendition` or a rejection.

mod expect;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Deserialize;
use toml::Value;

use self::expect::Expect;
use super::{
    Attribute, Decision, DedupInput, Deduper, MatchOutcome, Matcher, PhotoInfo, PluginError,
    PluginSpec, Profile, Rejection, Role, Runtime, Source, SyncState, Transformer,
};

/// Why a cases file could not be run at all (a failing case is not an error: see [`Report`]).
#[derive(Debug, thiserror::Error)]
pub enum CasesError {
    /// The cases file (or a file a case names) could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The cases file is not valid: the text names the case and the key.
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    /// The component could not be loaded for the file's role.
    #[error(transparent)]
    Plugin(#[from] PluginError),
}

/// The outcome of every case of a cases file.
#[derive(Debug, Clone)]
pub struct Report {
    /// The plugin's name (its file name).
    pub plugin: String,
    /// The role the cases exercise.
    pub role: Role,
    /// One entry per case, in the file's order.
    pub cases: Vec<CaseResult>,
}

/// The outcome of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case's name.
    pub name: String,
    /// Why it failed, or `None` when the answer was the expected one.
    pub failure: Option<String>,
    /// What the plugin logged during the call, as `level: message`.
    pub log: Vec<String>,
    /// How long the call took (a fresh instance and the call).
    pub took: Duration,
}

impl Report {
    /// Whether every case passed.
    pub fn passed(&self) -> bool {
        self.cases.iter().all(|c| c.failure.is_none())
    }

    /// How many cases failed.
    pub fn failed(&self) -> usize {
        self.cases.iter().filter(|c| c.failure.is_some()).count()
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for case in &self.cases {
            let ms = case.took.as_secs_f64() * 1e3;
            match &case.failure {
                None => writeln!(f, "ok   {} ({ms:.2} ms)", case.name)?,
                Some(why) => writeln!(f, "FAIL {} ({ms:.2} ms): {why}", case.name)?,
            }
            for line in &case.log {
                writeln!(f, "       log {line}")?;
            }
        }
        let failed = self.failed();
        writeln!(f, "{} passed, {failed} failed", self.cases.len() - failed)
    }
}

/// Runs every case of the file `cases` against the plugin `source` (a component file or a
/// builtin), loaded for the file's role with that role's default limits.
pub fn run(runtime: &Runtime, source: &Source, cases: &Path) -> Result<Report, CasesError> {
    let invalid = |reason: String| CasesError::Invalid {
        path: cases.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(cases).map_err(|source| CasesError::Read {
        path: cases.to_path_buf(),
        source,
    })?;
    let file: CasesFile = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    if file.format != 1 {
        return Err(invalid(format!(
            "format {} is unknown; this photosync reads format 1",
            file.format
        )));
    }
    let role = Role::ALL
        .into_iter()
        .find(|r| r.name() == file.role)
        .ok_or_else(|| {
            invalid(format!(
                "role {:?} is not matcher, transformer or deduper",
                file.role
            ))
        })?;
    let base = cases.parent().unwrap_or(Path::new("."));
    let plugin = source.short_name();
    let spec = |settings| PluginSpec {
        settings,
        ..PluginSpec::new(
            &plugin,
            source.clone(),
            crate::offline::default_limits(role),
        )
    };
    let target = Target::load(runtime, role, spec(BTreeMap::new()))?;
    let mut results = Vec::with_capacity(file.cases.len());
    for (i, case) in file.cases.iter().enumerate() {
        let where_ = format!("case {} ({:?})", i + 1, case.name);
        let call = Call::parse(role, case, base).map_err(|e| invalid(format!("{where_}: {e}")))?;
        let expect = Expect::parse(&case.expect).map_err(|e| invalid(format!("{where_}: {e}")))?;
        let mut settings = file.settings.clone();
        for key in &case.unset {
            settings.remove(key);
        }
        settings.extend(case.settings.clone());
        let configured = target.with_settings(runtime, spec(settings))?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let started = Instant::now();
        let answer = capture_log(&log, || configured.call(&call));
        let took = started.elapsed();
        let failure = expect.check(&answer).err();
        let log = log.lock().map(|l| l.clone()).unwrap_or_default();
        results.push(CaseResult {
            name: case.name.clone(),
            failure,
            log,
            took,
        });
    }
    Ok(Report {
        plugin,
        role,
        cases: results,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CasesFile {
    format: u32,
    role: String,
    #[serde(default)]
    settings: BTreeMap<String, String>,
    #[serde(default, rename = "case")]
    cases: Vec<CaseSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct CaseSpec {
    name: String,
    call: String,
    #[serde(default)]
    settings: BTreeMap<String, String>,
    #[serde(default)]
    unset: Vec<String>,
    /// match-photo: the photo's metadata.
    photo: Option<PhotoSpec>,
    /// photo-names: the entry's attributes.
    entry: Option<BTreeMap<String, Vec<String>>>,
    /// digest: the bytes, as text, hex or a file.
    data: Option<String>,
    data_hex: Option<String>,
    data_file: Option<PathBuf>,
    /// decide: the dedup input.
    input: Option<InputSpec>,
    /// transform: the photo, as a file, hex or base64, and the profile.
    photo_file: Option<PathBuf>,
    photo_hex: Option<String>,
    photo_base64: Option<String>,
    profile: Option<ProfileSpec>,
    expect: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct PhotoSpec {
    file_name: String,
    #[serde(default = "default_source")]
    source: String,
    #[serde(default)]
    content_type: String,
    #[serde(default)]
    attributes: BTreeMap<String, Vec<String>>,
}

fn default_source() -> String {
    "photosync plugin test".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct InputSpec {
    attribute: String,
    source_digest: String,
    output_digest: Option<String>,
    state: Option<StateSpec>,
    #[serde(default)]
    current_digests: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct StateSpec {
    source_digest: String,
    written_digest: String,
}

impl From<StateSpec> for SyncState {
    fn from(s: StateSpec) -> Self {
        SyncState {
            source_digest: s.source_digest,
            written_digest: s.written_digest,
        }
    }
}

/// `profile = "jpegPhoto"`, or a table like a `[[renditions]]` entry of the configuration.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ProfileSpec {
    Named(String),
    Table(crate::config::RenditionConfig),
}

fn attributes(map: &BTreeMap<String, Vec<String>>) -> Vec<Attribute> {
    map.iter()
        .map(|(name, values)| Attribute {
            name: name.clone(),
            values: values.clone(),
        })
        .collect()
}

/// One call, with its arguments.
#[derive(Debug)]
enum Call {
    MatchPhoto(PhotoInfo),
    PhotoNames(Vec<Attribute>),
    Digest(Vec<u8>),
    Decide(DedupInput),
    Transform(Vec<u8>, Profile),
}

impl Call {
    fn parse(role: Role, case: &CaseSpec, base: &Path) -> Result<Self, String> {
        let need = |what: &str| format!("call {:?} needs `{what}`", case.call);
        let call = match (role, case.call.as_str()) {
            (Role::Matcher, "match-photo") => {
                let p = case.photo.as_ref().ok_or_else(|| need("photo"))?;
                Call::MatchPhoto(PhotoInfo {
                    file_name: p.file_name.clone(),
                    source: p.source.clone(),
                    content_type: p.content_type.clone(),
                    attributes: attributes(&p.attributes),
                })
            }
            (Role::Matcher, "photo-names") => Call::PhotoNames(attributes(
                case.entry.as_ref().ok_or_else(|| need("entry"))?,
            )),
            (Role::Deduper, "digest") => Call::Digest(
                bytes(&case.data, &case.data_hex, &None, &case.data_file, base)?
                    .ok_or_else(|| need("data, data-hex or data-file"))?,
            ),
            (Role::Deduper, "decide") => {
                let i = case.input.as_ref().ok_or_else(|| need("input"))?;
                Call::Decide(DedupInput {
                    attribute: i.attribute.clone(),
                    source_digest: i.source_digest.clone(),
                    output_digest: i.output_digest.clone(),
                    state: i.state.clone().map(Into::into),
                    current_digests: i.current_digests.clone(),
                })
            }
            (Role::Transformer, "transform") => {
                let photo = bytes(
                    &None,
                    &case.photo_hex,
                    &case.photo_base64,
                    &case.photo_file,
                    base,
                )?
                .ok_or_else(|| need("photo-file, photo-hex or photo-base64"))?;
                let profile = match &case.profile {
                    None => crate::profiles::thumbnail_photo(),
                    Some(ProfileSpec::Named(name)) => crate::profiles::find(name)
                        .ok_or_else(|| format!("there is no builtin profile {name:?}"))?,
                    Some(ProfileSpec::Table(table)) => table.profile()?,
                };
                Call::Transform(photo, profile)
            }
            (_, other) => {
                return Err(format!("a {} has no call {other:?}", role.name()));
            }
        };
        Ok(call)
    }
}

/// The bytes a case gives as text, hex, base64 or a file (relative to the cases file).
fn bytes(
    text: &Option<String>,
    hex: &Option<String>,
    base64: &Option<String>,
    file: &Option<PathBuf>,
    base: &Path,
) -> Result<Option<Vec<u8>>, String> {
    if let Some(text) = text {
        return Ok(Some(text.as_bytes().to_vec()));
    }
    if let Some(hex) = hex {
        let clean: String = hex.chars().filter(|c| !c.is_whitespace()).collect();
        let pairs = (0..clean.len()).step_by(2).map(|i| {
            clean
                .get(i..i + 2)
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| format!("{:?} is not hexadecimal bytes", crate::text::clip(hex, 40)))
        });
        return pairs.collect::<Result<Vec<u8>, _>>().map(Some);
    }
    if let Some(b64) = base64 {
        let clean: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
        return base64::engine::general_purpose::STANDARD
            .decode(clean)
            .map(Some)
            .map_err(|e| format!("the base64 photo does not decode: {e}"));
    }
    if let Some(file) = file {
        let path = base.join(file);
        return std::fs::read(&path)
            .map(Some)
            .map_err(|e| format!("cannot read {}: {e}", path.display()));
    }
    Ok(None)
}

/// The component loaded for its role; loaded again with each case's settings (compiled code and
/// checks are cached by the runtime, so this costs a pre-instantiation).
enum Target {
    Matcher(Matcher),
    Deduper(Deduper),
    Transformer(Transformer),
}

impl Target {
    fn load(runtime: &Runtime, role: Role, spec: PluginSpec) -> Result<Self, PluginError> {
        Ok(match role {
            Role::Matcher => Target::Matcher(Matcher::load(runtime, &spec)?),
            Role::Deduper => Target::Deduper(Deduper::load(runtime, &spec)?),
            Role::Transformer => Target::Transformer(Transformer::load(runtime, &spec)?),
        })
    }

    fn with_settings(&self, runtime: &Runtime, spec: PluginSpec) -> Result<Self, PluginError> {
        let role = match self {
            Target::Matcher(_) => Role::Matcher,
            Target::Deduper(_) => Role::Deduper,
            Target::Transformer(_) => Role::Transformer,
        };
        Self::load(runtime, role, spec)
    }

    fn call(&self, call: &Call) -> Answer {
        match (self, call) {
            (Target::Matcher(m), Call::MatchPhoto(p)) => Answer::Match(m.match_photo(p)),
            (Target::Matcher(m), Call::PhotoNames(e)) => Answer::Names(m.photo_names(e)),
            (Target::Deduper(d), Call::Digest(data)) => Answer::Digest(d.digest(data)),
            (Target::Deduper(d), Call::Decide(i)) => Answer::Decide(d.decide(i)),
            (Target::Transformer(t), Call::Transform(photo, profile)) => {
                Answer::Transform(t.transform(photo, profile))
            }
            _ => Answer::Unsupported,
        }
    }
}

/// What the plugin answered.
#[derive(Debug)]
enum Answer {
    Match(Result<MatchOutcome, PluginError>),
    Names(Result<Vec<String>, PluginError>),
    Digest(Result<String, PluginError>),
    Decide(Result<Decision, PluginError>),
    Transform(Result<Result<super::Rendition, Rejection>, PluginError>),
    Unsupported,
}

/// Runs `f` with the plugin's log lines (tracing events carrying a `plugin` field, emitted on
/// this thread) collected into `sink` instead of the process's log.
fn capture_log<T>(sink: &Arc<Mutex<Vec<String>>>, f: impl FnOnce() -> T) -> T {
    use tracing_subscriber::layer::SubscriberExt as _;
    let subscriber = tracing_subscriber::registry().with(LogCapture(sink.clone()));
    tracing::subscriber::with_default(subscriber, f)
}

struct LogCapture(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for LogCapture {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        #[derive(Default)]
        struct Fields {
            plugin: bool,
            message: String,
        }
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                match field.name() {
                    "plugin" => self.plugin = true,
                    "message" => {
                        let _ = write!(self.message, "{value:?}");
                    }
                    _ => {}
                }
            }
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        if fields.plugin
            && let Ok(mut lines) = self.0.lock()
        {
            let level = event.metadata().level().as_str().to_ascii_lowercase();
            lines.push(format!("{level}: {}", fields.message));
        }
    }
}
