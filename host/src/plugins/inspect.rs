//! What a component is: which plugin role it implements, against which WIT version, and what it
//! imports, checked against what photosync grants plugins.

use wasmtime::Engine;
use wasmtime::component::Component;

use super::{PluginError, Runtime};

/// The WIT package plugins are written against.
pub const WIT_PACKAGE: &str = "photosync:plugin";
/// The version of [`WIT_PACKAGE`] this host implements.
pub const WIT_VERSION: &str = "0.1.1";

/// A plugin role: the interface a component exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Exports `photosync:plugin/matcher`.
    Matcher,
    /// Exports `photosync:plugin/transformer`.
    Transformer,
    /// Exports `photosync:plugin/deduper`.
    Deduper,
}

impl Role {
    /// All roles.
    pub const ALL: [Role; 3] = [Role::Matcher, Role::Transformer, Role::Deduper];

    /// The role's name, which is also its interface's name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Matcher => "matcher",
            Role::Transformer => "transformer",
            Role::Deduper => "deduper",
        }
    }
}

/// What an import gives a plugin. Interfaces the host grants nothing through are still linked,
/// to implementations that refuse (an empty environment, no preopened directory, sockets that
/// may not be used), so a component a standard tool chain produced loads as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// The import works; the text says what it gives.
    Granted(&'static str),
    /// The import is linked but yields nothing; the text says what is denied.
    Denied(&'static str),
}

impl std::fmt::Display for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Grant::Granted(what) => write!(f, "granted: {what}"),
            Grant::Denied(what) => write!(f, "denied: {what}"),
        }
    }
}

const IO: Grant = Grant::Granted("streams and polling");
const CLOCKS: Grant = Grant::Granted("clocks");
const RANDOM: Grant = Grant::Granted("random");
const TERMINAL: Grant = Grant::Denied("terminal (none)");
const FILES: Grant = Grant::Denied("filesystem (no preopened directory)");
const NETWORK: Grant = Grant::Denied("network");
const HTTP: Grant = Grant::Denied("http");

/// Every interface plugins may import, and what it gives them: photosync's own, and the WASI 0.2
/// interfaces Rust's standard library, componentize-py and jco import. The runtime links each
/// (`runtime.rs`), with the context of `store.rs`. Anything else is refused at load.
const INTERFACES: &[(&str, Grant)] = &[
    (
        "photosync:plugin/log",
        Grant::Granted("log (into the host's log, 64 lines a call)"),
    ),
    ("photosync:plugin/types", Grant::Granted("types")),
    ("wasi:cli/environment", Grant::Denied("environment (empty)")),
    (
        "wasi:cli/exit",
        Grant::Granted("exit (ends the call as a crash)"),
    ),
    ("wasi:cli/stdin", Grant::Denied("stdin (closed)")),
    ("wasi:cli/stdout", Grant::Denied("stdout (discarded)")),
    (
        "wasi:cli/stderr",
        Grant::Granted("stderr (kept for the error message)"),
    ),
    ("wasi:cli/terminal-input", TERMINAL),
    ("wasi:cli/terminal-output", TERMINAL),
    ("wasi:cli/terminal-stdin", TERMINAL),
    ("wasi:cli/terminal-stdout", TERMINAL),
    ("wasi:cli/terminal-stderr", TERMINAL),
    ("wasi:io/error", IO),
    ("wasi:io/poll", IO),
    ("wasi:io/streams", IO),
    ("wasi:clocks/wall-clock", CLOCKS),
    ("wasi:clocks/monotonic-clock", CLOCKS),
    ("wasi:random/random", RANDOM),
    ("wasi:random/insecure", RANDOM),
    ("wasi:random/insecure-seed", RANDOM),
    ("wasi:filesystem/types", FILES),
    ("wasi:filesystem/preopens", FILES),
    ("wasi:sockets/network", NETWORK),
    ("wasi:sockets/instance-network", NETWORK),
    ("wasi:sockets/tcp", NETWORK),
    ("wasi:sockets/tcp-create-socket", NETWORK),
    ("wasi:sockets/udp", NETWORK),
    ("wasi:sockets/udp-create-socket", NETWORK),
    ("wasi:sockets/ip-name-lookup", NETWORK),
    ("wasi:http/types", HTTP),
    ("wasi:http/outgoing-handler", HTTP),
];

/// The WASI version the linked interfaces are; imports of any 0.2.x resolve to them.
const WASI_VERSION: &str = "0.2.0";

/// What [`inspect`] found in a component.
#[derive(Debug, Clone)]
pub struct Report {
    /// The roles it implements, with the WIT version of each export.
    pub roles: Vec<(Role, String)>,
    /// The names of everything it imports, e.g. `wasi:cli/environment@0.2.4`.
    pub imports: Vec<String>,
    /// The names of everything it exports.
    pub exports: Vec<String>,
}

impl Report {
    /// The first import photosync does not provide, if any.
    pub fn check_grants(&self) -> Result<(), String> {
        match self.imports.iter().find(|name| grant(name).is_none()) {
            Some(name) => Err(name.clone()),
            None => Ok(()),
        }
    }

    /// Each import with what it gets, `None` for one the host does not provide.
    pub fn grants(&self) -> Vec<(&str, Option<Grant>)> {
        self.imports
            .iter()
            .map(|name| (name.as_str(), grant(name)))
            .collect()
    }

    /// One line per import for a person: its name and what it gets, e.g.
    /// `wasi:sockets/tcp@0.2.9  denied: network`.
    pub fn import_lines(&self) -> Vec<String> {
        let width = self.imports.iter().map(String::len).max().unwrap_or(0);
        self.grants()
            .into_iter()
            .map(|(name, grant)| match grant {
                Some(grant) => format!("{name:<width$}  {grant}"),
                None => format!("{name:<width$}  refused: photosync does not provide it"),
            })
            .collect()
    }
}

/// Compiles `wasm` through the runtime (and its code cache) and reads what it implements and
/// imports.
pub fn inspect_bytes(runtime: &Runtime, name: &str, wasm: &[u8]) -> Result<Report, PluginError> {
    let component = runtime.compile(name, wasm)?;
    Ok(inspect(runtime.engine(), &component))
}

/// Reads a compiled component's imports and exports.
pub fn inspect(engine: &Engine, component: &Component) -> Report {
    let ty = component.component_type();
    let imports: Vec<String> = ty
        .imports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    let exports: Vec<String> = ty
        .exports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    let roles = exports
        .iter()
        .filter_map(|name| {
            let (interface, version) = split_version(name);
            let role = Role::ALL
                .into_iter()
                .find(|r| interface == format!("{WIT_PACKAGE}/{}", r.name()))?;
            Some((role, version.unwrap_or("unversioned").to_owned()))
        })
        .collect();
    Report {
        roles,
        imports,
        exports,
    }
}

/// What `import` (e.g. `wasi:sockets/tcp@0.2.9`) gives a plugin, or `None` when the host does
/// not provide it: an interface outside the table, or a version it does not speak.
pub fn grant(import: &str) -> Option<Grant> {
    let (interface, version) = split_version(import);
    let (_, grant) = INTERFACES.iter().find(|(name, _)| *name == interface)?;
    let ours = if interface.starts_with(WIT_PACKAGE) {
        WIT_VERSION
    } else {
        WASI_VERSION
    };
    version
        .is_some_and(|v| compatible(v, ours))
        .then_some(*grant)
}

/// `name@version` split into the name and the version.
fn split_version(name: &str) -> (&str, Option<&str>) {
    match name.split_once('@') {
        Some((n, v)) => (n, Some(v)),
        None => (name, None),
    }
}

/// Semver compatibility as the component model applies it: same major, or same minor for 0.x.
fn compatible(found: &str, ours: &str) -> bool {
    let key = |v: &str| -> Option<(u64, u64)> {
        let mut parts = v.split('.').map(|p| p.parse::<u64>().ok());
        Some((parts.next()??, parts.next()??))
    };
    match (key(found), key(ours)) {
        (Some((0, a)), Some((0, b))) => a == b,
        (Some((a, _)), Some((b, _))) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_granted(import: &str) -> bool {
        grant(import).is_some()
    }

    #[test]
    fn links_wasi_0_2_and_our_package_only() {
        assert!(is_granted("wasi:cli/environment@0.2.4"));
        assert!(is_granted("photosync:plugin/log@0.1.0"));
        assert!(is_granted("photosync:plugin/log@0.1.7"));
        assert!(!is_granted("photosync:plugin/log@0.2.0"));
        assert!(!is_granted("photosync:plugin/log"));
        assert!(!is_granted("wasi:cli/environment@0.3.0"));
        assert!(!is_granted("wasi:http/incoming-handler@0.2.4"));
        assert!(!is_granted("acme:evil/exfiltrate"));
    }

    #[test]
    fn capabilities_are_linked_but_denied() {
        let said = |import: &str| grant(import).map(|g| g.to_string());
        assert_eq!(
            said("wasi:sockets/tcp@0.2.9").as_deref(),
            Some("denied: network")
        );
        assert_eq!(
            said("wasi:http/outgoing-handler@0.2.10").as_deref(),
            Some("denied: http")
        );
        assert_eq!(
            said("wasi:filesystem/preopens@0.2.12").as_deref(),
            Some("denied: filesystem (no preopened directory)")
        );
        assert_eq!(
            said("wasi:cli/environment@0.2.3").as_deref(),
            Some("denied: environment (empty)")
        );
        assert_eq!(
            said("wasi:clocks/monotonic-clock@0.2.0").as_deref(),
            Some("granted: clocks")
        );
    }
}
