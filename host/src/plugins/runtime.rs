//! The wasmtime engine all plugins share: pooling allocator, copy-on-write memory images and
//! epoch interruption, plus the one linker that gives plugins their imports: every WASI 0.2
//! interface the usual tool chains import (Rust's standard library, componentize-py, jco),
//! most of them linked to implementations that grant nothing (see `store.rs`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};

use super::cache::CodeCache;
use super::error::PluginError;
use super::inspect::{self, Role};
use super::store::{MemoryCapExceeded, PluginState};
use super::{Limits, bindings};

/// How often the epoch advances; CPU deadlines are counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(2);

/// Idle sandboxes kept ready, each with its resident memory.
const WARM_SLOTS: u32 = 16;

/// Bytes of each linear memory reset in place rather than returned to the kernel.
const KEEP_RESIDENT: usize = 2 << 20;

/// Sizing of the sandbox pool, fixed when the runtime starts.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Largest linear memory any plugin may have, in MiB (every plugin's cap must fit).
    pub max_memory_mib: u64,
    /// How many plugin instances may exist at once (concurrent calls).
    pub slots: u32,
    /// Where compiled plugin code is cached; `None` compiles on every start.
    pub cache_dir: Option<std::path::PathBuf>,
    /// A read-only folder of plugins compiled ahead of time, looked in before `cache_dir`.
    pub precompiled_dir: Option<std::path::PathBuf>,
    /// How large a component one sandbox holds.
    pub pool: PoolLimits,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self {
            max_memory_mib: 1024,
            slots: 64,
            cache_dir: super::cache::default_dir(),
            precompiled_dir: super::cache::precompiled_dir(),
            pool: PoolLimits::default(),
        }
    }
}

/// What one component may contain, and how much of it the pool holds per slot on average. A
/// component above a per-component limit is refused when it is loaded, naming the limit; the
/// per-slot averages decide how many such components can run at once before calls are `Busy`.
///
/// The defaults fit the components standard tool chains produce, with room: a Rust component
/// has 1-2 core instances, 1 memory, 1 table of a few hundred elements; componentize-py 0.25
/// 14 core instances, 1 memory, 2 tables (the largest 5672 elements), 12.3 MiB of initial
/// memory; jco 1.35 (StarlingMonkey) 4 core instances, tables up to 7688 elements, 9.1 MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolLimits {
    /// Core module instances one component may contain.
    pub core_instances_per_component: u32,
    /// Core instances the pool holds per slot (the total is `slots` times this).
    pub core_instances_per_slot: u32,
    /// Linear memories one component may contain.
    pub memories_per_component: u32,
    /// Linear memories the pool holds per slot.
    pub memories_per_slot: u32,
    /// Tables one component may contain.
    pub tables_per_component: u32,
    /// Tables the pool holds per slot.
    pub tables_per_slot: u32,
    /// Elements of the largest table (initial size or grown to).
    pub table_elements: usize,
    /// Bytes of a component instance's host-side context, its core instances' included; it
    /// grows with the number of imports, exports and functions (componentize-py's matcher
    /// needs 399028, jco's deduper 214828).
    pub component_instance_bytes: usize,
    /// Bytes of one core instance's host-side context.
    pub core_instance_bytes: usize,
}

impl Default for PoolLimits {
    fn default() -> Self {
        Self {
            core_instances_per_component: 32,
            core_instances_per_slot: 16,
            memories_per_component: 4,
            memories_per_slot: 2,
            tables_per_component: 8,
            tables_per_slot: 4,
            table_elements: 20_000,
            component_instance_bytes: 1 << 20,
            core_instance_bytes: 1 << 20,
        }
    }
}

/// The shared engine. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

struct Inner {
    engine: Engine,
    linker: Linker<PluginState>,
    cache: Option<CodeCache>,
    /// The last component compiled, by the SHA-256 of its bytes.
    last_compiled: Mutex<Option<([u8; 32], Component)>>,
    options: RuntimeOptions,
    stop_ticker: Arc<AtomicBool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

/// A plugin compiled, checked against its role and pre-instantiated: ready for calls.
pub(crate) struct Loaded {
    pub name: Arc<str>,
    /// The SHA-256 of the component's bytes, lower-case hex.
    pub sha256: String,
    pub pre: InstancePre<PluginState>,
    pub limits: Limits,
    runtime: Runtime,
}

impl Runtime {
    /// Builds the engine and starts the epoch ticker thread.
    pub fn new(options: RuntimeOptions) -> Result<Self, wasmtime::Error> {
        let pool = pooling(&options);
        let mut config = Config::new();
        config
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
            .memory_init_cow(true)
            .epoch_interruption(true)
            .wasm_simd(true)
            .wasm_relaxed_simd(false)
            .parallel_compilation(true);
        let engine = Engine::new(&config)?;
        let linker = linker(&engine)?;
        let stop_ticker = Arc::new(AtomicBool::new(false));
        spawn_ticker(engine.clone(), stop_ticker.clone());
        let cache = options
            .cache_dir
            .as_ref()
            .map(|dir| CodeCache::new(dir.clone(), options.precompiled_dir.clone(), &engine));
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                linker,
                cache,
                last_compiled: Mutex::new(None),
                options,
                stop_ticker,
            }),
        })
    }

    /// The engine, for inspecting components.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Compiles (or loads from the code cache) `wasm`, checks that it implements `role` and
    /// imports only what plugins are granted, and pre-instantiates it.
    pub(crate) fn load(
        &self,
        name: &str,
        wasm: &[u8],
        role: Role,
        limits: Limits,
    ) -> Result<Loaded, PluginError> {
        let max = self.inner.options.max_memory_mib;
        if limits.memory_mib > max {
            return Err(PluginError::Invalid {
                plugin: name.to_owned(),
                reason: format!(
                    "its memory-mib of {} is above the runtime's maximum of {max}",
                    limits.memory_mib
                ),
            });
        }
        let component = self.compile(name, wasm)?;
        let report = inspect::inspect(&self.inner.engine, &component);
        report
            .check_grants()
            .map_err(|import| PluginError::ForbiddenImport {
                plugin: name.to_owned(),
                import,
            })?;
        if !report.roles.iter().any(|(r, _)| *r == role) {
            return Err(PluginError::WrongRole {
                plugin: name.to_owned(),
                expected: role.name(),
                found: report.exports.join(", "),
            });
        }
        let pre =
            self.inner
                .linker
                .instantiate_pre(&component)
                .map_err(|e| PluginError::Invalid {
                    plugin: name.to_owned(),
                    reason: format!("{e:#}"),
                })?;
        Ok(Loaded {
            sha256: super::sha256_hex(wasm),
            name: name.into(),
            pre,
            limits,
            runtime: self.clone(),
        })
    }

    /// Compiles a component, through the code cache when there is one. The last component
    /// compiled is kept: loading the same bytes again (once per settings, as the case runner
    /// does) costs a hash.
    pub(crate) fn compile(&self, name: &str, wasm: &[u8]) -> Result<Component, PluginError> {
        let mut digest = [0u8; 32];
        digest.copy_from_slice(&Sha256::digest(wasm));
        let last = self.inner.last_compiled.lock().ok().and_then(|l| l.clone());
        if let Some((d, component)) = last
            && d == digest
        {
            return Ok(component);
        }
        let invalid = |e: wasmtime::Error| PluginError::Invalid {
            plugin: name.to_owned(),
            reason: format!("{e:#}"),
        };
        let component = match &self.inner.cache {
            Some(cache) => cache
                .load_or_compile(&self.inner.engine, wasm)
                .map_err(invalid),
            None => Component::new(&self.inner.engine, wasm).map_err(invalid),
        }?;
        if let Ok(mut last) = self.inner.last_compiled.lock() {
            *last = Some((digest, component.clone()));
        }
        Ok(component)
    }
}

/// The pooling allocator sized by `options`.
fn pooling(options: &RuntimeOptions) -> PoolingAllocationConfig {
    let slots = options.slots.max(1);
    let limits = options.pool;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(slots)
        .total_core_instances(slots.saturating_mul(limits.core_instances_per_slot))
        .total_memories(slots.saturating_mul(limits.memories_per_slot))
        .total_tables(slots.saturating_mul(limits.tables_per_slot))
        .total_stacks(slots)
        .max_core_instances_per_component(limits.core_instances_per_component)
        .max_memories_per_component(limits.memories_per_component)
        .max_tables_per_component(limits.tables_per_component)
        .table_elements(limits.table_elements)
        .max_component_instance_size(limits.component_instance_bytes)
        .max_core_instance_size(limits.core_instance_bytes)
        .max_memory_size(usize::try_from(options.max_memory_mib << 20).unwrap_or(usize::MAX))
        // Warm slots keep their resident pages: a few are enough to skip cold starts, more
        // only grow the worker's memory.
        .max_unused_warm_slots(slots.min(WARM_SLOTS))
        // Reset dirty memory with memset instead of madvise, finding the dirty pages with
        // PAGEMAP_SCAN where the kernel has it (Linux 6.7+): no system call, no page faults
        // and no TLB shootdowns for the pages a typical call touches.
        .pagemap_scan(wasmtime::Enabled::Auto)
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(1 << 16)
        // What does go back to the kernel goes in batches: one shootdown for several slots.
        .decommit_batch_size(8);
    pool
}

/// The linker every plugin is instantiated with: all of WASI 0.2 (the context in `store.rs`
/// decides what each interface may do), `wasi:http` refusing every request, and photosync's own
/// `log` and `types`. A component importing anything else fails [`inspect`]'s check first.
fn linker(engine: &Engine) -> wasmtime::Result<Linker<PluginState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)?;
    bindings::log::add_to_linker::<PluginState, wasmtime::component::HasSelf<PluginState>>(
        &mut linker,
        |s| s,
    )?;
    bindings::types::add_to_linker::<PluginState, wasmtime::component::HasSelf<PluginState>>(
        &mut linker,
        |s| s,
    )?;
    Ok(linker)
}

fn spawn_ticker(engine: Engine, stop: Arc<AtomicBool>) {
    let spawned = thread::Builder::new()
        .name("photosync-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        });
    if let Err(e) = spawned {
        // Without the ticker deadlines never fire; say so loudly rather than run unbounded.
        tracing::error!(
            "Cannot start the plugin deadline thread: {e}. Plugin CPU deadlines will not be enforced."
        );
    }
}

impl Loaded {
    /// Runs one call in a fresh store with the plugin's memory cap and CPU deadline, turning
    /// every way the guest can fail into a [`PluginError`] naming the plugin.
    pub fn call<T>(
        &self,
        f: impl FnOnce(&mut Store<PluginState>) -> wasmtime::Result<T>,
    ) -> Result<T, PluginError> {
        let cap = usize::try_from(self.limits.memory_mib << 20).unwrap_or(usize::MAX);
        let mut store = Store::new(
            &self.runtime.inner.engine,
            PluginState::new(self.name.clone(), cap),
        );
        store.limiter(|state| state);
        let ticks = self
            .limits
            .deadline_ms
            .div_ceil(EPOCH_TICK.as_millis() as u64)
            .max(1)
            + 1;
        store.set_epoch_deadline(ticks);
        f(&mut store).map_err(|e| self.classify(e, &store))
    }

    fn classify(&self, error: wasmtime::Error, store: &Store<PluginState>) -> PluginError {
        let plugin = self.name.to_string();
        if let Some(cap) = error.downcast_ref::<MemoryCapExceeded>() {
            return PluginError::MemoryExceeded {
                plugin,
                asked_mib: (cap.asked as u64).div_ceil(1 << 20),
                cap_mib: self.limits.memory_mib,
            };
        }
        if let Some(busy) = error.downcast_ref::<wasmtime::PoolConcurrencyLimitError>() {
            tracing::debug!("{busy}");
            return PluginError::Busy {
                plugin,
                slots: self.runtime.inner.options.slots,
            };
        }
        match error.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => PluginError::Timeout {
                plugin,
                deadline_ms: self.limits.deadline_ms,
            },
            Some(trap) => {
                let reason = match store.data().last_stderr_line() {
                    Some(line) => format!("{trap} ({line})"),
                    None => trap.to_string(),
                };
                PluginError::Crashed { plugin, reason }
            }
            None => PluginError::Crashed {
                plugin,
                reason: crate::text::clip(&format!("{error:#}"), 500),
            },
        }
    }
}
