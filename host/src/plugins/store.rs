//! What a plugin's store holds during one call: a WASI context that grants nothing but clocks,
//! randomness and a captured stderr, a `wasi:http` implementation that refuses every request, the
//! memory cap and the plugin's log budget. Nothing in it outlives the call.

use crate::text::clip;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

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
    /// `wasi:http`'s context; requests never leave the host (see [`DenyHttp`]).
    http: WasiHttpCtx,
    http_hooks: DenyHttp,
    table: ResourceTable,
    /// The plugin's stderr, kept so that a panic message can be reported.
    stderr: MemoryOutputPipe,
    memory_cap: usize,
    log_left: u32,
}

impl PluginState {
    pub fn new(plugin: std::sync::Arc<str>, memory_cap: usize) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE);
        let http_hooks = DenyHttp {
            plugin: plugin.clone(),
        };
        Self {
            plugin,
            wasi: None,
            http: WasiHttpCtx::new(),
            http_hooks,
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
        let ctx = self
            .wasi
            .get_or_insert_with(|| denying_context(stderr.clone()));
        WasiCtxView {
            ctx,
            table: &mut self.table,
        }
    }
}

/// The WASI context of every call: no environment variables, arguments or preopened directories
/// (the builder's defaults), stdin closed and stdout discarded; sockets exist but every use is
/// refused: no TCP, no UDP, no name lookup, and no address passes the address check.
fn denying_context(stderr: MemoryOutputPipe) -> WasiCtx {
    WasiCtx::builder()
        .stderr(stderr)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .socket_addr_check(|_, _| Box::pin(async { false }))
        .build()
}

impl WasiHttpView for PluginState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_hooks,
        }
    }
}

/// `wasi:http`'s hooks for plugins: every outgoing request is answered `HTTP-request-denied`
/// without touching the network, and the attempt is logged.
struct DenyHttp {
    plugin: std::sync::Arc<str>,
}

/// What [`WasiHttpHooks::send_request`] returns: the response and a future of its I/O.
type SendResult = wasmtime_wasi_http::Result<(
    http::Response<wasmtime_wasi_http::WasiBody>,
    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

impl WasiHttpHooks for DenyHttp {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let plugin = &*self.plugin;
        tracing::warn!(
            plugin,
            "The plugin tried an HTTP request ({} {}); plugins get no network, so it was refused.",
            request.method(),
            clip(&request.uri().to_string(), 200)
        );
        Box::new(std::future::ready::<SendResult>(Err(
            wasmtime_wasi_http::Error::HttpRequestDenied,
        )))
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
