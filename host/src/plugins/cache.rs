//! The on-disk cache of compiled plugin code, so a restart does not recompile plugins.
//!
//! Entries are keyed by the component's SHA-256 and the engine's compatibility hash; anything
//! unreadable is recompiled. The directory must be writable by photosync only: loading a cached
//! entry trusts it as machine code.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// `$XDG_CACHE_HOME/photosync` or `~/.cache/photosync`.
pub fn default_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
    Some(base.join("photosync").join("plugins"))
}

/// The read-only folder of plugins compiled ahead of time (a container image's), from
/// `PHOTOSYNC_PLUGIN_PRECOMPILED_DIR`.
pub fn precompiled_dir() -> Option<PathBuf> {
    std::env::var_os("PHOTOSYNC_PLUGIN_PRECOMPILED_DIR").map(PathBuf::from)
}

/// A directory of compiled components, and optionally a read-only one looked in first.
#[derive(Debug)]
pub(crate) struct CodeCache {
    dir: PathBuf,
    precompiled: Option<PathBuf>,
    engine_key: String,
}

impl CodeCache {
    pub fn new(dir: PathBuf, precompiled: Option<PathBuf>, engine: &Engine) -> Self {
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        Self {
            dir,
            precompiled,
            engine_key: format!("{:016x}", h.finish()),
        }
    }

    /// The compiled component for `wasm`, from the cache or freshly compiled (and then stored).
    pub fn load_or_compile(&self, engine: &Engine, wasm: &[u8]) -> wasmtime::Result<Component> {
        let digest = Sha256::digest(wasm);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let file = format!("{hex}-{}.cwasm", self.engine_key);
        if let Some(path) = self.precompiled.as_ref().map(|d| d.join(&file))
            && path.is_file()
        {
            // SAFETY: as below; the precompiled folder is the image's own, read-only.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok(component),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "Ignoring an unusable precompiled plugin: {e}.")
                }
            }
        }
        let path = self.dir.join(file);
        if path.is_file() {
            // SAFETY: the file was written by `Component::serialize` of an engine with the same
            // compatibility hash (it is in the name) into a directory only photosync writes to.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok(component),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "Ignoring an unusable compiled-plugin cache entry: {e}.")
                }
            }
        }
        let component = Component::new(engine, wasm)?;
        if let Err(e) = self.store(&path, &component) {
            tracing::warn!(dir = %self.dir.display(), "Cannot cache compiled plugin code ({e}); plugins will be compiled again at the next start.");
        }
        Ok(component)
    }

    fn store(&self, path: &Path, component: &Component) -> std::io::Result<()> {
        let bytes = component.serialize().map_err(std::io::Error::other)?;
        std::fs::create_dir_all(&self.dir)?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, path)
    }
}
