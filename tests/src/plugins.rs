//! The test plugins built by this crate's build script, the example plugins in other languages
//! built by their own build scripts, and runtimes configured like the host's.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

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

/// Rewrites every `photosync:plugin` name of `wasm` from the host's version to `version` (the
/// same length, so that every length prefix stays right), as if the component had been built
/// against that version of `wit/`.
pub fn rewrite_wit_version(wasm: &[u8], version: &str) -> Vec<u8> {
    let ours = photosync::plugins::inspect::WIT_VERSION;
    assert_eq!(version.len(), ours.len());
    let mut out = wasm.to_vec();
    let mut names: Vec<String> = [
        "log",
        "types",
        "matcher",
        "transformer",
        "multi-transformer",
        "deduper",
    ]
    .iter()
    .map(|i| format!("photosync:plugin/{i}@{ours}"))
    .collect();
    names.push(format!("photosync:plugin@{ours}"));
    let mut replaced = 0;
    for name in names {
        let new = name.replace(&format!("@{ours}"), &format!("@{version}"));
        let mut at = 0;
        while let Some(i) = find(&out[at..], name.as_bytes()) {
            out[at + i..at + i + name.len()].copy_from_slice(new.as_bytes());
            at += i + name.len();
            replaced += 1;
        }
    }
    assert!(
        replaced >= 2,
        "the component names photosync:plugin interfaces"
    );
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Loads the builtin transformer with default settings.
pub fn transformer(runtime: &Runtime) -> plugins::Transformer {
    plugins::Transformer::load(runtime, &builtin_spec(Role::Transformer, &[]))
        .expect("the builtin transformer loads")
}

/// The example plugins in other languages, and a hostile one, each built from source by its
/// own build script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LanguagePlugin {
    /// `plugins/match-table-py` (componentize-py).
    PythonMatcher,
    /// `plugins/dedup-keep-manual-js` (jco).
    JsDeduper,
    /// `tests/plugins/hostile-py`, which uses the Python matcher's componentize-py.
    HostilePython,
}

/// Where the language plugins are built: beside the test plugins, kept between runs (rebuilt
/// once per process).
pub fn language_plugin_dir() -> PathBuf {
    Path::new(env!("PHOTOSYNC_TEST_PLUGIN_DIR")).join("../../lang-plugins")
}

/// The component `which`, built once per process (Python 15-20 s, JavaScript about 15 s, plus
/// a first install of the tool chain from PyPI or npm into the plugin's folder).
pub fn built_language_plugin(which: LanguagePlugin) -> PathBuf {
    static BUILT: [OnceLock<PathBuf>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let (i, script, name) = match which {
        LanguagePlugin::PythonMatcher => (0, "plugins/match-table-py/build", "match-table"),
        LanguagePlugin::JsDeduper => (1, "plugins/dedup-keep-manual-js/build", "dedup-keep-manual"),
        LanguagePlugin::HostilePython => {
            built_language_plugin(LanguagePlugin::PythonMatcher);
            (2, "tests/plugins/hostile-py/build", "hostile-py")
        }
    };
    BUILT[i].get_or_init(|| build(script, name)).clone()
}

/// Runs a plugin's build script into `language_plugin_dir()/name.wasm` and returns the path.
fn build(script: &str, name: &str) -> PathBuf {
    let out = language_plugin_dir().join(format!("{name}.wasm"));
    let started = Instant::now();
    let output = Command::new(crate::repo_root().join(script))
        .arg(&out)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    assert!(
        output.status.success(),
        "{script} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("built {name} in {:.1} s", started.elapsed().as_secs_f64());
    out
}
