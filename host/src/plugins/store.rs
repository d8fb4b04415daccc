//! What a plugin's store holds during one call: an empty WASI context, the memory cap and the
//! plugin's log budget. Nothing in it outlives the call.

use crate::text::clip;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::log;

/// How much of a plugin's stderr (where Rust panics print) is kept for the error message.
const STDERR_CAPTURE: usize = 4096;
/// Log lines one call may write; more are dropped with a single warning.
const LOG_LINES_PER_CALL: u32 = 64;
/// Longest log line kept, in bytes.
const LOG_LINE_MAX: usize = 1024;
/// Table elements a plugin may grow its tables to.
const TABLE_ELEMENTS_MAX: usize = 100_000;

/// Raised by the limiter when a plugin asks for more memory than its cap.
#[derive(Debug, thiserror::Error)]
#[error("memory cap exceeded: asked for {asked} bytes, cap {cap} bytes")]
pub(crate) struct MemoryCapExceeded {
    pub asked: usize,
    pub cap: usize,
}

/// The data of one plugin call's `Store`.
pub(crate) struct PluginState {
    /// Name of the plugin, for log lines.
    plugin: std::sync::Arc<str>,
    /// Built on the plugin's first WASI call: most calls make none, and building one costs
    /// entropy and allocations.
    wasi: Option<WasiCtx>,
    table: ResourceTable,
    /// The plugin's stderr, kept so that a panic message can be reported.
    stderr: MemoryOutputPipe,
    memory_cap: usize,
    log_left: u32,
}

impl PluginState {
    pub fn new(plugin: std::sync::Arc<str>, memory_cap: usize) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE);
        Self {
            plugin,
            wasi: None,
            table: ResourceTable::new(),
            stderr,
            memory_cap,
            log_left: LOG_LINES_PER_CALL,
        }
    }

    /// What the plugin said on stderr before it died: a Rust panic's location and message, or
    /// else its last line.
    pub fn last_stderr_line(&self) -> Option<String> {
        let bytes = self.stderr.contents();
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("note:"))
            .collect();
        let said = match lines.iter().position(|l| l.contains("panicked at")) {
            Some(i) => {
                let place = lines[i]
                    .split_once("panicked at")
                    .map_or("", |(_, p)| p.trim().trim_end_matches(':'));
                format!("panicked at {place}: {}", lines.get(i + 1).unwrap_or(&""))
            }
            None => (*lines.last()?).to_owned(),
        };
        Some(clip(&said, 300))
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let stderr = &self.stderr;
        // The default context has no environment, arguments, preopened directories or network
        // addresses; stdin is closed and stdout is discarded.
        let ctx = self.wasi.get_or_insert_with(|| {
            WasiCtx::builder()
                .stderr(stderr.clone())
                .allow_ip_name_lookup(false)
                .build()
        });
        WasiCtxView {
            ctx,
            table: &mut self.table,
        }
    }
}

impl ResourceLimiter for PluginState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_cap {
            return Err(wasmtime::Error::new(MemoryCapExceeded {
                asked: desired,
                cap: self.memory_cap,
            }));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= TABLE_ELEMENTS_MAX)
    }
}

impl log::Host for PluginState {
    fn log(&mut self, level: log::Level, message: String) {
        if self.log_left == 0 {
            return;
        }
        self.log_left -= 1;
        let plugin = &*self.plugin;
        if self.log_left == 0 {
            tracing::warn!(
                plugin,
                "The plugin logged too much during one call; its further lines are dropped."
            );
            return;
        }
        let message = clip(&message, LOG_LINE_MAX);
        match level {
            log::Level::Debug => tracing::debug!(plugin, "{message}"),
            log::Level::Info => tracing::info!(plugin, "{message}"),
            log::Level::Warn => tracing::warn!(plugin, "{message}"),
            log::Level::Error => tracing::error!(plugin, "{message}"),
        }
    }
}

impl super::bindings::types::Host for PluginState {}
