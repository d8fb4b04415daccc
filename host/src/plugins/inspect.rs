//! What a component is: which plugin role it implements, against which WIT version, and what it
//! imports, checked against what photosync grants plugins.

use wasmtime::Engine;
use wasmtime::component::Component;

/// The WIT package plugins are written against.
pub const WIT_PACKAGE: &str = "photosync:plugin";
/// The version of [`WIT_PACKAGE`] this host implements.
pub const WIT_VERSION: &str = "0.1.0";

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

/// Interfaces plugins may import. Everything else is refused before the plugin is linked.
/// The WASI ones are what Rust's standard library imports on `wasm32-wasip2`; the host links them
/// with an empty context (no preopened directories, environment, arguments or network).
const GRANTED: &[&str] = &[
    "photosync:plugin/log",
    "photosync:plugin/types",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
];

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
    /// The first import photosync does not grant, if any.
    pub fn check_grants(&self) -> Result<(), String> {
        match self.imports.iter().find(|name| !is_granted(name)) {
            Some(name) => Err(name.clone()),
            None => Ok(()),
        }
    }
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

fn is_granted(import: &str) -> bool {
    let (interface, version) = split_version(import);
    if !GRANTED.contains(&interface) {
        return false;
    }
    // Our own package must be a version this host speaks (same 0.x minor).
    if interface.starts_with(WIT_PACKAGE) {
        return version.is_some_and(|v| compatible(v, WIT_VERSION));
    }
    true
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

    #[test]
    fn grants_capability_free_wasi_and_our_package_only() {
        assert!(is_granted("wasi:cli/environment@0.2.4"));
        assert!(is_granted("photosync:plugin/log@0.1.0"));
        assert!(is_granted("photosync:plugin/log@0.1.7"));
        assert!(!is_granted("photosync:plugin/log@0.2.0"));
        assert!(!is_granted("wasi:sockets/tcp@0.2.4"));
        assert!(!is_granted("wasi:http/outgoing-handler@0.2.4"));
        assert!(!is_granted("acme:evil/exfiltrate"));
    }
}
