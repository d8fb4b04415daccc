//! The photosync demo: starts a private NATS (JetStream) and OpenLDAP with sample people on
//! loopback, runs the real `photosync run` next to them, publishes sample photos and prints each
//! result as it arrives — then publishes them again to show that nothing unchanged is rewritten.
//! Then it adds a person whose photo was waiting, and changes a photo behind photosync's back,
//! to show the directory watcher at work, and ends with the operators' import dry run and
//! HTML report.
//!
//! Usage: `demo PHOTOSYNC_BINARY OUTPUT_DIR` (scripts/demo runs it).

use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use futures::StreamExt as _;
use photosync::events::{PhotoChanged, PhotoResult};
use photosync_tests::fixtures::write_samples;
use photosync_tests::names::PHOTO_CHANGED;
use photosync_tests::servers::{LdapServer, NatsServer, PEOPLE_DN, Person};
use photosync_tests::stack::{config_toml, ldap_sections};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let binary = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: demo PHOTOSYNC_BINARY OUTPUT_DIR"))?;
    let out = std::path::PathBuf::from(args.next().unwrap_or_else(|| "demo-output".into()));
    std::fs::create_dir_all(&out)?;

    println!("== Starting nats-server (JetStream) and slapd on loopback");
    let nats = NatsServer::start();
    let ldap = LdapServer::start();
    let people = [
        Person::new("ada", "Ada", "Lovelace", Some("11111")),
        Person::new("alan", "Alan", "Turing", Some("12345")),
        Person::new("grace", "Grace", "Hopper", Some("22222")),
        Person::new("katherine", "Katherine", "Johnson", Some("23456")),
        Person::new("margaret", "Margaret", "Hamilton", Some("34567")),
    ];
    ldap.add_people(&people);
    println!(
        "   NATS {}  LDAP {}  people under {PEOPLE_DN}: {}",
        nats.url(),
        ldap.url(),
        people.len()
    );

    let (bind_dn, password) = ldap.service_account();
    let config = out.join("photosync.toml");
    std::fs::write(&config, config_text(&nats.url(), &ldap.url(), bind_dn))?;
    println!(
        "== Starting photosync run --config {} (log: {})",
        config.display(),
        out.join("photosync.log").display()
    );
    let log = std::fs::File::create(out.join("photosync.log"))?;
    let mut service = Command::new(&binary)
        .args(["run", "--config"])
        .arg(&config)
        .env("PHOTOSYNC_LDAP_PASSWORD", password)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcome = rt
        .block_on(sync_samples(&nats.url(), &out))
        .and_then(|()| rt.block_on(directory_changes(&nats.url(), &ldap, &people[1])))
        .and_then(|()| operators(&binary, &config, password, &out));
    let _ = service.kill();
    let _ = service.wait();
    outcome?;

    println!("\n== What the directory holds now (read back with ldapsearch)");
    for p in &people {
        let thumb = ldap.read(&p.dn(), "thumbnailPhoto");
        let big = ldap.read(&p.dn(), "jpegPhoto");
        match (thumb.values.first(), big.values.first()) {
            (Some(t), Some(j)) => println!(
                "   {:<42} thumbnailPhoto {} bytes, jpegPhoto {} bytes",
                p.dn(),
                t.len(),
                j.len()
            ),
            _ => println!("   {:<42} no photo", p.dn()),
        }
    }
    Ok(())
}

/// The operators' tools on the same folder: a dry run of an import (everything is in place
/// already), and the HTML report of what happened.
fn operators(
    binary: &std::ffi::OsStr,
    config: &std::path::Path,
    password: &str,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    let report = out.join("report.html");
    let photos = out.join("photos");
    for (title, args) in [
        (
            "photosync import --dry-run (what an import of the folder would do now)",
            vec!["import".as_ref(), photos.as_os_str(), "--dry-run".as_ref()],
        ),
        (
            "photosync report (every result, with photos before and after)",
            vec!["report".as_ref(), "-o".as_ref(), report.as_os_str()],
        ),
    ] {
        println!("\n== {title}");
        let done = Command::new(binary)
            .args(&args)
            .arg("--config")
            .arg(config)
            .env("PHOTOSYNC_LDAP_PASSWORD", password)
            .env("PHOTOSYNC_LOG", "warn")
            .output()?;
        for line in String::from_utf8_lossy(&done.stdout).lines() {
            println!("   {line}");
        }
        // The dry run exits 1: the damaged sample photo would be rejected.
        if !done.status.success() && args[0] != "import" {
            anyhow::bail!("{title} failed: {}", String::from_utf8_lossy(&done.stderr));
        }
    }
    println!("   open {} in a browser", report.display());
    Ok(())
}

async fn sync_samples(nats: &str, out: &std::path::Path) -> anyhow::Result<()> {
    let bus = photosync::bus::Bus::connect(nats, None).await?;
    let mut results = bus.client.subscribe("photosync.result.>").await?;
    bus.client.flush().await?;
    let samples = write_samples(&out.join("photos"))?;
    for round in ["first upload", "the same photos again"] {
        println!(
            "\n== Publishing {} sample photos ({round}); results as they arrive:",
            samples.len()
        );
        let mut waiting = std::collections::HashSet::new();
        for path in &samples {
            let event =
                photosync::publish::publish_file(&bus, path, "demo", &Default::default()).await?;
            waiting.insert(event.id);
        }
        // Results of other events (the directory changes photosync's own writes cause) are
        // not shown here.
        while !waiting.is_empty() {
            let message = tokio::time::timeout(Duration::from_secs(120), results.next())
                .await
                .map_err(|_| anyhow::anyhow!("no result within 2 minutes; see photosync.log"))?
                .ok_or_else(|| anyhow::anyhow!("the result subscription ended"))?;
            let result = serde_json::from_slice::<PhotoResult>(&message.payload)?;
            if waiting.remove(&result.event_id) {
                print_result(&result);
            }
        }
    }
    Ok(())
}

/// The watcher at work: a new person gets the photo waiting for them, and a photo changed in
/// the directory by someone else goes out as a photo-changed event.
async fn directory_changes(nats: &str, ldap: &LdapServer, alan: &Person) -> anyhow::Result<()> {
    let bus = photosync::bus::Bus::connect(nats, None).await?;
    let mut results = bus.client.subscribe("photosync.result.>").await?;
    let mut changed = bus.client.subscribe(PHOTO_CHANGED).await?;
    bus.client.flush().await?;
    wait_for_watcher(&bus).await?;
    let dorothy = Person::new("dorothy", "Dorothy", "Vaughan", Some("99999"));
    println!(
        "\n== A new person arrives: adding {} with employeeID 99999 (ldapadd).\n   99999.jpg matched nobody above; it waited in the photo bucket:",
        dorothy.dn()
    );
    ldap.add_people(std::slice::from_ref(&dorothy));
    loop {
        let message = tokio::time::timeout(Duration::from_secs(60), results.next())
            .await
            .map_err(|_| anyhow::anyhow!("no result for the new person within a minute"))?
            .ok_or_else(|| anyhow::anyhow!("the result subscription ended"))?;
        let result: PhotoResult = serde_json::from_slice(&message.payload)?;
        if result.entry_dn.as_deref() == Some(dorothy.dn().as_str()) && result.file_name.is_some() {
            print_result(&result);
            break;
        }
    }
    let photo = photosync_tests::fixtures::jpeg(
        &photosync_tests::fixtures::photo_like(96, 96, 42),
        Default::default(),
    );
    println!(
        "\n== Someone else replaces {}'s thumbnailPhoto (ldapmodify); photosync tells downstream \
         applications on {PHOTO_CHANGED}:",
        alan.dn()
    );
    ldap.modify_ldif(&format!(
        "dn: {}\nchangetype: modify\nreplace: thumbnailPhoto\nthumbnailPhoto:: {}\n",
        alan.dn(),
        base64::engine::general_purpose::STANDARD.encode(&photo)
    ));
    let message = tokio::time::timeout(Duration::from_secs(60), changed.next())
        .await
        .map_err(|_| anyhow::anyhow!("no photo-changed event within a minute"))?
        .ok_or_else(|| anyhow::anyhow!("the subscription ended"))?;
    let event: PhotoChanged = serde_json::from_slice(&message.payload)?;
    println!(
        "   {} {} md5 {} ({} bytes, cause {:?})",
        event.dn,
        event.attribute,
        event.md5.as_deref().unwrap_or("-"),
        event.bytes,
        event.cause
    );
    Ok(())
}

/// Waits until the watcher has saved its place in the change stream, so that the changes the
/// demo makes next are seen as changes.
async fn wait_for_watcher(bus: &photosync::bus::Bus) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut keys = bus.state().keys().await?;
        while let Some(key) = keys.next().await {
            if key?.starts_with("watcher.") {
                return Ok(());
            }
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("the directory watcher did not start; see photosync.log");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn print_result(r: &PhotoResult) {
    let name = r.file_name.as_deref().unwrap_or("?");
    let detail = match &r.reason {
        Some(reason) => reason.clone(),
        None => {
            let attrs: Vec<String> = r
                .attributes
                .iter()
                .map(|a| format!("{}: {}", a.attribute, a.reason))
                .collect();
            format!(
                "{} — {}",
                r.entry_dn.as_deref().unwrap_or(""),
                attrs.join("; ")
            )
        }
    };
    println!("   {:<10} {:<18} {detail}", r.outcome.as_str(), name);
}

fn config_text(nats: &str, ldap: &str, bind_dn: &str) -> String {
    let shared = config_toml(
        nats,
        &ldap_sections(ldap, bind_dn, r#"{ env = "PHOTOSYNC_LDAP_PASSWORD" }"#),
    );
    format!(
        "# Written by the photosync demo.\n{shared}\n[[renditions]]\nattribute = \"thumbnailPhoto\"\n\n\
         [[renditions]]\nattribute = \"jpegPhoto\"\n\n[watcher]\nenabled = true\n"
    )
}
