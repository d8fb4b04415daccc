//! The test plugins built by this crate's build script, and runtimes configured like the host's.

use std::path::PathBuf;

use photosync::offline::default_limits;
use photosync::plugins::{
    self, Limits, PluginSpec, Role, Runtime, RuntimeOptions, Source, builtin,
};

/// The path of a test plugin component: `hostile`, `noop` or `sneaky`.
pub fn test_plugin(name: &str) -> PathBuf {
    PathBuf::from(env!("PHOTOSYNC_TEST_PLUGIN_DIR")).join(format!("{name}.wasm"))
}

/// A runtime with a small pool and a private code cache directory.
pub fn runtime(cache: &tempfile::TempDir) -> Runtime {
    let options = RuntimeOptions {
        max_memory_mib: 1024,
        slots: 16,
        cache_dir: Some(cache.path().to_path_buf()),
        precompiled_dir: None,
        ..RuntimeOptions::default()
    };
    Runtime::new(options).expect("the plugin runtime starts")
}

/// A spec for the builtin plugin of `role` with its default limits and the given settings.
pub fn builtin_spec(role: Role, settings: &[(&str, &str)]) -> PluginSpec {
    let source = Source::Builtin(builtin::default_for(role));
    let mut spec = PluginSpec::new(&source.to_string(), source, default_limits(role));
    spec.settings = settings
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    spec
}

/// A spec for a test plugin file with explicit limits and settings.
pub fn file_spec(name: &str, limits: Limits, settings: &[(&str, &str)]) -> PluginSpec {
    let mut spec = PluginSpec::new(name, Source::File(test_plugin(name)), limits);
    spec.settings = settings
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    spec
}

/// Loads the builtin transformer with default settings.
pub fn transformer(runtime: &Runtime) -> plugins::Transformer {
    plugins::Transformer::load(runtime, &builtin_spec(Role::Transformer, &[]))
        .expect("the builtin transformer loads")
}
