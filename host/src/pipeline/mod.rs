//! One event from payload to result and verdict. Two paths share one frame ([`frame`]):
//! [`upload`] (a photo-upload event through its stages) and [`directory_change`] (a
//! directory-change event, which may apply a waiting photo through the upload path). Every
//! event ends in a [`Handled`]: the result to publish and the [`Verdict`], decided in one place
//! ([`verdict`]). It does not talk to the consumer or publish results; `service` does.

pub mod directory_change;
pub(crate) mod frame;
pub mod upload;
pub mod verdict;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::backup::Backups;
use crate::bus::Bus;
use crate::directory::Directory;
use crate::events::{PhotoResult, PhotoUpload};
use crate::names::Names;
use crate::plugins::{
    Deduper, Matcher, PluginError, PluginSpec, Profile, Role, Runtime, Transformer,
};
use crate::text::clip;
use frame::{Clock, Ended};

pub use frame::{Delivery, Handled};
pub use upload::Digests;
pub use verdict::{Cause, RetryPolicy, Verdict};

/// Which kind of event a message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Upload,
    DirectoryChange,
}

impl Kind {
    /// The subject events of this kind are published on, of the deployment named `names`.
    pub fn subject(self, names: &Names) -> &str {
        match self {
            Kind::Upload => &names.photo_uploaded,
            Kind::DirectoryChange => &names.directory_changed,
        }
    }

    /// The name metrics and logs use.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Upload => "upload",
            Kind::DirectoryChange => "directory-change",
        }
    }
}

/// The three plugins an event goes through; shared, so that a pipeline with one plugin
/// replaced keeps the other two.
#[derive(Debug, Clone)]
pub struct Plugins {
    pub matcher: Arc<Matcher>,
    pub transformer: Arc<Transformer>,
    pub deduper: Arc<Deduper>,
}

impl Plugins {
    /// Loads and checks the plugins `specs` name, one for each role (matcher, transformer,
    /// deduper).
    pub fn load(
        runtime: &Runtime,
        [matcher, transformer, deduper]: [&PluginSpec; 3],
    ) -> Result<Self, PluginError> {
        Ok(Self {
            matcher: Arc::new(Matcher::load(runtime, matcher)?),
            transformer: Arc::new(Transformer::load(runtime, transformer)?),
            deduper: Arc::new(Deduper::load(runtime, deduper)?),
        })
    }

    /// These plugins with the one playing `role` loaded anew from `spec`.
    pub fn with(
        &self,
        role: Role,
        runtime: &Runtime,
        spec: &PluginSpec,
    ) -> Result<Self, PluginError> {
        let mut plugins = self.clone();
        match role {
            Role::Matcher => plugins.matcher = Arc::new(Matcher::load(runtime, spec)?),
            Role::Transformer => plugins.transformer = Arc::new(Transformer::load(runtime, spec)?),
            Role::Deduper => plugins.deduper = Arc::new(Deduper::load(runtime, spec)?),
        }
        Ok(plugins)
    }
}

/// What a pipeline is made of.
#[derive(Debug)]
pub struct Parts {
    pub plugins: Plugins,
    pub bus: Bus,
    pub directory: Directory,
    pub profiles: Vec<Profile>,
    /// Where replaced photos are kept before each write; `None` when backups are off.
    pub backups: Option<Backups>,
    /// Decide everything, change nothing: no write, no state, no kept photo (the outcome says
    /// what a real run would do).
    pub dry_run: bool,
    pub retry: RetryPolicy,
    /// Erase a deleted entry's photos, name index and backups (`[retention] erase-deleted`).
    pub erase_deleted: bool,
}

/// The plugins, the directory and the bus, shared by all in-flight events. Its parts are its
/// own: the stages reach them, nothing outside does.
#[derive(Debug)]
pub struct Pipeline {
    matcher: Arc<Matcher>,
    transformer: Arc<Transformer>,
    deduper: Arc<Deduper>,
    directory: Arc<Directory>,
    bus: Bus,
    profiles: Vec<Profile>,
    /// The deduper's digests of the photos and directory values seen before, by a hash of their
    /// bytes (or of an inline photo's text).
    digests: Arc<Digests>,
    backups: Option<Backups>,
    dry_run: bool,
    retry: RetryPolicy,
    erase_deleted: bool,
}

impl Pipeline {
    pub fn new(parts: Parts) -> Self {
        let Parts {
            plugins,
            bus,
            directory,
            profiles,
            backups,
            dry_run,
            retry,
            erase_deleted,
        } = parts;
        Self {
            matcher: plugins.matcher,
            transformer: plugins.transformer,
            deduper: plugins.deduper,
            directory: Arc::new(directory),
            bus,
            profiles,
            digests: Arc::default(),
            backups,
            dry_run,
            retry,
            erase_deleted,
        }
    }

    /// The plugins events go through.
    pub fn plugins(&self) -> Plugins {
        Plugins {
            matcher: self.matcher.clone(),
            transformer: self.transformer.clone(),
            deduper: self.deduper.clone(),
        }
    }

    /// This pipeline with other plugins, sharing everything else (the remembered digests only
    /// while the deduper stays: they are its digests). Events already handed the old pipeline
    /// finish with the old plugins.
    pub fn with_plugins(&self, plugins: Plugins) -> Self {
        let digests = match Arc::ptr_eq(&plugins.deduper, &self.deduper) {
            true => self.digests.clone(),
            false => Arc::default(),
        };
        Self {
            matcher: plugins.matcher,
            transformer: plugins.transformer,
            deduper: plugins.deduper,
            directory: self.directory.clone(),
            bus: self.bus.clone(),
            profiles: self.profiles.clone(),
            digests,
            backups: self.backups.clone(),
            dry_run: self.dry_run,
            retry: self.retry,
            erase_deleted: self.erase_deleted,
        }
    }

    /// Handles one event of `kind` from its payload, on `delivery`.
    pub async fn handle(&self, kind: Kind, payload: &[u8], delivery: Delivery) -> Handled {
        let mut clock = Clock::start();
        let parsed = match kind {
            Kind::Upload => upload::parse::parse(payload).map(Parsed::Upload),
            Kind::DirectoryChange => directory_change::parse(payload).map(Parsed::Change),
        };
        let event_id = match &parsed {
            Ok(Parsed::Upload(e)) => clip(&e.id, 200),
            Ok(Parsed::Change(c)) => clip(&c.id, 200),
            Err(_) => frame::event_id_of(payload),
        };
        tracing::Span::current().record("id", event_id.as_str());
        let mut result = PhotoResult::new(event_id, delivery.number);
        let ended: Ended = match parsed {
            Ok(Parsed::Upload(event)) => {
                let upload = upload::Upload {
                    event,
                    sequence: delivery.sequence,
                    given: None,
                };
                upload::apply(self, upload, &mut result, &mut clock).await
            }
            Ok(Parsed::Change(change)) => {
                directory_change::apply(self, &change, &mut result, &mut clock).await
            }
            Err(stop) => Err(stop),
        };
        result.plugins = self.versions();
        let dead = self
            .bus
            .names()
            .dead_subject(kind.subject(self.bus.names()));
        frame::settle(result, ended, clock, &self.retry, &dead)
    }

    /// What a real run would do with `event`, whose photo is `photo`, published as the
    /// `sequence`-th upload (a dry run's prediction; on a pipeline made with `dry_run`).
    pub async fn predict(&self, event: PhotoUpload, photo: Vec<u8>, sequence: u64) -> PhotoResult {
        let mut clock = Clock::start();
        let mut result = PhotoResult::new(clip(&event.id, 200), 1);
        result.plugins = self.versions();
        let ended = match upload::parse::check(&event) {
            Ok(_) => {
                let upload = upload::Upload {
                    event,
                    sequence,
                    given: Some(photo),
                };
                upload::apply(self, upload, &mut result, &mut clock).await
            }
            Err(stop) => Err(stop),
        };
        let dead = self
            .bus
            .names()
            .dead_subject(Kind::Upload.subject(self.bus.names()));
        frame::settle(result, ended, clock, &self.retry, &dead).result
    }

    /// Which code each plugin runs, for the result: role to the first 16 hex digits of its
    /// SHA-256.
    fn versions(&self) -> BTreeMap<String, String> {
        [
            (Role::Matcher, self.matcher.sha256()),
            (Role::Transformer, self.transformer.sha256()),
            (Role::Deduper, self.deduper.sha256()),
        ]
        .into_iter()
        .map(|(role, sha256)| (role.name().to_owned(), sha256[..16].to_owned()))
        .collect()
    }

    /// Whether the directory answers now.
    pub async fn directory_answers(&self) -> bool {
        self.directory.check().await.is_ok()
    }

    /// A directory client of its own with this pipeline's settings (the watcher's).
    pub fn another_directory(&self) -> Directory {
        self.directory.another()
    }

    /// The deduper's digest of a directory value (or of a rendition about to become one),
    /// remembered by the hash of its bytes: see [`Digests::of_value`].
    fn value_digest(&self, value: &[u8]) -> Result<String, PluginError> {
        self.digests.of_value(value, |v| self.deduper.digest(v))
    }

    /// The photo attributes written, by name.
    fn attribute_names(&self) -> Vec<&str> {
        self.profiles.iter().map(|p| p.attribute.as_str()).collect()
    }

    fn attribute_names_owned(&self) -> Vec<String> {
        self.profiles.iter().map(|p| p.attribute.clone()).collect()
    }
}

/// A payload parsed as the event its kind promises.
enum Parsed {
    Upload(PhotoUpload),
    Change(crate::events::DirectoryChange),
}
