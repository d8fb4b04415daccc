//! photosync against a real Samba Active Directory domain controller.

use photosync_tests::servers::{AdUser, SambaDc};

#[test]
fn samba_dc_starts() {
    let dc = SambaDc::start();
    dc.add_users(&[AdUser::new("ada", Some("12345"))]);
    assert!(dc.read(&AdUser::new("ada", None).dn(), "employeeID") == vec![b"12345".to_vec()]);
}
