//! Plugins replaced while the worker runs. Every `plugins.reload-check-secs` the worker looks at
//! each plugin's source (a file's modification time and size, an object's content digest); on
//! SIGHUP it reads its configuration file again and takes the plugins it names. New code is
//! loaded and checked (role, imports, pinned hash) beside the plugins in force, and only a
//! plugin that loads replaces the old one: the pipeline is swapped between events, and an event
//! keeps the pipeline it started with to its end. A plugin that does not load is refused with a
//! log line and a metric, once per version, and the old one keeps running.

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use tokio::signal::unix::Signal;
use tokio::sync::watch;

use super::wiring::fetch_code;
use crate::bus::Bus;
use crate::config::Config;
use crate::health::Health;
use crate::pipeline::{Pipeline, Plugins};
use crate::plugins::{Code, PluginError, PluginSpec, Role, Runtime, Source, sha256_hex};

/// A value replaced as a whole while readers keep the one they took.
#[derive(Debug)]
pub(super) struct Current<T>(RwLock<Arc<T>>);

impl<T> Current<T> {
    pub fn new(value: T) -> Self {
        Self(RwLock::new(Arc::new(value)))
    }

    /// The value now; it stays valid for its holder after a replacement.
    pub fn get(&self) -> Arc<T> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, value: T) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(value);
    }
}

/// Where a plugin's code was when last looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stamp {
    Builtin,
    File {
        modified: Option<SystemTime>,
        len: u64,
    },
    /// An object's content digest.
    Object(String),
}

/// A plugin as configured and found: its spec with the code read, where the code was, and the
/// code's SHA-256.
struct Candidate {
    spec: PluginSpec,
    stamp: Stamp,
    sha256: String,
}

/// The plugin playing one role, and the last version refused for it.
struct InForce {
    role: Role,
    /// The spec in force, without its code.
    spec: PluginSpec,
    stamp: Stamp,
    sha256: String,
    /// The spec and stamp of the last version refused (`None` as the stamp: its code could
    /// not be found), so that each version is reported once.
    refused: Option<(PluginSpec, Option<Stamp>)>,
}

/// Watches the plugins' sources and swaps the pipeline when one changes.
pub(super) struct Reloader {
    config: Config,
    runtime: Runtime,
    bus: Bus,
    health: Arc<Health>,
    roles: Vec<InForce>,
}

impl Reloader {
    /// Loads the configured plugins (a start-up failure is an error, as before any event) and
    /// returns them with the reloader that will watch them.
    pub async fn load(
        config: &Config,
        runtime: Runtime,
        bus: Bus,
        health: Arc<Health>,
    ) -> anyhow::Result<(Plugins, Self)> {
        let mut found = Vec::with_capacity(Role::ALL.len());
        for role in Role::ALL {
            found.push(candidate(config.plugin_spec(role)?, &bus).await?);
        }
        let plugins = Plugins::load(&runtime, [&found[0].spec, &found[1].spec, &found[2].spec])?;
        let roles = Role::ALL
            .into_iter()
            .zip(found)
            .map(|(role, c)| {
                health.plugin_in_force(role.name(), &c.spec.source.to_string(), &c.sha256);
                InForce {
                    role,
                    spec: without_code(c.spec),
                    stamp: c.stamp,
                    sha256: c.sha256,
                    refused: None,
                }
            })
            .collect();
        let reloader = Self {
            config: config.clone(),
            runtime,
            bus,
            health,
            roles,
        };
        Ok((plugins, reloader))
    }

    /// Checks the sources every `plugins.reload-check-secs` and on each SIGHUP (after reading
    /// the configuration file again) until `stop`, replacing the pipeline in `current` when a
    /// plugin changed.
    pub async fn run(
        mut self,
        current: Arc<Current<Pipeline>>,
        mut hangup: Signal,
        mut stop: watch::Receiver<bool>,
    ) {
        let every = self.config.plugins.reload_check_secs;
        let mut tick = tokio::time::interval(Duration::from_secs(every.max(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                _ = hangup.recv() => self.read_config_again(),
                _ = tick.tick(), if every > 0 => {}
            }
            for i in 0..self.roles.len() {
                self.check(i, &current).await;
            }
        }
    }

    /// SIGHUP: the configuration file read again; its plugins apply from the next check.
    fn read_config_again(&mut self) {
        let Some(path) = self.config.origin.clone() else {
            tracing::warn!(
                "SIGHUP: this worker's configuration was not read from a file; nothing to read again."
            );
            return;
        };
        match Config::load(&path) {
            Ok(config) => {
                tracing::info!(
                    config = %path.display(),
                    "SIGHUP: read the configuration again; plugin changes apply now, other changes at the next start."
                );
                self.config = config;
            }
            Err(e) => tracing::error!(
                config = %path.display(),
                "SIGHUP: cannot read the configuration again ({e}); the plugins in force keep running."
            ),
        }
    }

    /// Looks at role `i`'s source and replaces its plugin when the code or its configuration
    /// changed and the new version loads.
    async fn check(&mut self, i: usize, current: &Current<Pipeline>) {
        let role = self.roles[i].role;
        // Every plugin spec was checked when the configuration was read.
        let Ok(wanted) = self.config.plugin_spec(role) else {
            return;
        };
        let stamp = self.stamp(&wanted).await;
        let in_force = &self.roles[i];
        let same_config = same(&wanted, &in_force.spec);
        if same_config && stamp.as_ref() == Some(&in_force.stamp) {
            return;
        }
        if let Some((spec, refused_stamp)) = &in_force.refused
            && same(spec, &wanted)
            && *refused_stamp == stamp
        {
            return;
        }
        let found = match candidate(wanted.clone(), &self.bus).await {
            Ok(found) => found,
            Err(e) => return self.refuse(i, wanted, stamp, &e.to_string()),
        };
        if same_config && found.sha256 == self.roles[i].sha256 {
            // Touched, not changed.
            self.roles[i].stamp = found.stamp;
            return;
        }
        let pipeline = current.get();
        match pipeline.plugins().with(role, &self.runtime, &found.spec) {
            Ok(plugins) => {
                current.set(pipeline.with_plugins(plugins));
                let source = found.spec.source.to_string();
                tracing::info!(
                    role = role.name(),
                    %source,
                    sha256 = %found.sha256,
                    was = %self.roles[i].sha256,
                    "Replaced the {} plugin; events started from now on use it.",
                    role.name()
                );
                self.health
                    .plugin_in_force(role.name(), &source, &found.sha256);
                self.roles[i] = InForce {
                    role,
                    spec: without_code(found.spec),
                    stamp: found.stamp,
                    sha256: found.sha256,
                    refused: None,
                };
            }
            Err(e) => {
                let stamp = Some(found.stamp);
                self.refuse(i, without_code(found.spec), stamp, &e.to_string());
            }
        }
    }

    /// Reports a new version of role `i`'s plugin that cannot replace the one in force.
    fn refuse(&mut self, i: usize, spec: PluginSpec, stamp: Option<Stamp>, reason: &str) {
        let in_force = &mut self.roles[i];
        let role = in_force.role.name();
        tracing::error!(
            role,
            "Refused a new {role} plugin: {reason}. The one in force ({}, sha256 {}) keeps running.",
            in_force.spec.source,
            in_force.sha256
        );
        self.health.plugin_refused(role);
        in_force.refused = Some((spec, stamp));
    }

    /// Where `spec`'s code is now, without reading it; `None` when that cannot be told (a file
    /// gone, NATS away), which makes the caller read it and report what fails.
    async fn stamp(&self, spec: &PluginSpec) -> Option<Stamp> {
        match &spec.source {
            Source::Builtin(_) => Some(Stamp::Builtin),
            Source::File(path) => file_stamp(path).ok(),
            Source::Object { bucket, name } => self
                .bus
                .object_content(bucket, name)
                .await
                .ok()
                .map(Stamp::Object),
        }
    }
}

/// The plugin `spec` names, its code read (a file, a builtin) or fetched (an object).
async fn candidate(mut spec: PluginSpec, bus: &Bus) -> Result<Candidate, PluginError> {
    let stamp = match &spec.source {
        Source::Builtin(_) => Stamp::Builtin,
        Source::File(path) => file_stamp(path).map_err(|source| PluginError::Read {
            plugin: spec.name.clone(),
            path: path.clone(),
            source,
        })?,
        Source::Object { .. } => {
            Stamp::Object(fetch_code(&mut spec, bus).await?.unwrap_or_default())
        }
    };
    if spec.code.is_none() {
        // The bytes loaded are the bytes hashed, whatever happens to the file meanwhile.
        let wasm = spec.source.read(&spec.name)?;
        spec.code = Some(Code(wasm.into_owned().into()));
    }
    let sha256 = spec
        .code
        .as_ref()
        .map(|c| sha256_hex(&c.0))
        .unwrap_or_default();
    Ok(Candidate {
        spec,
        stamp,
        sha256,
    })
}

fn file_stamp(path: &std::path::Path) -> std::io::Result<Stamp> {
    let meta = std::fs::metadata(path)?;
    Ok(Stamp::File {
        modified: meta.modified().ok(),
        len: meta.len(),
    })
}

fn without_code(mut spec: PluginSpec) -> PluginSpec {
    spec.code = None;
    spec
}

/// Whether two specs configure the same plugin (their code aside).
fn same(a: &PluginSpec, b: &PluginSpec) -> bool {
    a.source == b.source && a.limits == b.limits && a.settings == b.settings && a.sha256 == b.sha256
}
