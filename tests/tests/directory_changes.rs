//! Directory-change events against a real slapd with the syncprov overlay and a real NATS: a
//! photo waiting for a new person is written when they are added; photo changes made by others
//! flow out once, photosync's own writes do not echo; a restarted watcher misses nothing and
//! repeats nothing; `export --all` publishes everyone's photo.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use base64::Engine as _;
use photosync::events::{ChangeCause, DirectoryChange, Outcome, PhotoChanged, PhotoRef};
use photosync::plugins::jpeg::inspect;
use photosync::text::md5_hex;
use photosync_tests::fixtures::{JpegOptions, jpeg, photo_like};
use photosync_tests::names::{CHANGES_STREAM, DIRECTORY_CHANGED, EVENTS_STREAM, PHOTO_CHANGED};
use photosync_tests::servers::{LdapServer, PEOPLE_DN, Person};
use photosync_tests::stack::{Account, Stack};
use photosync_tests::wait::eventually;

fn small_jpeg(seed: u32) -> Vec<u8> {
    jpeg(&photo_like(64, 64, seed), JpegOptions::default())
}

/// The id of the directory-change event the watcher publishes for an entry's latest change.
fn change_id(ldap: &LdapServer, dn: &str) -> String {
    let entry = ldap.read(dn, "entryUUID");
    let uuid = String::from_utf8(entry.values[0].clone()).expect("uuid");
    format!("{uuid}/{}", entry.entry_csn)
}

fn replace_photo(ldap: &LdapServer, dn: &str, photo: &[u8]) {
    ldap.modify_ldif(&format!(
        "dn: {dn}\nchangetype: modify\nreplace: thumbnailPhoto\nthumbnailPhoto:: {}\n",
        base64::engine::general_purpose::STANDARD.encode(photo)
    ));
}

#[test]
fn a_photo_waiting_for_a_new_person_is_written_when_they_are_added() {
    let mut stack = Stack::start();
    let watcher = stack.start_watcher();
    let id = stack.publish(
        "77777.jpg",
        &jpeg(&photo_like(1200, 900, 7), JpegOptions::default()),
        &[],
    );
    let early = stack.result(&id);
    assert_eq!(early.outcome, Outcome::NoMatch, "{early:?}");
    let grace = Person::new("grace", "Grace", "Hopper", Some("77777"));
    stack.ldap.add_people(std::slice::from_ref(&grace));
    let result = stack.result_matching("grace's photo written", |r| {
        r.entry_dn.as_deref() == Some(grace.dn().as_str()) && r.outcome == Outcome::Written
    });
    assert_eq!(result.file_name.as_deref(), Some("77777.jpg"));
    let stored = stack.ldap.read(&grace.dn(), "thumbnailPhoto");
    let info = inspect(&stored.values[0]).expect("a JPEG");
    assert_eq!((info.width, info.height), (96, 96));
    assert!(stored.values[0].len() <= 10 * 1024);
    watcher.stop();
}

#[test]
fn photo_changes_by_others_are_published_once_and_own_writes_are_not() {
    let mut stack = Stack::start();
    let ada = Person::new("ada", "Ada", "Lovelace", Some("12345"));
    stack.ldap.add_people(std::slice::from_ref(&ada));
    let watcher = stack.start_watcher();
    let mut changed = stack.subscribe::<PhotoChanged>(PHOTO_CHANGED);

    // photosync's own write: the directory change it causes is recognised, nothing goes out.
    let id = stack.publish(
        "12345.jpg",
        &jpeg(&photo_like(800, 600, 1), JpegOptions::default()),
        &[],
    );
    assert_eq!(stack.result(&id).outcome, Outcome::Written);
    let own = change_id(&stack.ldap, &ada.dn());
    let r = stack.result(&own);
    assert_eq!(r.outcome, Outcome::Unchanged, "{r:?}");
    assert!(
        changed.received().is_empty(),
        "own write echoed: {:?}",
        changed.received()
    );

    // Someone else's photo: exactly one event with its MD5 and bytes.
    let theirs = small_jpeg(2);
    replace_photo(&stack.ldap, &ada.dn(), &theirs);
    let r = stack.result(&change_id(&stack.ldap, &ada.dn()));
    assert!(
        r.reason
            .as_deref()
            .unwrap_or_default()
            .contains("changed in the directory"),
        "{r:?}"
    );
    let event = changed.wait_for("the photo-changed event", |_| true);
    assert_eq!(event.md5.as_deref(), Some(md5_hex(&theirs).as_str()));
    assert_eq!(event.attribute, "thumbnailPhoto");
    assert_eq!(event.dn, ada.dn());
    assert_eq!(event.cause, ChangeCause::Directory);
    let Some(PhotoRef::Inline(b64)) = &event.photo else {
        panic!("an inline photo: {event:?}")
    };
    assert_eq!(
        base64::engine::general_purpose::STANDARD.decode(b64).ok(),
        Some(theirs.clone())
    );

    // The same bytes written again: a directory change, but no photo change.
    replace_photo(&stack.ldap, &ada.dn(), &theirs);
    let r = stack.result(&change_id(&stack.ldap, &ada.dn()));
    assert_eq!(r.outcome, Outcome::Unchanged, "{r:?}");
    assert_eq!(changed.received().len(), 1, "{:?}", changed.received());

    // The person's own photo is not undone by the unchanged source photo sent again.
    let again = stack.publish(
        "12345.jpg",
        &jpeg(&photo_like(800, 600, 1), JpegOptions::default()),
        &[],
    );
    assert_eq!(stack.result(&again).outcome, Outcome::Unchanged);
    assert_eq!(
        stack.ldap.read(&ada.dn(), "thumbnailPhoto").values,
        vec![theirs]
    );
    watcher.stop();
}

#[test]
fn the_watcher_restarted_mid_stream_misses_nothing_and_repeats_nothing() {
    let stack = Stack::start();
    let people: Vec<Person> = (0..300)
        .map(|i| Person::new(&format!("w{i}"), "Wanda", &format!("Watch{i}"), None))
        .collect();
    stack.ldap.add_people(&people);
    let watcher = stack.start_watcher();
    let modify = |range: std::ops::Range<usize>| {
        let mut ldif = String::new();
        for p in &people[range] {
            let _ = write!(
                ldif,
                "dn: {}\nchangetype: modify\nreplace: description\ndescription: changed\n\n",
                p.dn()
            );
        }
        ldif
    };
    let stored_changes = || stack.stored::<DirectoryChange>(EVENTS_STREAM, DIRECTORY_CHANGED);
    // A stream of changes; the watcher is stopped once some have been published and started
    // again while the rest are still being made.
    let ldap = &stack.ldap;
    std::thread::scope(|s| {
        let first = modify(0..150);
        let writer = s.spawn(move || ldap.modify_ldif(&first));
        eventually(
            std::time::Duration::from_secs(30),
            "some changes published",
            || (stored_changes().len() >= 20).then_some(()),
        );
        watcher.stop();
        writer.join().expect("first changes made");
    });
    let watcher = stack.start_watcher();
    stack.ldap.modify_ldif(&modify(150..300));
    let sentinel = &people[0];
    stack.ldap.modify_ldif(&format!(
        "dn: {}\nchangetype: modify\nreplace: description\ndescription: last\n",
        sentinel.dn()
    ));
    let last = change_id(&stack.ldap, &sentinel.dn());
    let all = eventually(
        std::time::Duration::from_secs(60),
        "the sentinel change",
        || {
            let all = stored_changes();
            all.iter().any(|c| c.id == last).then_some(all)
        },
    );
    watcher.stop();
    let ids: BTreeSet<&str> = all.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids.len(), all.len(), "no change published twice");
    assert_eq!(all.len(), 301, "every change published once");
    let entries: BTreeSet<&str> = all.iter().map(|c| c.dn.as_str()).collect();
    assert_eq!(entries.len(), 300);
}

#[test]
fn export_all_publishes_the_photo_of_every_entry_in_scope() {
    let stack = Stack::start();
    let photo = small_jpeg(5);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&photo);
    let mut ldif = String::new();
    for i in 0..2500 {
        let _ = write!(
            ldif,
            "dn: uid=e{i},{PEOPLE_DN}\nobjectClass: inetOrgPerson\nobjectClass: photosyncADUser\nuid: e{i}\ncn: E {i}\nsn: E{i}\nthumbnailPhoto:: {b64}\n\n"
        );
    }
    stack.ldap.add_ldif(&ldif);
    let config = stack.config(Account::Service);
    let (entries, events) = stack
        .rt
        .block_on(photosync::service::export_all(&config))
        .expect("export");
    assert_eq!((entries, events), (2500, 2500));
    let stored = stack.stored::<PhotoChanged>(CHANGES_STREAM, PHOTO_CHANGED);
    assert_eq!(stored.len(), 2500);
    let dns: BTreeSet<&str> = stored.iter().map(|e| e.dn.as_str()).collect();
    assert_eq!(dns.len(), 2500, "one event per entry");
    let md5 = md5_hex(&photo);
    assert!(
        stored
            .iter()
            .all(|e| e.md5.as_deref() == Some(md5.as_str()) && e.cause == ChangeCause::Export)
    );
}
