//! The wasmtime engine all plugins share: pooling allocator, copy-on-write memory images and
//! epoch interruption, plus the one linker that grants plugins their few imports.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

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
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self {
            max_memory_mib: 1024,
            slots: 64,
            cache_dir: super::cache::default_dir(),
            precompiled_dir: super::cache::precompiled_dir(),
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
    pub pre: InstancePre<PluginState>,
    pub limits: Limits,
    runtime: Runtime,
}

impl Runtime {
    /// Builds the engine and starts the epoch ticker thread.
    pub fn new(options: RuntimeOptions) -> Result<Self, wasmtime::Error> {
        let mut pool = PoolingAllocationConfig::new();
        let slots = options.slots.max(1);
        pool.total_component_instances(slots)
            .total_core_instances(slots * 8)
            .total_memories(slots * 2)
            .total_tables(slots * 4)
            .total_stacks(slots)
            .max_core_instances_per_component(16)
            .max_memories_per_component(4)
            .max_tables_per_component(8)
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
        let mut config = Config::new();
        config
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
            .memory_init_cow(true)
            .epoch_interruption(true)
            .wasm_simd(true)
            .wasm_relaxed_simd(false)
            .parallel_compilation(true);
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        bindings::log::add_to_linker::<PluginState, wasmtime::component::HasSelf<PluginState>>(
            &mut linker,
            |s| s,
        )?;
        bindings::types::add_to_linker::<PluginState, wasmtime::component::HasSelf<PluginState>>(
            &mut linker,
            |s| s,
        )?;
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
            name: name.into(),
            pre,
            limits,
            runtime: self.clone(),
        })
    }

    /// Compiles a component, through the code cache when there is one.
    pub(crate) fn compile(&self, name: &str, wasm: &[u8]) -> Result<Component, PluginError> {
        let invalid = |e: wasmtime::Error| PluginError::Invalid {
            plugin: name.to_owned(),
            reason: format!("{e:#}"),
        };
        match &self.inner.cache {
            Some(cache) => cache
                .load_or_compile(&self.inner.engine, wasm)
                .map_err(invalid),
            None => Component::new(&self.inner.engine, wasm).map_err(invalid),
        }
    }
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
