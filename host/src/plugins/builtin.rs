//! The reference plugins, built for `wasm32-wasip2` by the build script and embedded in the
//! binary so that an installation needs no plugin files.

/// One embedded plugin.
#[derive(Debug, PartialEq, Eq)]
pub struct Builtin {
    /// The name used as `builtin:NAME`.
    pub name: &'static str,
    /// The role it implements.
    pub role: super::Role,
    /// The component's bytes.
    pub wasm: &'static [u8],
}

/// The reference plugins.
pub static BUILTINS: [Builtin; 3] = [
    Builtin {
        name: "match-pattern",
        role: super::Role::Matcher,
        wasm: include_bytes!(concat!(env!("PHOTOSYNC_PLUGIN_DIR"), "/match_pattern.wasm")),
    },
    Builtin {
        name: "transform-jpeg",
        role: super::Role::Transformer,
        wasm: include_bytes!(concat!(
            env!("PHOTOSYNC_PLUGIN_DIR"),
            "/transform_jpeg.wasm"
        )),
    },
    Builtin {
        name: "dedup-md5",
        role: super::Role::Deduper,
        wasm: include_bytes!(concat!(env!("PHOTOSYNC_PLUGIN_DIR"), "/dedup_md5.wasm")),
    },
];

/// The builtin called `name`.
pub fn find(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// The names of all builtins.
pub fn names() -> Vec<&'static str> {
    BUILTINS.iter().map(|b| b.name).collect()
}

/// The builtin that serves `role` by default.
pub fn default_for(role: super::Role) -> &'static Builtin {
    BUILTINS
        .iter()
        .find(|b| b.role == role)
        .unwrap_or(&BUILTINS[0])
}
