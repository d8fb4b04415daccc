//! The harness itself: servers start on free ports, hold data, and go away.

use photosync_tests::servers::{LdapServer, NatsServer, Person};

#[test]
fn slapd_starts_with_people_and_photo_attributes() {
    let ldap = LdapServer::start();
    let ada = Person::new("ada", "Ada", "Lovelace", Some("12345"));
    ldap.add_people(std::slice::from_ref(&ada));
    let entry = ldap.read(&ada.dn(), "employeeID");
    assert_eq!(entry.values, vec![b"12345".to_vec()]);
    assert!(!entry.entry_csn.is_empty());
}

#[test]
fn nats_server_listens_and_restarts() {
    let mut nats = NatsServer::start();
    let url = nats.url();
    assert!(std::net::TcpStream::connect(url.trim_start_matches("nats://")).is_ok());
    nats.restart();
    assert!(std::net::TcpStream::connect(url.trim_start_matches("nats://")).is_ok());
}
