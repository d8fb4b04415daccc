//! Generated bindings for the `photosync:plugin` WIT package, one module per plugin world.
//!
//! Only `bindgen!` lives here. The matcher world generates the shared `types` and `log`
//! interfaces; the other worlds reuse them through `with`, so the host implements `log` once.

/// The `matcher-plugin` world, and the shared `types` and `log` interfaces.
pub mod matcher {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "matcher-plugin",
        additional_derives: [PartialEq],
    });
}

/// The `multi-transformer-plugin` world: `transformer` (which every transformer exports) and
/// `multi-transformer` (which 0.1.1 transformers may add); the wrapper looks up each interface
/// on its own, so a transformer with only the first loads too.
pub mod transformer {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "multi-transformer-plugin",
        additional_derives: [PartialEq],
        with: {
            "photosync:plugin/types": super::matcher::photosync::plugin::types,
            "photosync:plugin/log": super::matcher::photosync::plugin::log,
        },
    });
}

/// The `deduper-plugin` world.
pub mod deduper {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "deduper-plugin",
        additional_derives: [PartialEq],
        with: {
            "photosync:plugin/types": super::matcher::photosync::plugin::types,
            "photosync:plugin/log": super::matcher::photosync::plugin::log,
        },
    });
}

pub use matcher::photosync::plugin::log;
pub use matcher::photosync::plugin::types;
