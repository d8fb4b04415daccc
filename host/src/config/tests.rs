//! Each invalid configuration paired with the exact error it gets.

use super::*;

const VALID: &str = r#"
[nats]
url = "nats://127.0.0.1:4222"
[ldap]
url = "ldap://127.0.0.1:389"
bind-dn = "cn=photosync,dc=example,dc=test"
password = { env = "PHOTOSYNC_LDAP_PASSWORD" }
base-dn = "ou=People,dc=example,dc=test"
"#;

fn error_of(text: &str) -> String {
    Config::parse(text).expect_err("invalid").to_string()
}

#[test]
fn a_minimal_config_gets_the_defaults() {
    let c = Config::parse(VALID).expect("valid");
    assert_eq!(c.ldap.id_attribute, "entryUUID");
    assert_eq!(c.profiles().len(), 1);
    assert_eq!(c.profiles()[0].attribute, "thumbnailPhoto");
    let matcher = c.plugin_spec(Role::Matcher).expect("spec");
    assert_eq!(
        matcher.settings.get("patterns").map(String::as_str),
        Some("{employeeID}")
    );
    assert_eq!(format!("{:?}", c.ldap.password), "Some(***)");
}

/// `VALID` binding with Kerberos: no bind-dn or password, a `[ldap.kerberos]` table.
fn kerberos(table: &str) -> String {
    let without_password: String = VALID
        .lines()
        .filter(|l| !l.starts_with("bind-dn") && !l.starts_with("password"))
        .map(|l| format!("{l}\n"))
        .collect();
    format!("{without_password}[ldap.kerberos]\n{table}")
}

#[test]
fn a_kerberos_bind_needs_only_its_keytab() {
    let c =
        Config::parse(&kerberos("keytab = \"/etc/photosync/photosync.keytab\"\n")).expect("valid");
    let k = c.ldap.kerberos.expect("kerberos");
    assert_eq!(k.keytab, Path::new("/etc/photosync/photosync.keytab"));
    assert_eq!((k.principal, k.service_host), (None, None));
}

#[test]
fn each_invalid_config_gets_its_error() {
    let cases = [
        (
            VALID.replace("[ldap]", "[ldap]\ncolour = \"blue\""),
            "unknown field `colour`",
        ),
        (
            VALID.replace("nats://", "http://"),
            "nats.url: must start with nats:// or tls://",
        ),
        (
            VALID.replace("[ldap]", "replicas = 2\n[ldap]"),
            "nats.replicas: must be 1, 3 or 5",
        ),
        (
            VALID.replace("[ldap]", "inbox-prefix = \"_INBOX.>\"\n[ldap]"),
            "nats.inbox-prefix: must be 1 to 64 letters, digits, _ and -, e.g. _INBOX_worker",
        ),
        (
            VALID.replace("[ldap]", "prefix = \"Forest.B\"\n[ldap]"),
            "nats.prefix: must start with a lowercase letter (not \"Forest.B\")",
        ),
        (
            VALID.replace("[ldap]", "urls = [\"nats://127.0.0.2:4222\"]\n[ldap]"),
            "nats.urls: give nats.url or nats.urls, not both",
        ),
        (
            format!("{VALID}\n[log]\nformat = \"xml\"\n"),
            "log.format: must be text or json",
        ),
        (
            VALID.replace("ldap://127", "http://127"),
            "ldap.url: must start with ldap://, ldaps:// or ldapi://",
        ),
        (
            VALID.replace(
                "base-dn = \"ou=People,dc=example,dc=test\"",
                "base-dn = \"people\"",
            ),
            "ldap.base-dn: must be a DN",
        ),
        (
            format!("{VALID}filter = \"objectClass=person\""),
            "ldap.filter: must be an LDAP filter in parentheses",
        ),
        (
            format!("{VALID}page-size = 5000"),
            "ldap.page-size: must be 1 to 1000",
        ),
        (
            format!("{VALID}search-batch = 0"),
            "ldap.search-batch: must be 1 to 256",
        ),
        (
            format!("{VALID}[[renditions]]\nattribute = \"thumbnailPhoto\"\nfit = \"stretch\""),
            "renditions[0]: fit \"stretch\" is not crop, pad or contain",
        ),
        (
            format!(
                "{VALID}[[renditions]]\nattribute = \"jpegPhoto\"\nmin-quality = 95\nmax-quality = 90"
            ),
            "renditions[0]: qualities must satisfy",
        ),
        (
            VALID.replace("bind-dn = \"cn=photosync,dc=example,dc=test\"\n", ""),
            "ldap.bind-dn: is required, or bind with Kerberos: [ldap.kerberos]",
        ),
        (
            VALID.replace("password = { env = \"PHOTOSYNC_LDAP_PASSWORD\" }\n", ""),
            "ldap.password: is required with ldap.bind-dn",
        ),
        (
            format!("{VALID}[ldap.kerberos]\nkeytab = \"/etc/photosync.keytab\"\n"),
            "ldap.bind-dn: is not used with ldap.kerberos (the keytab names the account): remove it",
        ),
        (
            kerberos("keytab = \"/k\"\n").replace("ldap://127.0.0.1:389", "ldapi://%2Frun%2Fldapi"),
            "ldap.kerberos: needs an ldap:// or ldaps:// URL",
        ),
        (
            kerberos("keytab = \"\"\n"),
            "ldap.kerberos.keytab: must name the keytab file",
        ),
        (
            kerberos("keytab = \"/k\"\nprincipal = \" \"\n"),
            "ldap.kerberos.principal: must be a principal",
        ),
        (
            kerberos("keytab = \"/k\"\nservice-host = \"ldap/dc1\"\n"),
            "ldap.kerberos.service-host: must be the server's DNS name",
        ),
        (
            kerberos("keytab = \"/k\"\nrealm = \"X\"\n"),
            "unknown field `realm`",
        ),
        (
            format!("{VALID}tls-server-name = \"DC1.example.test\""),
            "ldap.tls-server-name: only applies to ldaps:// URLs or with ldap.starttls",
        ),
        (
            format!("{VALID}[[renditions]]\nattribute = \"thumbnailPhoto\"\nmax-bytes = 204800"),
            "renditions[0]: max-bytes of thumbnailPhoto must be at most 102400",
        ),
        (
            format!("{VALID}[plugins.matcher]\nsource = \"builtin:nope\""),
            "plugins.matcher.source: there is no builtin plugin \"nope\"",
        ),
        (
            format!(
                "{VALID}[plugins.matcher]\nsource = \"builtin:match-pattern\"\nsha256 = \"{}\"",
                "a".repeat(64)
            ),
            "plugins.matcher.sha256: a builtin plugin is part of the binary",
        ),
        (
            format!("{VALID}[plugins.matcher]\nsource = \"m.wasm\"\nsha256 = \"abc\""),
            "plugins.matcher.sha256: a SHA-256 is 64 hexadecimal digits",
        ),
        (
            format!("{VALID}[plugins.matcher]\nsource = \"nats:photosync-plugins\""),
            "plugins.matcher.source: \"nats:photosync-plugins\" names no object",
        ),
        (
            format!("{VALID}[plugins.matcher]\nsource = \"nats:bad.bucket/m.wasm\""),
            "is not a bucket and an object name",
        ),
        (
            format!("{VALID}[retention]\nevents = \"2 weeks\""),
            "retention.events: \"2 weeks\" is not a duration like 14d",
        ),
        (
            format!("{VALID}[retention]\nphotos = \"0d\""),
            "retention.photos: \"0d\" is not a duration",
        ),
        (
            format!("{VALID}[worker]\nconcurrency = 0"),
            "worker: concurrency and max-deliver must be at least 1",
        ),
    ];
    for (text, expected) in cases {
        let error = error_of(&text);
        assert!(
            error.contains(expected),
            "expected {expected:?}, got {error:?}"
        );
    }
}

#[test]
fn a_plugin_may_come_from_a_bucket_pinned_by_its_hash() {
    let pin = "0123456789abcdef".repeat(4);
    let text = format!(
        "{VALID}[plugins.matcher]\nsource = \"nats:photosync-plugins/matcher-hr.wasm\"\nsha256 = \"{pin}\"\n"
    );
    let spec = Config::parse(&text)
        .expect("valid")
        .plugin_spec(Role::Matcher)
        .expect("spec");
    assert_eq!(
        spec.source,
        plugins::Source::Object {
            bucket: "photosync-plugins".into(),
            name: "matcher-hr.wasm".into()
        }
    );
    assert_eq!(
        spec.source.to_string(),
        "nats:photosync-plugins/matcher-hr.wasm"
    );
    assert_eq!(spec.sha256.as_deref(), Some(pin.as_str()));
    assert_eq!(
        Config::parse(VALID)
            .expect("valid")
            .plugins
            .reload_check_secs,
        5
    );
}

#[test]
fn secrets_name_their_source_never_their_value() {
    let missing = Secret {
        file: None,
        env: Some("PHOTOSYNC_TEST_UNSET_VARIABLE".into()),
    };
    assert_eq!(
        missing.resolve().expect_err("unset").to_string(),
        "the environment variable PHOTOSYNC_TEST_UNSET_VARIABLE is not set"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("pw");
    std::fs::write(&file, "hunter2\n").expect("write");
    let secret = Secret {
        file: Some(file),
        env: None,
    };
    assert_eq!(secret.resolve().expect("readable"), "hunter2");
    assert!(!format!("{secret:?}").contains("hunter2"));
}
