use super::*;

#[test]
fn a_folder_with_something_in_it_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kept = dir.path().join("notes.txt");
    std::fs::write(&kept, "mine").expect("write");
    let err = create(dir.path(), Role::Matcher, Lang::Rust, "my-matcher").expect_err("refused");
    assert!(matches!(err, ScaffoldError::NotEmpty(_)), "{err:?}");
    assert!(
        err.to_string().contains("already exists and is not empty"),
        "{err}"
    );
    let entries: Vec<_> = std::fs::read_dir(dir.path()).expect("read").collect();
    assert_eq!(entries.len(), 1);
    assert_eq!(std::fs::read_to_string(kept).expect("read"), "mine");
    // A file where the folder should be is refused too.
    let err = create(
        &dir.path().join("notes.txt"),
        Role::Matcher,
        Lang::Rust,
        "x",
    )
    .expect_err("refused");
    assert!(matches!(err, ScaffoldError::NotAFolder(_)), "{err:?}");
}

#[test]
fn an_empty_or_missing_folder_gets_the_project() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = create(dir.path(), Role::Deduper, Lang::Python, "dd").expect("created");
    assert!(files.iter().any(|f| f.path == "app.py"));
    let target = dir.path().join("new/deeper");
    create(&target, Role::Matcher, Lang::Js, "m").expect("created");
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(target.join("build"))
        .expect("build")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    assert!(target.join("wit/worlds.wit").is_file());
}

#[test]
fn unknown_roles_languages_and_names_are_refused_naming_the_choices() {
    let err = parse_role("resizer").expect_err("refused");
    assert_eq!(
        err.to_string(),
        "there is no role \"resizer\"; give --role matcher, transformer or deduper"
    );
    let err = Lang::parse("go").expect_err("refused");
    assert_eq!(
        err.to_string(),
        "there is no language \"go\"; give --lang rust, python or js"
    );
    assert_eq!(parse_role("deduper").expect("known"), Role::Deduper);
    assert_eq!(Lang::parse("js").expect("known"), Lang::Js);
    for bad in ["", "My-Plugin", "1st", "a_b", "trailing-", "x y"] {
        assert!(
            matches!(check_name(bad), Err(ScaffoldError::BadName(_))),
            "{bad:?}"
        );
    }
    assert_eq!(
        default_name(Path::new("/tmp/match-ids")).expect("fine"),
        "match-ids"
    );
    assert!(default_name(Path::new("/tmp/Match_IDs")).is_err());
}

#[test]
fn every_project_is_complete_and_has_no_placeholder_left() {
    for role in Role::ALL {
        for lang in Lang::ALL {
            let files = project(role, lang, "my-plugin").expect("a project");
            let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
            for needed in [
                "build",
                "cases.toml",
                "README.md",
                ".gitignore",
                "wit/worlds.wit",
                "wit/types.wit",
            ] {
                assert!(paths.contains(&needed), "{role:?} {lang:?}: {paths:?}");
            }
            assert_eq!(
                paths.contains(&"samples/photo-64x48.jpg"),
                role == Role::Transformer,
                "{paths:?}"
            );
            for file in &files {
                let text = String::from_utf8_lossy(&file.contents);
                assert!(
                    !text.contains("{{"),
                    "{role:?} {lang:?} {}: {text}",
                    file.path
                );
            }
            let cases = files
                .iter()
                .find(|f| f.path == "cases.toml")
                .expect("cases");
            let cases: toml::Table = std::str::from_utf8(&cases.contents)
                .expect("utf-8")
                .parse()
                .expect("valid TOML");
            assert_eq!(cases["role"].as_str(), Some(role.name()));
            let world = format!("--world {}-plugin", role.name());
            let build = files.iter().find(|f| f.path == "build").expect("build");
            let build = String::from_utf8_lossy(&build.contents);
            assert!(build.starts_with("#!/usr/bin/env bash") && build.contains("my-plugin.wasm"));
            assert!(lang == Lang::Rust || build.contains(&world) || build.contains("--world-name"));
        }
    }
}

#[test]
fn the_tool_chains_are_pinned_as_in_the_repository() {
    let text = |files: &[File], path: &str| {
        let file = files.iter().find(|f| f.path == path).expect(path);
        String::from_utf8(file.contents.clone()).expect("utf-8")
    };
    let rust = project(Role::Transformer, Lang::Rust, "t").expect("project");
    let manifest: toml::Table = text(&rust, "Cargo.toml").parse().expect("valid Cargo.toml");
    assert!(
        manifest["workspace"]
            .as_table()
            .is_some_and(|t| t.is_empty())
    );
    let workspace: toml::Table = WORKSPACE_MANIFEST.parse().expect("workspace");
    let deps = &manifest["dependencies"];
    assert_eq!(
        deps["wit-bindgen"]["version"].as_str(),
        workspace["workspace"]["dependencies"]["wit-bindgen"].as_str()
    );
    assert_eq!(
        deps["jpeg-encoder"]["features"].as_array().map(Vec::len),
        Some(1)
    );
    let python = project(Role::Matcher, Lang::Python, "m").expect("project");
    assert_eq!(text(&python, "requirements.txt"), PYTHON_REQUIREMENTS);
    assert!(text(&python, "README.md").contains("componentize-py 0.25.1"));
    let js = project(Role::Deduper, Lang::Js, "my-deduper").expect("project");
    let package: serde_json::Value =
        serde_json::from_str(&text(&js, "package.json")).expect("json");
    let example: serde_json::Value = serde_json::from_str(JS_PACKAGE).expect("json");
    assert_eq!(package["name"], "my-deduper");
    assert_eq!(package["devDependencies"], example["devDependencies"]);
    assert_eq!(package["overrides"], example["overrides"]);
    let lock: serde_json::Value =
        serde_json::from_str(&text(&js, "package-lock.json")).expect("json");
    assert_eq!(lock["name"], "my-deduper");
    assert_eq!(lock["packages"][""]["name"], "my-deduper");
    assert!(text(&js, "src/plugin.js").contains("from 'photosync:plugin/log@0.1.1'"));
}
