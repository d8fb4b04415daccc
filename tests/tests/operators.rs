//! Operators' tools against real nats-server and slapd: a folder import and its dry run, a
//! watched folder, a full resync, rollback from backups, and the HTML report in headless
//! chromium.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use photosync::events::Outcome;
use photosync::ops::{self, import, resync, rollback};
use photosync::text::md5_hex;
use photosync_tests::fixtures::{JpegOptions, jpeg, photo_like};
use photosync_tests::servers::{Person, stdout_of};
use photosync_tests::stack::{Account, Stack};

fn small_photo(seed: u32) -> Vec<u8> {
    jpeg(&photo_like(64, 64, seed), JpegOptions::default())
}

fn people(stack: &Stack, n: usize) -> Vec<Person> {
    let people = Person::numbered(n);
    stack.ldap.add_people(&people);
    people
}

fn options(dir: &Path, dry_run: bool) -> import::Options {
    import::Options {
        dir: dir.to_path_buf(),
        pattern: None,
        dry_run,
        patience: Duration::from_secs(120),
    }
}

/// How many entries in scope have a thumbnailPhoto.
fn with_photo(stack: &Stack) -> usize {
    let config = stack.config(Account::Service);
    let directory = photosync::directory::Directory::new(
        config.ldap.clone(),
        stack.ldap.service_account().1.into(),
    );
    let mut n = 0;
    stack
        .rt
        .block_on(directory.each(&["thumbnailPhoto".into()], |e| {
            n += usize::from(e.values.contains_key("thumbnailphoto"));
            std::future::ready(Ok(()))
        }))
        .expect("search");
    n
}

#[test]
fn a_folder_import_is_predicted_exactly_by_its_dry_run() {
    let stack = Stack::start();
    // 970 people; 950 good photos, 10 byte-identical copies, 20 misnamed, 20 corrupt.
    let people = people(&stack, 970);
    let dir = tempfile::tempdir().expect("tempdir");
    for i in 0..950 {
        std::fs::write(
            dir.path().join(format!("{}.jpg", 100_000 + i)),
            small_photo(i as u32),
        )
        .expect("photo");
    }
    for i in 0..10 {
        std::fs::write(
            dir.path().join(format!("{}.jpeg", 100_000 + i)),
            small_photo(i as u32),
        )
        .expect("copy");
    }
    for i in 0..10 {
        std::fs::write(
            dir.path().join(format!("{}.jpg", 900_000 + i)),
            small_photo(1),
        )
        .expect("x");
        std::fs::write(dir.path().join(format!("readme-{i}.png")), small_photo(2)).expect("x");
    }
    for i in 950..970 {
        std::fs::write(
            dir.path().join(format!("{}.jpg", 100_000 + i)),
            b"not a photo at all",
        )
        .expect("corrupt");
    }
    // Skipped: not photos, or still being written.
    std::fs::write(dir.path().join("notes.txt"), b"hello").expect("x");
    std::fs::write(dir.path().join("100001.jpg.part"), b"half").expect("x");
    let config = stack.config(Account::Service);

    let preview = stack
        .rt
        .block_on(import::preview(&config, &options(dir.path(), true)))
        .expect("dry run");
    let expected = [
        (Outcome::Written, 950),
        (Outcome::Unchanged, 10),
        (Outcome::NoMatch, 20),
        (Outcome::Rejected, 20),
    ];
    for (outcome, n) in expected {
        assert_eq!(
            preview.summary.count(outcome),
            n,
            "{outcome:?}: {}",
            preview.summary.one_line()
        );
    }
    assert_eq!(preview.summary.total(), 1000);
    assert_eq!(
        preview.without_photo.len(),
        20,
        "the 20 with corrupt photos"
    );
    assert_eq!(with_photo(&stack), 0, "the dry run wrote nothing");
    let text = import::render_preview(&preview, 5);
    assert!(
        text.contains(&format!(
            "100000.jpg                   → {}",
            people[0].dn()
        )),
        "{text}"
    );

    let summary = stack
        .rt
        .block_on(import::run(&config, &options(dir.path(), false)))
        .expect("import");
    for (outcome, n) in expected {
        assert_eq!(
            summary.count(outcome),
            n,
            "{outcome:?}: {}",
            summary.one_line()
        );
    }
    assert!(summary.any_failed(), "corrupt photos are rejected");
    assert_eq!(with_photo(&stack), 950, "every matched person has a photo");
    // Each file's outcome as predicted (for copies, the pair's outcomes).
    let predicted: HashMap<String, Outcome> = preview
        .predictions
        .iter()
        .map(|r| (r.file_name.clone().unwrap_or_default(), r.outcome))
        .collect();
    let actual: HashMap<String, Outcome> = summary
        .problems
        .iter()
        .map(|r| (r.file_name.clone().unwrap_or_default(), r.outcome))
        .collect();
    for (file, outcome) in &actual {
        assert_eq!(predicted.get(file), Some(outcome), "{file}");
    }
}

#[test]
fn the_import_command_exits_non_zero_when_a_photo_is_rejected() {
    let stack = Stack::start();
    people(&stack, 2);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("100000.jpg"), small_photo(1)).expect("photo");
    std::fs::write(dir.path().join("100001.jpg"), b"corrupt").expect("photo");
    let config = dir.path().join("photosync.toml");
    std::fs::write(&config, stack.config_text(Account::Service, "")).expect("config");
    let out = std::process::Command::new(photosync_tests::stack::photosync_binary())
        .arg("import")
        .arg(dir.path())
        .arg("--config")
        .arg(&config)
        .output()
        .expect("photosync import runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("written          1"), "{stdout}");
    assert!(stdout.contains("rejected         1"), "{stdout}");
    assert!(stdout.contains("100001.jpg — "), "{stdout}");
}

#[test]
fn a_photo_dropped_into_a_watched_folder_is_written_within_seconds() {
    let mut stack = Stack::start();
    let people = people(&stack, 2);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = stack.config(Account::Service);
    let options = ops::folder::Options {
        dir: dir.path().to_path_buf(),
        pattern: None,
        interval: Duration::from_millis(100),
        settle: Duration::from_millis(700),
    };
    let bus = stack
        .rt
        .block_on(photosync::service::connect_bus(&config))
        .expect("bus");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let watcher = stack.rt.spawn(async move {
        ops::folder::run(&bus, &options, async {
            let _ = stopped.await;
        })
        .await
    });
    let photo = small_photo(5);
    std::fs::write(dir.path().join("100000.jpg"), &photo).expect("drop");
    let dn = people[0].dn();
    let r = stack.result_matching("the dropped photo written", |r| {
        r.file_name.as_deref() == Some("100000.jpg") && r.outcome == Outcome::Written
    });
    assert_eq!(r.entry_dn.as_deref(), Some(dn.as_str()));
    assert_eq!(stack.ldap.read(&dn, "thumbnailPhoto").values.len(), 1);

    // A copy in progress: half the bytes, then the rest. Only the whole photo is published.
    let other = small_photo(6);
    let path = dir.path().join("100001.jpg");
    std::fs::write(&path, &other[..other.len() / 2]).expect("half");
    std::thread::sleep(Duration::from_millis(200)); // a slow copier, not synchronisation
    std::fs::write(&path, &other).expect("whole");
    stack.result_matching("the copied photo written", |r| {
        r.file_name.as_deref() == Some("100001.jpg") && r.outcome == Outcome::Written
    });
    let half_published = stack
        .results_so_far()
        .iter()
        .any(|r| r.file_name.as_deref() == Some("100001.jpg") && r.outcome != Outcome::Written);
    assert!(!half_published, "{:?}", stack.results_so_far());
    let _ = stop.send(());
    stack
        .rt
        .block_on(watcher)
        .expect("joined")
        .expect("the watcher ran");
}

#[test]
fn resync_rewrites_nothing_that_is_right_and_repairs_a_removed_photo() {
    let mut stack = Stack::start();
    let people = people(&stack, 20);
    for (i, _) in people.iter().enumerate() {
        let id = stack.publish(&format!("{}.jpg", 100_000 + i), &small_photo(i as u32), &[]);
        assert_eq!(stack.result(&id).outcome, Outcome::Written);
    }
    let removed = &people[3];
    let before = stack.ldap.read(&removed.dn(), "thumbnailPhoto");
    stack.ldap.modify_ldif(&format!(
        "dn: {}\nchangetype: modify\ndelete: thumbnailPhoto\n",
        removed.dn()
    ));
    let untouched = stack.ldap.read(&people[4].dn(), "thumbnailPhoto");
    let config = stack.config(Account::Service);
    let summary = stack
        .rt
        .block_on(resync::run(
            &config,
            &resync::Target::All,
            Duration::from_secs(60),
        ))
        .expect("resync");
    assert_eq!(summary.count(Outcome::Written), 1, "{}", summary.render(5));
    assert_eq!(
        summary.count(Outcome::Unchanged),
        19,
        "{}",
        summary.render(5)
    );
    let repaired = stack.ldap.read(&removed.dn(), "thumbnailPhoto");
    assert_eq!(repaired.values, before.values, "the same bytes as before");
    assert_eq!(
        stack.ldap.read(&people[4].dn(), "thumbnailPhoto"),
        untouched
    );
}

#[test]
fn rollback_restores_the_exact_previous_bytes() {
    let mut stack = Stack::start();
    let people = people(&stack, 3);
    // Photos someone set before photosync came.
    let theirs: Vec<Vec<u8>> = (0..3).map(|i| small_photo(100 + i)).collect();
    for (p, photo) in people.iter().zip(&theirs) {
        stack.ldap.modify_ldif(&format!(
            "dn: {}\nchangetype: modify\nreplace: thumbnailPhoto\nthumbnailPhoto:: {}\n",
            p.dn(),
            base64_of(photo)
        ));
    }
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    for i in 0..3 {
        let id = stack.publish(&format!("{}.jpg", 100_000 + i), &small_photo(i as u32), &[]);
        assert_eq!(stack.result(&id).outcome, Outcome::Written);
    }
    let config = stack.config(Account::Service);
    // One entry.
    let restored = stack
        .rt
        .block_on(rollback::run(
            &config,
            &rollback::Scope::Entry(people[0].dn()),
            false,
        ))
        .expect("rollback");
    assert_eq!(restored.len(), 1);
    assert!(restored[0].written, "{:?}", restored[0]);
    assert_eq!(
        stack.ldap.read(&people[0].dn(), "thumbnailPhoto").values,
        vec![theirs[0].clone()]
    );
    // The same source photo again does not undo the rollback.
    let again = stack.publish("100000.jpg", &small_photo(0), &[]);
    assert_eq!(stack.result(&again).outcome, Outcome::Unchanged);
    assert_eq!(
        stack.ldap.read(&people[0].dn(), "thumbnailPhoto").values,
        vec![theirs[0].clone()]
    );
    // Everything since then: the two others come back, the first is already right.
    let restored = stack
        .rt
        .block_on(rollback::run(
            &config,
            &rollback::Scope::Since(since),
            false,
        ))
        .expect("rollback");
    assert_eq!(
        restored.iter().filter(|r| r.written).count(),
        2,
        "{restored:?}"
    );
    for (p, photo) in people.iter().zip(&theirs) {
        let now = stack.ldap.read(&p.dn(), "thumbnailPhoto").values;
        assert_eq!(
            now.iter().map(|v| md5_hex(v)).collect::<Vec<_>>(),
            vec![md5_hex(photo)]
        );
    }
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn the_report_loads_in_headless_chromium_and_its_images_decode() {
    let mut stack = Stack::start();
    let people = people(&stack, 3);
    // One photo replaces someone's own (before and after), one is new (after only).
    stack.ldap.modify_ldif(&format!(
        "dn: {}\nchangetype: modify\nreplace: thumbnailPhoto\nthumbnailPhoto:: {}\n",
        people[0].dn(),
        base64_of(&small_photo(50))
    ));
    for (file, bytes) in [
        ("100000.jpg", small_photo(1)),
        (
            "100001.jpg",
            jpeg(&photo_like(400, 300, 2), JpegOptions::default()),
        ),
        ("555.jpg", small_photo(3)),
        ("100002.jpg", b"<script>alert(1)</script>".to_vec()),
    ] {
        let id = stack.publish(file, &bytes, &[]);
        stack.result_where(&id, |r| r.is_final);
    }
    let config = stack.config(Account::Service);
    let html = stack
        .rt
        .block_on(async {
            let bus = photosync::service::connect_bus(&config).await?;
            let backups = photosync::backup::Backups::open(&bus, config.backup.retention()).await?;
            ops::report::build(&bus, &backups, None).await
        })
        .expect("report");
    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("report.html");
    std::fs::write(&page, &html).expect("report written");
    let dom = chromium(&page, dir.path(), &["--dump-dom"]);
    assert!(
        dom.contains("data-images-ok=\"3\""),
        "{}",
        &dom[..dom.len().min(2000)]
    );
    assert!(dom.contains("data-images-broken=\"0\""));
    assert!(dom.contains("no-match"));
    assert!(!dom.contains("<script>alert(1)</script>"));
    // A screenshot to look at, kept beside the build.
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report.png");
    chromium(
        &page,
        dir.path(),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,900",
        ],
    );
    assert!(std::fs::metadata(&shot).is_ok_and(|m| m.len() > 1000));
}

/// Runs headless chromium on a local file with a fresh profile and no network use; returns
/// what it prints.
fn chromium(page: &Path, scratch: &Path, extra: &[&str]) -> String {
    stdout_of(
        std::process::Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--virtual-time-budget=5000",
            ])
            .arg(format!(
                "--user-data-dir={}",
                scratch.join("chromium").display()
            ))
            .args(extra)
            .arg(format!("file://{}", page.display())),
    )
}

#[test]
fn waiting_for_results_gives_up_with_a_reason_when_no_worker_runs() {
    let mut stack = Stack::start();
    stack.stop_service();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("1.jpg"), small_photo(1)).expect("photo");
    let mut options = options(dir.path(), false);
    options.patience = Duration::from_secs(2);
    let err = stack
        .rt
        .block_on(import::run(&stack.config(Account::Service), &options))
        .expect_err("no workers");
    assert!(
        err.to_string()
            .contains("are the workers (photosync run) running?"),
        "{err}"
    );
}

#[test]
fn a_write_the_directory_refuses_leaves_no_backup() {
    let mut stack = Stack::start_with(Account::Reader);
    people(&stack, 1);
    let id = stack.publish("100000.jpg", &small_photo(1), &[]);
    let result = stack.result(&id);
    assert_eq!(result.outcome, Outcome::Failed, "{result:?}");
    let config = stack.config(Account::Reader);
    let records = stack
        .rt
        .block_on(async {
            let bus = photosync::service::connect_bus(&config).await?;
            let backups = photosync::backup::Backups::open(&bus, config.backup.retention()).await?;
            anyhow::Ok(backups.records().await?)
        })
        .expect("backups readable");
    assert!(records.is_empty(), "{records:?}");
}
