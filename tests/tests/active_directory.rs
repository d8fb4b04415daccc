//! photosync against a real Samba Active Directory domain controller, started fresh for each test
//! in its own network namespace: binding as a user principal name over LDAPS with the DC's own
//! certificate, objectGUID ids, matching on employeeID and sAMAccountName, paged searches over
//! more than 1000 entries, thumbnailPhoto's 102400-byte limit, and AD's errors in plain words.

use photosync::config::{LdapConfig, Secret};
use photosync::directory::{Directory, DirectoryError};
use std::path::{Path, PathBuf};
use std::time::Duration;

use photosync::events::{DirectoryChange, Outcome, PhotoChanged, PhotoResult};
use photosync::plugins::jpeg::inspect;
use photosync::text::md5_hex;
use photosync_tests::fixtures::{JpegOptions, jpeg, photo_like};
use photosync_tests::names::{DIRECTORY_CHANGED, EVENTS_STREAM, PHOTO_CHANGED};
use photosync_tests::plugins::test_plugin;
use photosync_tests::servers::{AD_BASE_DN, AD_DC_NAME, AD_STAFF_DN, AdUser, SambaDc};
use photosync_tests::stack::{Account, Stack, photosync_binary};
use photosync_tests::wait::eventually;

fn photo(seed: u32) -> Vec<u8> {
    jpeg(&photo_like(320, 240, seed), JpegOptions::default())
}

/// The written thumbnailPhoto read back from the DC is exactly the value the result describes.
fn assert_written(stack: &Stack<SambaDc>, result: &PhotoResult, user: &AdUser) {
    assert_eq!(result.outcome, Outcome::Written, "{result:?}");
    assert_eq!(result.entry_dn.as_deref(), Some(user.dn().as_str()));
    let values = stack.ldap.read(&user.dn(), "thumbnailPhoto");
    assert_eq!(values.len(), 1, "one thumbnailPhoto on {}", user.dn());
    assert_eq!(
        result.attributes[0].digest.as_deref(),
        Some(md5_hex(&values[0]).as_str()),
        "the bytes read back are the bytes written"
    );
    let info = inspect(&values[0]).expect("a JPEG");
    assert_eq!((info.width, info.height), (96, 96));
    assert!(info.baseline && !info.has_metadata());
}

#[test]
fn users_matched_by_employee_id_and_by_sam_account_name_get_their_photos() {
    let mut stack = Stack::start_samba();
    let ada = AdUser::new("ada.lovelace", Some("12345"));
    let grace = AdUser::new("grace.hopper", None);
    stack.ldap.add_users(&[ada.clone(), grace.clone()]);

    let by_id = stack.publish("12345.jpg", &photo(1), &[]);
    let by_name = stack.publish("Grace.Hopper.jpg", &photo(2), &[]);
    let result = stack.result(&by_id);
    assert_written(&stack, &result, &ada);
    // objectGUID in its standard string form, the same as the DC's own.
    let guid = stack.ldap.object_guid(&ada);
    assert_eq!(result.entry_id.as_deref(), Some(guid.as_str()));
    let result = stack.result(&by_name);
    assert_written(&stack, &result, &grace);

    // The same photo again is not rewritten.
    let again = stack.publish("12345.jpg", &photo(1), &[]);
    assert_eq!(stack.result(&again).outcome, Outcome::Unchanged);
}

#[test]
fn fifteen_hundred_users_are_synced_and_exported_through_paged_searches() {
    const USERS: usize = 1500;
    let mut stack = Stack::start_samba();
    let users: Vec<AdUser> = (0..USERS)
        .map(|i| AdUser::new(&format!("user{i:04}"), Some(&format!("{}", 100_000 + i))))
        .collect();
    stack.ldap.add_users(&users);
    let small = jpeg(&photo_like(120, 120, 7), JpegOptions::default());
    let ids: Vec<String> = users
        .iter()
        .map(|u| {
            let file = format!("{}.jpg", u.employee_id.as_deref().unwrap_or_default());
            stack.publish(&file, &small, &[])
        })
        .collect();
    for id in &ids {
        let result = stack.result_where(id, |r| r.is_final);
        assert_eq!(result.outcome, Outcome::Written, "{result:?}");
    }
    for user in [&users[0], &users[999], &users[1000], &users[USERS - 1]] {
        assert_eq!(stack.ldap.read(&user.dn(), "thumbnailPhoto").len(), 1);
    }
    // Every entry in scope, past the 1000 a single unpaged search would return.
    let config = stack.config(photosync_tests::stack::Account::Service);
    let (entries, published) = stack
        .rt
        .block_on(photosync::service::export_all(&config))
        .expect("export");
    assert_eq!((entries, published), (USERS, USERS));
}

#[test]
fn an_oversize_value_never_reaches_the_dc_and_a_refusal_is_plain() {
    let mut stack = Stack::start_samba();
    let ada = AdUser::new("ada", Some("12345"));
    stack.ldap.add_users(std::slice::from_ref(&ada));
    // A transformer that answers with a JPEG one byte over thumbnailPhoto's 102400.
    let mut config = stack.config(photosync_tests::stack::Account::Service);
    let plugin = config
        .plugins
        .transformer
        .get_or_insert_with(Default::default);
    plugin.source = Some(test_plugin("hostile").display().to_string());
    plugin.settings.insert("mode".into(), "oversize".into());
    // Two deliveries show the retry; five would only wait out longer backoffs.
    config.worker.max_deliver = 2;
    stack.start_service_with(config);
    let id = stack.publish("12345.jpg", &photo(1), &[]);
    let result = stack.result_where(&id, |r| r.is_final);
    assert_eq!(result.outcome, Outcome::Failed, "{result:?}");
    let reason = result.reason.unwrap_or_default();
    assert!(
        reason.contains("102401 bytes, over the profile's limit of 102400"),
        "{reason}"
    );
    assert!(stack.ldap.read(&ada.dn(), "thumbnailPhoto").is_empty());

    // Written directly, past photosync's checks, the DC's refusal reads plainly.
    let directory = directory(&stack.ldap, Some(AD_DC_NAME), true);
    let err = stack
        .rt
        .block_on(directory.replace(&ada.dn(), &[("thumbnailPhoto".into(), vec![0xff; 102_401])]))
        .expect_err("refused");
    let text = err.to_string();
    assert!(text.contains("above 102400 bytes"), "{text}");
    assert!(text.contains(&ada.dn()), "{text}");
}

/// The stack's configuration binding with Kerberos from `keytab` as `principal` instead of a
/// password: over LDAPS with the DC's CA when `tls`, else over plain `ldap://`.
fn kerberos_config(stack: &Stack<SambaDc>, keytab: &Path, principal: &str, tls: bool) -> String {
    let password_only = ["bind-dn ", "password "];
    let tls_only = ["ca-file ", "tls-server-name "];
    let mut text = String::new();
    for line in stack.config_text(Account::Service, "").lines() {
        if password_only
            .iter()
            .chain(if tls { &[][..] } else { &tls_only[..] })
            .any(|k| line.starts_with(k))
        {
            continue;
        }
        match line.strip_prefix("url = \"ldaps://") {
            Some(_) if !tls => text.push_str(&format!("url = \"{}\"", stack.ldap.ldap_url())),
            _ => text.push_str(line),
        }
        text.push('\n');
    }
    text.push_str(&format!(
        "\n[ldap.kerberos]\nkeytab = \"{}\"\nprincipal = \"{principal}\"\n\
         service-host = \"{}\"\n",
        keytab.display(),
        AD_DC_NAME.to_ascii_lowercase()
    ));
    text
}

/// A keytab for the service account, a krb5.conf for the DC's KDC, and the environment that
/// gives photosync both; the login's default cache is a file photosync must not create.
struct Kerberos {
    dir: tempfile::TempDir,
    keytab: PathBuf,
    principal: String,
    krb5_conf: PathBuf,
}

impl Kerberos {
    fn of(dc: &SambaDc) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let keytab = dir.path().join("photosync.keytab");
        let principal = dc.export_service_keytab(&keytab);
        Self {
            krb5_conf: dc.krb5_conf(),
            dir,
            keytab,
            principal,
        }
    }

    fn default_cache(&self) -> PathBuf {
        self.dir.path().join("krb5cc_login")
    }

    fn env(&self) -> Vec<(&'static str, PathBuf)> {
        vec![
            ("KRB5_CONFIG", self.krb5_conf.clone()),
            ("KRB5CCNAME", self.default_cache()),
        ]
    }

    /// Runs a worker with `config` until it writes `user`'s photo, then stops it.
    fn sync_one(&self, stack: &mut Stack<SambaDc>, name: &str, config: &str, user: &AdUser) {
        let env = self.env();
        let env: Vec<(&str, &Path)> = env.iter().map(|(k, v)| (*k, v.as_path())).collect();
        let mut worker = stack.start_worker_with(name, config, &env);
        let file = format!(
            "{}.jpg",
            user.employee_id.as_deref().expect("an employee id")
        );
        let id = stack.publish(&file, &photo(1), &[]);
        let result = stack.result_where(&id, |r| r.is_final);
        assert_written(stack, &result, user);
        assert!(worker.terminate(), "the worker stops: {}", worker.log());
        assert!(
            !self.default_cache().exists(),
            "the tickets stayed in photosync's own cache"
        );
    }
}

#[test]
fn kerberos_binds_from_a_keytab_and_seals_plain_ldap_where_passwords_need_tls() {
    let mut stack = Stack::start_samba();
    stack.stop_service();
    let ada = AdUser::new("ada", Some("12345"));
    stack.ldap.add_users(std::slice::from_ref(&ada));
    let k = Kerberos::of(&stack.ldap);
    // Plain ldap://, where this DC refuses a password (strong auth required): Kerberos binds
    // and seals the connection.
    let plain = kerberos_config(&stack, &k.keytab, &k.principal, false);
    k.sync_one(&mut stack, "kerberos-plain", &plain, &ada);

    // What an operator gets wrong, each refused with what to fix: a principal the keytab does
    // not hold, a DC name that is not the DC's, and LDAPS on a Samba that wants Kerberos to
    // seal even over TLS.
    let wrong = k.dir.path().join("wrong.toml");
    for (config, expected) in [
        (
            kerberos_config(&stack, &k.keytab, "nobody@EXAMPLE.TEST", false),
            "ldap.kerberos.principal",
        ),
        (
            plain.replace(&AD_DC_NAME.to_ascii_lowercase(), "dc9.example.test"),
            "Server not found in Kerberos database",
        ),
        (
            kerberos_config(&stack, &k.keytab, &k.principal, true),
            "use an ldap:// URL without StartTLS",
        ),
    ] {
        std::fs::write(&wrong, config).expect("config");
        let out = std::process::Command::new(photosync_binary())
            .args(["export", "--all", "--config"])
            .arg(&wrong)
            .envs(k.env())
            .output()
            .expect("photosync export runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(stderr.contains(expected), "{expected}: {stderr}");
        assert!(stderr.contains("check ldap.kerberos") || stderr.contains("without StartTLS"));
    }
}

#[test]
fn kerberos_over_ldaps_is_bound_to_the_tls_channel() {
    let dc = SambaDc::start_with("ldap server require strong auth = allow_sasl_over_tls");
    let mut stack = Stack::start_on(dc, Account::Service);
    stack.stop_service();
    let bob = AdUser::new("bob", Some("23456"));
    stack.ldap.add_users(std::slice::from_ref(&bob));
    let k = Kerberos::of(&stack.ldap);
    let tls = kerberos_config(&stack, &k.keytab, &k.principal, true);
    k.sync_one(&mut stack, "kerberos-tls", &tls, &bob);
}

fn ad_config(dc: &SambaDc, bind_name: String, server_name: Option<&str>, ca: bool) -> LdapConfig {
    LdapConfig {
        url: dc.ldaps_url(),
        starttls: false,
        ca_file: ca.then(|| dc.ca_file()),
        tls_server_name: server_name.map(Into::into),
        bind_dn: Some(bind_name),
        password: Some(Secret {
            file: None,
            env: Some("UNUSED".into()),
        }),
        kerberos: None,
        base_dn: AD_STAFF_DN.into(),
        filter: "(objectClass=user)".into(),
        id_attribute: "objectGUID".into(),
        page_size: 500,
        search_batch: 64,
        timeout_secs: 10,
    }
}

fn directory(dc: &SambaDc, server_name: Option<&str>, ca: bool) -> Directory {
    let (upn, password) = dc.service_account();
    Directory::new(ad_config(dc, upn, server_name, ca), password.into())
}

#[test]
fn ldaps_trusts_the_dcs_own_certificate_through_the_ca_file_and_explains_refusals() {
    let dc = SambaDc::start();
    let rt = tokio::runtime::Runtime::new().expect("tokio");
    // The three bind name forms work with the CA file and the DC's name.
    let (upn, password) = dc.service_account();
    for name in [upn, dc.service_dn(), "EXAMPLE\\svc-photo".to_owned()] {
        let d = Directory::new(
            ad_config(&dc, name.clone(), Some(AD_DC_NAME), true),
            password.into(),
        );
        rt.block_on(d.check())
            .unwrap_or_else(|e| panic!("bind as {name}: {e}"));
    }
    // A search from the domain's root: AD adds referrals to other partitions; they are ignored.
    dc.add_users(&[AdUser::new("ada", Some("12345"))]);
    let mut root = ad_config(&dc, dc.service_dn(), Some(AD_DC_NAME), true);
    root.base_dn = AD_BASE_DN.into();
    let found = rt
        .block_on(Directory::new(root, password.into()).find(
            &[photosync::plugins::Criterion {
                attribute: "employeeID".into(),
                value: "12345".into(),
            }],
            &[],
        ))
        .expect("a search with referrals");
    assert_eq!(found.total, 1);
    assert_eq!(
        found.entries[0].id,
        dc.object_guid(&AdUser::new("ada", None))
    );
    // StartTLS on the plain port works too; a password without TLS is refused in plain words.
    let mut starttls = ad_config(&dc, dc.service_dn(), Some(AD_DC_NAME), true);
    starttls.url = dc.ldap_url();
    starttls.starttls = true;
    rt.block_on(Directory::new(starttls.clone(), password.into()).check())
        .expect("StartTLS");
    let mut plain = starttls;
    plain.starttls = false;
    plain.tls_server_name = None;
    let err = rt
        .block_on(Directory::new(plain, password.into()).check())
        .expect_err("refused without TLS");
    assert!(
        err.to_string()
            .contains("use ldaps:// or set ldap.starttls = true"),
        "{err}"
    );
    // Without the CA file: not trusted, and the message names the option.
    let err = rt
        .block_on(directory(&dc, Some(AD_DC_NAME), false).check())
        .expect_err("untrusted");
    assert!(matches!(err, DirectoryError::Untrusted { .. }), "{err:?}");
    assert!(err.to_string().contains("ldap.ca-file"), "{err}");
    // Trusted, but the URL's 127.0.0.1 is not the certificate's name.
    let err = rt
        .block_on(directory(&dc, None, true).check())
        .expect_err("wrong name");
    assert!(err.to_string().contains("ldap.tls-server-name"), "{err}");
    // A wrong password: AD's "data 52e" in words, the password nowhere.
    let (upn, _) = dc.service_account();
    let wrong = Directory::new(
        ad_config(&dc, upn, Some(AD_DC_NAME), true),
        "not-the-Passw0rd".into(),
    );
    let err = rt.block_on(wrong.check()).expect_err("refused");
    let text = err.to_string();
    assert!(
        text.contains("the account name or the password is wrong"),
        "{text}"
    );
    assert!(!text.contains("not-the-Passw0rd"), "{text}");
    // Writing where the service account has no delegation: the right to grant is named.
    let admin = format!("CN=Administrator,CN=Users,{AD_BASE_DN}");
    let err = rt
        .block_on(
            directory(&dc, Some(AD_DC_NAME), true)
                .replace(&admin, &[("thumbnailPhoto".into(), photo(1))]),
        )
        .expect_err("no right");
    assert!(err.to_string().contains("Write thumbnailPhoto"), "{err}");
}

/// A stack whose service also runs the watcher in `usn` mode, polling every second.
fn watching_stack() -> Stack<SambaDc> {
    let mut stack = Stack::start_samba();
    let mut config = stack.config(photosync_tests::stack::Account::Service);
    config.watcher.enabled = true;
    config.watcher.mode = "usn".into();
    config.watcher.poll_secs = 1;
    stack.start_service_with(config);
    stack.wait_for_watcher();
    stack
}

#[test]
fn the_usn_watcher_gives_a_new_user_the_waiting_photo_and_publishes_changed_photos() {
    let mut stack = watching_stack();
    let mut changed = stack.subscribe::<PhotoChanged>(PHOTO_CHANGED);

    // A photo for nobody yet; then the user arrives and gets it, with no new upload.
    let id = stack.publish("77777.jpg", &photo(7), &[]);
    assert_eq!(stack.result(&id).outcome, Outcome::NoMatch);
    let newcomer = AdUser::new("new.joiner", Some("77777"));
    stack.ldap.add_users(std::slice::from_ref(&newcomer));
    let dn = newcomer.dn();
    let written = stack.result_matching("the waiting photo written", |r| {
        r.outcome == Outcome::Written && r.entry_dn.as_deref() == Some(dn.as_str())
    });
    assert_written(&stack, &written, &newcomer);

    // An administrator replaces the photo: one photo-changed event with the new MD5.
    let theirs = jpeg(&photo_like(96, 96, 8), JpegOptions::default());
    stack.ldap.replace_photo(&dn, &theirs);
    let event = changed.wait_for("the photo-changed event", |_| true);
    assert_eq!(event.md5.as_deref(), Some(md5_hex(&theirs).as_str()));
    assert_eq!(event.dn, dn);
    assert_eq!(event.entry_id, stack.ldap.object_guid(&newcomer));

    assert_eq!(changed.received().len(), 1, "{:?}", changed.received());
}

#[test]
fn a_deleted_user_is_forgotten_by_a_watcher_that_may_see_deleted_objects() {
    let mut stack = Stack::start_samba();
    let ada = AdUser::new("ada", Some("12345"));
    stack.ldap.add_users(std::slice::from_ref(&ada));
    let id = stack.publish("12345.jpg", &photo(1), &[]);
    let entry_id = stack.result(&id).entry_id.expect("the entry's id");
    let state = |stack: &Stack<SambaDc>| {
        stack
            .rt
            .block_on(photosync::state::load(&stack.bus, &entry_id))
            .expect("state readable")
    };
    assert!(state(&stack).is_some());
    // Tombstones are only visible to accounts allowed to list CN=Deleted Objects.
    let mut config = stack.config(photosync_tests::stack::Account::Admin);
    config.watcher.mode = "usn".into();
    config.watcher.poll_secs = 1;
    let watcher = stack.start_watcher_with(config);
    stack.ldap.delete(&ada.dn());
    eventually(
        Duration::from_secs(30),
        "the deleted user's state to go",
        || state(&stack).is_none().then_some(()),
    );
    watcher.stop();
}

#[test]
fn a_changed_invocation_id_makes_the_usn_watcher_rescan_everyone() {
    let users: Vec<AdUser> = (0..40)
        .map(|i| AdUser::new(&format!("rescan{i:02}"), None))
        .collect();
    let stack = Stack::start_samba();
    stack.ldap.add_users(&users);
    let mut config = stack.config(photosync_tests::stack::Account::Service);
    config.watcher.mode = "usn".into();
    config.watcher.poll_secs = 1;
    // The first watch takes the directory as it is: nothing is published.
    let watcher = stack.start_watcher_with(config.clone());
    watcher.stop();
    assert!(
        stack
            .stored::<DirectoryChange>(EVENTS_STREAM, DIRECTORY_CHANGED)
            .is_empty()
    );

    // The saved place now names another invocationId, as after a restore from backup.
    // The DC's place (the other key only says the directory has been watched).
    let key = stack
        .watcher_keys()
        .into_iter()
        .max_by_key(String::len)
        .expect("the DC's place");
    let place = stack
        .rt
        .block_on(stack.bus.state().get(&key))
        .expect("kv")
        .expect("place");
    let mut place: serde_json::Value = serde_json::from_slice(&place).expect("json");
    place["invocation_id"] = "00000000-0000-0000-0000-000000000001".into();
    stack
        .rt
        .block_on(
            stack
                .bus
                .state()
                .put(&key, serde_json::to_vec(&place).expect("json").into()),
        )
        .expect("planted");
    let watcher = stack.start_watcher_with(config);
    let events = eventually(Duration::from_secs(30), "a rescan of every user", || {
        let events = stack.stored::<DirectoryChange>(EVENTS_STREAM, DIRECTORY_CHANGED);
        (events.len() >= users.len()).then_some(events)
    });
    watcher.stop();
    let mut dns: Vec<String> = events.iter().map(|e| e.dn.clone()).collect();
    dns.sort();
    let mut expected: Vec<String> = users.iter().map(AdUser::dn).collect();
    expected.sort();
    assert_eq!(dns, expected);
}
