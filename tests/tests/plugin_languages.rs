//! Plugins in other languages, built from source with their own build scripts: the Python
//! matcher `plugins/match-table-py` (componentize-py) and the JavaScript deduper
//! `plugins/dedup-keep-manual-js` (jco). Each is accepted by `plugin inspect` with its imports
//! linked and denied, passes its `cases.toml`, and processes a photo-upload event end to end
//! (real nats-server and slapd). A hostile Python plugin tries every way out of the sandbox and
//! gets an error for each. Also: the reference plugins' cases, and WIT minor versions.
//!
//! Each component is built once per test process (`photosync_tests::plugins`).

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use photosync::config::Config;
use photosync::events::Outcome;
use photosync::plugins::{
    MatchOutcome, Matcher, PhotoInfo, PluginError, PluginSpec, Role, Runtime, RuntimeOptions,
    Source, builtin, cases, inspect,
};
use photosync_tests::fixtures::{JpegOptions, jpeg, photo_like};
use photosync_tests::plugins::{
    LanguagePlugin, built_language_plugin, language_plugin_dir, rewrite_wit_version,
};
use photosync_tests::repo_root;
use photosync_tests::servers::Person;
use photosync_tests::stack::{Account, Stack};

fn python_matcher() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| built_language_plugin(LanguagePlugin::PythonMatcher))
}

fn js_deduper() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| built_language_plugin(LanguagePlugin::JsDeduper))
}

fn hostile_python() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| built_language_plugin(LanguagePlugin::HostilePython))
}

/// One runtime for the process, configured as the service's, with the code cache the stack's
/// services share (compiling an 18 MB component takes seconds).
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Runtime::new(RuntimeOptions {
            slots: 16,
            cache_dir: Some(language_plugin_dir().join("../plugin-cache")),
            precompiled_dir: None,
            ..RuntimeOptions::default()
        })
        .expect("the plugin runtime starts")
    })
}

/// Checks that the component is accepted for `role`, that every import is linked, and that the
/// ones `denied` names are listed as denied; returns the import lines.
fn accepted(path: &Path, role: Role, denied: &[&str]) -> Vec<String> {
    let wasm = std::fs::read(path).expect("the component");
    let started = Instant::now();
    let report = inspect::inspect_bytes(runtime(), "plugin", &wasm).expect("it compiles");
    eprintln!(
        "compiled (or loaded from the cache) {} in {:.1} s",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    let lines = report.import_lines();
    eprintln!("{}", lines.join("\n"));
    assert_eq!(report.check_grants(), Ok(()), "{lines:#?}");
    assert!(
        report.roles.iter().any(|(r, v)| *r == role && v == "0.1.1"),
        "{report:?}"
    );
    for what in denied {
        assert!(
            lines
                .iter()
                .any(|l| l.ends_with(&format!("denied: {what}"))),
            "an import is listed as denied: {what}: {lines:#?}"
        );
    }
    assert!(
        lines.iter().any(|l| l.contains("granted: clocks")),
        "{lines:#?}"
    );
    lines
}

/// Runs a cases file and asserts that every case passed.
fn passes(source: Source, cases_file: &str) {
    let report = cases::run(runtime(), &source, &repo_root().join(cases_file))
        .unwrap_or_else(|e| panic!("{cases_file}: {e}"));
    eprintln!("{source} with {cases_file}:\n{report}");
    assert!(report.passed(), "{cases_file}:\n{report}");
    assert!(report.cases.len() >= 5, "{report}");
}

#[test]
fn the_python_matcher_is_accepted_and_passes_its_cases() {
    let wasm = python_matcher();
    let lines = accepted(
        wasm,
        Role::Matcher,
        &[
            "network",
            "filesystem (no preopened directory)",
            "environment (empty)",
        ],
    );
    assert!(
        lines.iter().any(|l| l.starts_with("wasi:sockets/tcp@0.2.")),
        "componentize-py imports sockets: {lines:#?}"
    );
    passes(
        Source::File(wasm.to_path_buf()),
        "plugins/match-table-py/cases.toml",
    );
}

#[test]
fn the_javascript_deduper_is_accepted_and_passes_its_cases() {
    let wasm = js_deduper();
    let lines = accepted(
        wasm,
        Role::Deduper,
        &["http", "filesystem (no preopened directory)"],
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("wasi:http/outgoing-handler@0.2.")),
        "StarlingMonkey imports wasi:http: {lines:#?}"
    );
    passes(
        Source::File(wasm.to_path_buf()),
        "plugins/dedup-keep-manual-js/cases.toml",
    );
}

#[test]
fn the_reference_plugins_pass_their_cases() {
    for (name, cases_file) in [
        ("match-pattern", "plugins/match-pattern/cases.toml"),
        ("transform-jpeg", "plugins/transform-jpeg/cases.toml"),
        ("dedup-md5", "plugins/dedup-md5/cases.toml"),
    ] {
        let builtin = builtin::find(name).expect("a builtin");
        passes(Source::Builtin(builtin), cases_file);
    }
}

#[test]
fn a_failing_case_is_reported_with_what_the_plugin_answered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("cases.toml");
    std::fs::write(
        &file,
        r#"
format = 1
role = "deduper"

[[case]]
name = "a wrong digest"
call = "digest"
data = "abc"
expect.digest = "0000"

[[case]]
name = "a right one"
call = "digest"
data = "abc"
expect.digest = { contains = "9001509" }
"#,
    )
    .expect("write");
    let source = Source::Builtin(builtin::find("dedup-md5").expect("builtin"));
    let report = cases::run(runtime(), &source, &file).expect("runs");
    assert!(!report.passed());
    assert_eq!(report.failed(), 1);
    let text = report.to_string();
    assert!(
        text.contains("FAIL a wrong digest")
            && text.contains("900150983cd24fb0d6963f7d28e17f72")
            && text.contains("ok   a right one")
            && text.ends_with("1 passed, 1 failed\n"),
        "{text}"
    );
    // A case the runner cannot understand is an error naming it, not a failure.
    std::fs::write(&file, "format = 1\nrole = \"deduper\"\n[[case]]\nname = \"x\"\ncall = \"transform\"\nexpect.digest = \"\"\n")
        .expect("write");
    let err = cases::run(runtime(), &source, &file).expect_err("refused");
    assert!(
        err.to_string()
            .contains("case 1 (\"x\"): a deduper has no call \"transform\""),
        "{err}"
    );
}

#[test]
fn a_component_above_a_pool_limit_is_refused_naming_the_limit() {
    // A runtime with another pool has another engine, so the component is compiled again.
    let mut options = RuntimeOptions {
        slots: 2,
        cache_dir: Some(language_plugin_dir().join("../plugin-cache")),
        precompiled_dir: None,
        ..RuntimeOptions::default()
    };
    options.pool.core_instances_per_component = 8;
    let runtime = Runtime::new(options).expect("the runtime starts");
    let spec = PluginSpec::new(
        "match-table",
        Source::File(python_matcher().to_path_buf()),
        photosync::offline::default_limits(Role::Matcher),
    );
    let err = Matcher::load(&runtime, &spec).expect_err("14 core instances do not fit in 8");
    assert!(matches!(err, PluginError::Invalid { .. }), "{err:?}");
    assert!(
        err.to_string().contains(
            "contains 14 core module instances, which exceeds the configured maximum of 8"
        ),
        "{err}"
    );
    // (With `component_instance_bytes` at 4096 the same load reports what each needs of it:
    // the Python matcher 399028 bytes, the JavaScript deduper 214828, both within 1 MiB.)
}

fn camera_photo(seed: u32) -> Vec<u8> {
    jpeg(&photo_like(1600, 1200, seed), JpegOptions::default())
}

/// The stack's configuration as `edit` changes it.
fn config_with(stack: &Stack, edit: impl FnOnce(String) -> String) -> Config {
    let text = edit(stack.config_text(Account::Service, ""));
    Config::parse(&text).unwrap_or_else(|e| panic!("{e}:\n{text}"))
}

const STACK_MATCHER: &str = "patterns = \"{givenName}_{sn};{employeeID}\"\n";

#[test]
fn the_python_matcher_matches_an_uploaded_photo_end_to_end() {
    let wasm = python_matcher();
    let mut stack = Stack::start();
    let ada = Person::new("ada", "Ada", "Lovelace", Some("12345"));
    stack.ldap.add_people(std::slice::from_ref(&ada));
    let settings = format!(
        "table = \"IMG_0042.JPG = employeeID=12345\"\n[plugins.matcher]\nsource = \"{}\"\n",
        wasm.display()
    );
    let config = config_with(&stack, |text| {
        assert!(
            text.contains(STACK_MATCHER),
            "the stack's matcher settings:\n{text}"
        );
        text.replace(STACK_MATCHER, &settings)
    });
    stack.start_service_with(config);
    let id = stack.publish("img_0042.jpg", &camera_photo(1), &[]);
    let result = stack.result(&id);
    assert_eq!(result.outcome, Outcome::Written, "{result:?}");
    assert_eq!(result.entry_dn.as_deref(), Some(ada.dn().as_str()));
    let nobody = stack.publish("jane.jpg", &camera_photo(2), &[]);
    let result = stack.result(&nobody);
    assert_eq!(result.outcome, Outcome::NoMatch, "{result:?}");
    let reason = result.reason.unwrap_or_default();
    assert!(
        reason.contains("\"jane.jpg\" is not in the table"),
        "{reason}"
    );
}

#[test]
fn the_javascript_deduper_keeps_a_photo_changed_by_hand_end_to_end() {
    let wasm = js_deduper();
    let mut stack = Stack::start();
    let ada = Person::new("ada", "Ada", "Lovelace", Some("12345"));
    stack.ldap.add_people(std::slice::from_ref(&ada));
    let deduper = format!("[plugins.deduper]\nsource = \"{}\"\n", wasm.display());
    let config = config_with(&stack, |text| format!("{text}\n{deduper}"));
    stack.start_service_with(config);
    let photo = camera_photo(3);
    let first = stack.publish("12345.jpg", &photo, &[]);
    assert_eq!(stack.result(&first).outcome, Outcome::Written);
    let again = stack.publish("12345.jpg", &photo, &[]);
    let result = stack.result(&again);
    assert_eq!(result.outcome, Outcome::Unchanged, "{result:?}");
    assert!(
        reasons(&result).contains(
            "is unchanged and thumbnailPhoto still holds the rendition photosync wrote (sha256 "
        ),
        "the JavaScript deduper's reason: {result:?}"
    );
    // Someone puts another photo in place by hand: keep-manual never replaces it.
    let by_hand = jpeg(&photo_like(96, 96, 4), JpegOptions::default());
    let ldif = format!(
        "dn: {}\nchangetype: modify\nreplace: thumbnailPhoto\nthumbnailPhoto:: {}\n",
        ada.dn(),
        base64_encode(&by_hand)
    );
    stack.ldap.modify_ldif(&ldif);
    let newer = stack.publish("12345.jpg", &camera_photo(5), &[]);
    let result = stack.result(&newer);
    assert_eq!(result.outcome, Outcome::Unchanged, "{result:?}");
    assert!(
        reasons(&result).contains("keep-manual never replaces it"),
        "{result:?}"
    );
    assert_eq!(
        stack.ldap.read(&ada.dn(), "thumbnailPhoto").values,
        vec![by_hand]
    );
}

/// The reasons given for each attribute of a result.
fn reasons(result: &photosync::events::PhotoResult) -> String {
    let each: Vec<&str> = result
        .attributes
        .iter()
        .map(|a| a.reason.as_str())
        .collect();
    each.join("; ")
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn a_hostile_python_plugin_gets_an_error_for_every_way_out() {
    let wasm = hostile_python();
    accepted(
        wasm,
        Role::Matcher,
        &["network", "http", "filesystem (no preopened directory)"],
    );
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("a listener");
    tcp.set_nonblocking(true).expect("nonblocking");
    let port = tcp.local_addr().expect("address").port();
    let udp =
        std::net::UdpSocket::bind(("127.0.0.1", port)).expect("a UDP socket on the same port");
    udp.set_nonblocking(true).expect("nonblocking");
    let mut spec = PluginSpec::new(
        "hostile-py",
        Source::File(wasm.to_path_buf()),
        photosync::offline::default_limits(Role::Matcher),
    );
    spec.settings.insert("port".into(), port.to_string());
    // Set in every test process; the plugin must not see it.
    assert!(std::env::var_os("PATH").is_some());
    spec.settings.insert("variable".into(), "PATH".into());
    let matcher = Matcher::load(runtime(), &spec).expect("the hostile plugin loads");
    let photo = PhotoInfo {
        file_name: "x.jpg".into(),
        source: "test".into(),
        content_type: "image/jpeg".into(),
        attributes: vec![],
    };
    let started = Instant::now();
    let answer = matcher.match_photo(&photo).expect("it answers");
    eprintln!(
        "the hostile call took {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    let MatchOutcome::NoCriteria(report) = answer else {
        panic!("expected its report, got {answer:?}");
    };
    eprintln!("{}", report.replace("; ", "\n"));
    let tries: Vec<&str> = report.split("; ").collect();
    for name in [
        "tcp",
        "udp",
        "name-lookup",
        "passwd",
        "list-root",
        "http-urllib",
        "wasi-http",
        "environment",
        "arguments",
    ] {
        let line = tries
            .iter()
            .find(|t| t.starts_with(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("the report has {name}: {report}"));
        assert!(line.starts_with(&format!("{name}: denied")), "{line}");
    }
    // And each was refused by the host, not by something missing in the component.
    for (name, error) in [
        ("tcp", "PermissionError"),
        ("udp", "PermissionError"),
        ("name-lookup", "gaierror"),
        ("passwd", "FileNotFoundError"),
        ("wasi-http", "HttpRequestDenied"),
    ] {
        assert!(
            tries
                .iter()
                .any(|t| t.starts_with(&format!("{name}: denied ")) && t.contains(error)),
            "{name} fails with {error}: {report}"
        );
    }
    assert!(
        tries.contains(&"clock: ok") && tries.contains(&"random: ok"),
        "{report}"
    );
    assert!(
        !report.contains("/usr/bin") && !report.contains("root:x:"),
        "{report}"
    );
    match tcp.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("nothing may connect to the listener: {other:?}"),
    }
    let mut buf = [0u8; 64];
    match udp.recv_from(&mut buf) {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("nothing may reach the UDP socket: {other:?}"),
    }
}

#[test]
fn wit_minor_versions_resolve_semver_compatibly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let original = builtin::find("match-pattern").expect("builtin").wasm;
    let load = |version: &str| {
        let path = dir.path().join(format!("match-pattern-{version}.wasm"));
        std::fs::write(&path, rewrite_wit_version(original, version)).expect("write");
        let mut spec = PluginSpec::new(
            "match-pattern",
            Source::File(path),
            photosync::offline::default_limits(Role::Matcher),
        );
        spec.settings
            .insert("patterns".into(), "{employeeID}".into());
        Matcher::load(runtime(), &spec)
    };
    // Built against an earlier and a later 0.1 minor: imports, exports and all resolve in this
    // 0.1.1 host.
    for version in ["0.1.0", "0.1.9"] {
        let matcher = load(version)
            .unwrap_or_else(|e| panic!("a {version} component loads in a 0.1.1 host: {e}"));
        let photo = PhotoInfo {
            file_name: "12345.jpg".into(),
            source: "test".into(),
            content_type: "image/jpeg".into(),
            attributes: vec![],
        };
        assert!(
            matches!(matcher.match_photo(&photo), Ok(MatchOutcome::Criteria(c)) if c[0].value == "12345"),
        );
    }
    // Another 0.x minor is a breaking change: refused at load, naming the import.
    match load("0.2.0") {
        Err(PluginError::ForbiddenImport { import, .. }) => {
            assert!(
                import.starts_with("photosync:plugin/") && import.ends_with("@0.2.0"),
                "{import}"
            );
        }
        other => panic!("expected the 0.2.0 component to be refused, got {other:?}"),
    }
}
