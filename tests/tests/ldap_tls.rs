//! LDAP transports against a real slapd: over TLS with a certificate from a private CA, LDAPS and
//! StartTLS work with the CA file, and without it the error names the option to set; `ldapi://`
//! reaches the server's Unix domain socket.

use photosync::config::{LdapConfig, Secret};
use photosync::directory::{Directory, DirectoryError};
use photosync::plugins::Criterion;
use photosync_tests::servers::{LdapServer, PEOPLE_DN, Person};

fn config(ldap: &LdapServer, url: String, starttls: bool, ca: bool) -> LdapConfig {
    let (bind_dn, _) = ldap.service_account();
    LdapConfig {
        url,
        starttls,
        ca_file: ca.then(|| ldap.ca_file()),
        tls_server_name: None,
        bind_dn: Some(bind_dn.into()),
        password: Some(Secret {
            file: None,
            env: Some("UNUSED".into()),
        }),
        kerberos: None,
        base_dn: PEOPLE_DN.into(),
        filter: "(objectClass=inetOrgPerson)".into(),
        id_attribute: "entryUUID".into(),
        page_size: 100,
        search_batch: 64,
        timeout_secs: 10,
    }
}

fn directory(ldap: &LdapServer, url: String, starttls: bool, ca: bool) -> Directory {
    Directory::new(
        config(ldap, url, starttls, ca),
        ldap.service_account().1.into(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn ldaps_and_starttls_work_with_the_ca_file_and_ldapi_through_the_socket() {
    let ldap = LdapServer::start_tls();
    let ada = Person::new("ada", "Ada", "Lovelace", Some("12345"));
    ldap.add_people(std::slice::from_ref(&ada));
    for (label, dir) in [
        ("ldaps", directory(&ldap, ldap.ldaps_url(), false, true)),
        ("starttls", directory(&ldap, ldap.url(), true, true)),
        ("ldapi", directory(&ldap, ldap.ldapi_url(), false, false)),
    ] {
        dir.check().await.unwrap_or_else(|e| panic!("{label}: {e}"));
        let criteria = [Criterion {
            attribute: "employeeID".into(),
            value: "12345".into(),
        }];
        let found = dir
            .find(&criteria, &["thumbnailPhoto".into()])
            .await
            .expect("search");
        assert_eq!(found.total, 1, "{label}");
        let photo = format!("\u{ff}\u{d8} {label}").into_bytes();
        dir.replace(&ada.dn(), &[("thumbnailPhoto".into(), photo.clone())])
            .await
            .unwrap_or_else(|e| panic!("{label}: write: {e}"));
        assert_eq!(ldap.read(&ada.dn(), "thumbnailPhoto").values, vec![photo]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untrusted_certificate_names_the_ca_file_option() {
    let ldap = LdapServer::start_tls();
    for url in [ldap.ldaps_url()] {
        let err = directory(&ldap, url, false, false)
            .check()
            .await
            .expect_err("refused");
        assert!(matches!(err, DirectoryError::Untrusted { .. }), "{err:?}");
        assert!(err.to_string().contains("ldap.ca-file"), "{err}");
    }
    let err = directory(&ldap, ldap.url(), true, false)
        .check()
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("ldap.ca-file"), "{err}");
}
