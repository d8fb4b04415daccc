//! `photosync plugin new`: writes a new plugin project — source, WIT files, build script, test
//! cases and README — for one role in Rust, Python or JavaScript.
//!
//! The templates (`plugins/templates/`), the WIT package (`wit/`) and the tool-chain pins of
//! the example plugins are embedded in the binary, so a project always matches the host that
//! made it. This module only writes into the folder it is given; it runs no tool chain.

use std::path::{Path, PathBuf};

use super::Role;

/// The WIT package, one file per interface, as the host implements it.
const WIT: [(&str, &str); 7] = [
    ("types.wit", include_str!("../../../wit/types.wit")),
    ("log.wit", include_str!("../../../wit/log.wit")),
    ("matcher.wit", include_str!("../../../wit/matcher.wit")),
    (
        "transformer.wit",
        include_str!("../../../wit/transformer.wit"),
    ),
    (
        "multi-transformer.wit",
        include_str!("../../../wit/multi-transformer.wit"),
    ),
    ("deduper.wit", include_str!("../../../wit/deduper.wit")),
    ("worlds.wit", include_str!("../../../wit/worlds.wit")),
];

/// Where the versions of the Rust dependencies come from: `[workspace.dependencies]`.
const WORKSPACE_MANIFEST: &str = include_str!("../../../Cargo.toml");
/// The componentize-py pin of the Python example, used as is.
const PYTHON_REQUIREMENTS: &str = include_str!("../../../plugins/match-table-py/requirements.txt");
/// The jco pins of the JavaScript example; its lock file is used with the package renamed.
const JS_PACKAGE: &str = include_str!("../../../plugins/dedup-keep-manual-js/package.json");
const JS_LOCK: &str = include_str!("../../../plugins/dedup-keep-manual-js/package-lock.json");
/// The package name in the example's `package.json` and lock file.
const JS_EXAMPLE_NAME: &str = "photosync-dedup-keep-manual";

/// Template files, by their path under `plugins/templates/`.
macro_rules! template {
    ($path:literal) => {
        include_str!(concat!("../../../plugins/templates/", $path))
    };
}

const PROJECT_README: &str = template!("project/README.md");

/// Sample photos the transformer cases read.
const SAMPLES: [(&str, &[u8]); 2] = [
    (
        "samples/photo-64x48.jpg",
        include_bytes!("../../../plugins/templates/samples/photo-64x48.jpg"),
    ),
    (
        "samples/photo-64x48-exif.jpg",
        include_bytes!("../../../plugins/templates/samples/photo-64x48-exif.jpg"),
    ),
];

/// The languages a project can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Rust with wit-bindgen, built by cargo for `wasm32-wasip2`.
    Rust,
    /// Python, built by componentize-py.
    Python,
    /// JavaScript, built by jco (StarlingMonkey).
    Js,
}

impl Lang {
    /// Every language, in the order `--help` lists them.
    pub const ALL: [Lang; 3] = [Lang::Rust, Lang::Python, Lang::Js];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
        }
    }

    /// `rust`, `python` or `js`.
    pub fn parse(text: &str) -> Result<Self, ScaffoldError> {
        Self::ALL
            .into_iter()
            .find(|l| l.name() == text)
            .ok_or_else(|| ScaffoldError::UnknownLang(text.to_owned()))
    }

    fn title(self) -> &'static str {
        match self {
            Lang::Rust => "Rust",
            Lang::Python => "Python",
            Lang::Js => "JavaScript",
        }
    }
}

/// `matcher`, `transformer` or `deduper`.
pub fn parse_role(text: &str) -> Result<Role, ScaffoldError> {
    Role::ALL
        .into_iter()
        .find(|r| r.name() == text)
        .ok_or_else(|| ScaffoldError::UnknownRole(text.to_owned()))
}

/// Why no project was written.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("there is no role {0:?}; give --role matcher, transformer or deduper")]
    UnknownRole(String),
    #[error("there is no language {0:?}; give --lang rust, python or js")]
    UnknownLang(String),
    #[error(
        "{} already exists and is not empty; give a new folder (or an empty one) so that nothing is overwritten",
        .0.display()
    )]
    NotEmpty(PathBuf),
    #[error("{} exists and is not a folder", .0.display())]
    NotAFolder(PathBuf),
    #[error(
        "{0:?} cannot be the plugin's name (lower-case letters, digits and hyphens, starting with a letter, at most 64); give --name NAME"
    )]
    BadName(String),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An embedded file lacks what the templates need: a bug in this build of photosync.
    #[error("the embedded templates are inconsistent: {0}; this is a bug in photosync")]
    Template(String),
}

/// One file of a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// The path inside the project.
    pub path: String,
    pub contents: Vec<u8>,
    /// Whether it is a script to run (mode 755).
    pub executable: bool,
}

impl File {
    fn text(path: &str, contents: String) -> Self {
        Self {
            path: path.to_owned(),
            contents: contents.into_bytes(),
            executable: false,
        }
    }
}

/// The project a role and language give, named `name` (checked); nothing is written.
pub fn project(role: Role, lang: Lang, name: &str) -> Result<Vec<File>, ScaffoldError> {
    check_name(name)?;
    let vars = Vars::new(role, lang, name)?;
    let (source_path, source, build, build_md, gitignore) = match lang {
        Lang::Rust => (
            "src/lib.rs",
            pick(
                role,
                template!("rust/matcher.rs"),
                template!("rust/transformer.rs"),
                template!("rust/deduper.rs"),
            ),
            template!("rust/build"),
            template!("rust/build.md"),
            template!("rust/gitignore"),
        ),
        Lang::Python => (
            "app.py",
            pick(
                role,
                template!("python/matcher.py"),
                template!("python/transformer.py"),
                template!("python/deduper.py"),
            ),
            template!("python/build"),
            template!("python/build.md"),
            template!("python/gitignore"),
        ),
        Lang::Js => (
            "src/plugin.js",
            pick(
                role,
                template!("js/matcher.js"),
                template!("js/transformer.js"),
                template!("js/deduper.js"),
            ),
            template!("js/build"),
            template!("js/build.md"),
            template!("js/gitignore"),
        ),
    };
    let (role_md, cases, settings) = role_templates(role, lang);
    let mut files = vec![
        File::text(source_path, vars.render(source)),
        File {
            executable: true,
            ..File::text("build", vars.render(build))
        },
        File::text(".gitignore", gitignore.to_owned()),
        File::text("cases.toml", vars.render(&cases)),
    ];
    files.extend(language_files(lang, &vars)?);
    for (file, text) in WIT {
        files.push(File::text(&format!("wit/{file}"), text.to_owned()));
    }
    if role == Role::Transformer {
        files.extend(SAMPLES.iter().map(|(path, bytes)| File {
            path: (*path).to_owned(),
            contents: bytes.to_vec(),
            executable: false,
        }));
    }
    let readme = PROJECT_README
        .replace("{{role-section}}", role_md)
        .replace("{{build-section}}", build_md)
        .replace("{{settings-example}}", settings.trim_end());
    files.push(File::text("README.md", vars.render(&readme)));
    Ok(files)
}

/// Writes the project into `dir`, which must not exist or be empty; returns the files written.
pub fn create(dir: &Path, role: Role, lang: Lang, name: &str) -> Result<Vec<File>, ScaffoldError> {
    let files = project(role, lang, name)?;
    check_dir(dir)?;
    let write = |path: &Path, result: std::io::Result<()>| {
        result.map_err(|source| ScaffoldError::Write {
            path: path.to_path_buf(),
            source,
        })
    };
    write(dir, std::fs::create_dir_all(dir))?;
    for file in &files {
        let path = dir.join(&file.path);
        if let Some(parent) = path.parent() {
            write(parent, std::fs::create_dir_all(parent))?;
        }
        write(&path, std::fs::write(&path, &file.contents))?;
        if file.executable {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::Permissions::from_mode(0o755);
            write(&path, std::fs::set_permissions(&path, mode))?;
        }
    }
    Ok(files)
}

/// The name a project gets from its folder when none is given: the folder's own name.
pub fn default_name(dir: &Path) -> Result<String, ScaffoldError> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    check_name(&name)?;
    Ok(name)
}

/// A name fit for a crate, an npm package and a file: `[a-z][a-z0-9-]*`, at most 64 characters.
fn check_name(name: &str) -> Result<(), ScaffoldError> {
    let mut chars = name.chars();
    let ok = name.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(ScaffoldError::BadName(name.to_owned()))
    }
}

/// Refuses a folder that has anything in it (or is a file); a missing one is created later.
fn check_dir(dir: &Path) -> Result<(), ScaffoldError> {
    match std::fs::read_dir(dir).map(|mut entries| entries.next().is_none()) {
        Ok(true) => Ok(()),
        Ok(false) => Err(ScaffoldError::NotEmpty(dir.into())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(_) if dir.exists() && !dir.is_dir() => Err(ScaffoldError::NotAFolder(dir.into())),
        Err(source) => Err(ScaffoldError::Write {
            path: dir.into(),
            source,
        }),
    }
}

fn pick(
    role: Role,
    matcher: &'static str,
    transformer: &'static str,
    deduper: &'static str,
) -> &'static str {
    match role {
        Role::Matcher => matcher,
        Role::Transformer => transformer,
        Role::Deduper => deduper,
    }
}

/// The README section, the cases and the settings example of a role. Only Rust has a real
/// transformer; in Python and JavaScript it passes fitting JPEGs through.
fn role_templates(role: Role, lang: Lang) -> (&'static str, String, &'static str) {
    let head = template!("roles/transformer-head.toml");
    match (role, lang) {
        (Role::Matcher, _) => (
            template!("roles/matcher.md"),
            template!("roles/matcher.cases.toml").to_owned(),
            template!("roles/matcher.settings.toml"),
        ),
        (Role::Deduper, _) => (
            template!("roles/deduper.md"),
            template!("roles/deduper.cases.toml").to_owned(),
            template!("roles/deduper.settings.toml"),
        ),
        (Role::Transformer, Lang::Rust) => (
            template!("roles/transformer.md"),
            format!("{head}{}", template!("roles/transformer.cases.toml")),
            template!("roles/transformer.settings.toml"),
        ),
        (Role::Transformer, _) => (
            template!("roles/transformer-pass-through.md"),
            format!(
                "{head}{}",
                template!("roles/transformer-pass-through.cases.toml")
            ),
            template!("roles/transformer-pass-through.settings.toml"),
        ),
    }
}

/// The tool-chain files of a language.
fn language_files(lang: Lang, vars: &Vars) -> Result<Vec<File>, ScaffoldError> {
    Ok(match lang {
        Lang::Rust => vec![File::text(
            "Cargo.toml",
            vars.render(template!("rust/Cargo.toml.template")),
        )],
        Lang::Python => vec![File::text(
            "requirements.txt",
            PYTHON_REQUIREMENTS.to_owned(),
        )],
        Lang::Js => {
            let from = format!("\"name\": \"{JS_EXAMPLE_NAME}\"");
            if JS_LOCK.matches(&from).count() != 2 {
                return Err(ScaffoldError::Template(format!(
                    "the example's package-lock.json does not name {JS_EXAMPLE_NAME} twice"
                )));
            }
            let lock = JS_LOCK.replace(&from, &format!("\"name\": \"{}\"", vars.name));
            vec![
                File::text("package.json", vars.render(template!("js/package.json"))),
                File::text("package-lock.json", lock),
                File::text(
                    "bundle.config.js",
                    template!("js/bundle.config.js").to_owned(),
                ),
            ]
        }
    })
}

/// The values `{{…}}` placeholders stand for.
#[derive(Debug)]
struct Vars {
    name: String,
    pairs: Vec<(String, String)>,
}

impl Vars {
    fn new(role: Role, lang: Lang, name: &str) -> Result<Self, ScaffoldError> {
        let missing = |what: &str| ScaffoldError::Template(format!("cannot find {what}"));
        let wit_version = WIT[5]
            .1
            .lines()
            .find_map(|l| l.trim().strip_prefix("package photosync:plugin@"))
            .and_then(|v| v.strip_suffix(';'))
            .ok_or_else(|| missing("the package version in wit/worlds.wit"))?;
        let mut pairs: Vec<(String, String)> = vec![
            ("name".into(), name.to_owned()),
            ("crate".into(), name.replace('-', "_")),
            ("role".into(), role.name().to_owned()),
            ("world".into(), format!("{}-plugin", role.name())),
            ("language".into(), lang.title().to_owned()),
            ("wit-version".into(), wit_version.to_owned()),
        ];
        match lang {
            Lang::Rust => {
                let deps = rust_dependencies(role)?;
                pairs.push(("rust-dependencies".into(), deps.text));
                pairs.push(("version:wit-bindgen".into(), deps.wit_bindgen));
            }
            Lang::Python => {
                let version = PYTHON_REQUIREMENTS
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("componentize-py=="))
                    .ok_or_else(|| missing("the componentize-py pin in requirements.txt"))?;
                pairs.push(("version:componentize-py".into(), version.to_owned()));
            }
            Lang::Js => {
                let package: serde_json::Value = serde_json::from_str(JS_PACKAGE)
                    .map_err(|e| ScaffoldError::Template(format!("package.json: {e}")))?;
                for (key, pointer) in [
                    ("version:jco", "/devDependencies/@bytecodealliance~1jco"),
                    (
                        "version:preview2-shim",
                        "/overrides/@bytecodealliance~1preview2-shim",
                    ),
                ] {
                    let version = package
                        .pointer(pointer)
                        .and_then(|v| v.as_str())
                        .ok_or_else(|| {
                            missing(&format!("{pointer} in the example's package.json"))
                        })?;
                    pairs.push((key.into(), version.to_owned()));
                }
            }
        }
        Ok(Self {
            name: name.to_owned(),
            pairs,
        })
    }

    fn render(&self, template: &str) -> String {
        self.pairs
            .iter()
            .fold(template.to_owned(), |text, (key, value)| {
                text.replace(&format!("{{{{{key}}}}}"), value)
            })
    }
}

/// The `[dependencies]` lines of a Rust project and the wit-bindgen version among them.
struct RustDependencies {
    text: String,
    wit_bindgen: String,
}

/// The role's crates, each at the version (and with the features) of the workspace's
/// `[workspace.dependencies]`, so a project builds with what photosync's own plugins use.
fn rust_dependencies(role: Role) -> Result<RustDependencies, ScaffoldError> {
    let crates: &[&str] = match role {
        Role::Matcher => &["wit-bindgen"],
        Role::Transformer => &["wit-bindgen", "jpeg-decoder", "jpeg-encoder"],
        Role::Deduper => &["wit-bindgen", "sha2"],
    };
    let manifest: toml::Table = WORKSPACE_MANIFEST
        .parse()
        .map_err(|e| ScaffoldError::Template(format!("Cargo.toml: {e}")))?;
    let deps = manifest
        .get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(|d| d.as_table());
    let mut text = String::new();
    let mut wit_bindgen = None;
    for name in crates {
        let spec = deps.and_then(|d| d.get(*name)).ok_or_else(|| {
            ScaffoldError::Template(format!("the workspace has no dependency {name}"))
        })?;
        let (version, extra) = match spec {
            toml::Value::String(v) => (v.clone(), String::new()),
            toml::Value::Table(t) => {
                let version = t
                    .get("version")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default();
                let mut extra = String::new();
                if let Some(defaults) = t.get("default-features").and_then(|v| v.as_bool()) {
                    extra += &format!(", default-features = {defaults}");
                }
                if let Some(features) = t.get("features") {
                    extra += &format!(", features = {features}");
                }
                (version.to_owned(), extra)
            }
            _ => (String::new(), String::new()),
        };
        if version.is_empty() {
            return Err(ScaffoldError::Template(format!(
                "the workspace gives {name} no version"
            )));
        }
        if *name == "wit-bindgen" {
            wit_bindgen = Some(version.clone());
        }
        text += &format!("{name} = {{ version = \"{version}\"{extra} }}\n");
    }
    Ok(RustDependencies {
        text,
        wit_bindgen: wit_bindgen.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests;
