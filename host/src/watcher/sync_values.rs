//! The RFC 4533 values the watcher reads (Sync State control, Sync Info message, Sync Done
//! control), decoded by [`crate::ber`]. These bytes come from the network: anything malformed is
//! an error the watcher logs and survives, never a panic.

pub use crate::ber::BerError;
use crate::ber::{
    BOOLEAN, ENUMERATED, OCTET_STRING, SEQUENCE, SET, bad, boolean, only, read, read_all,
};

/// An entry's state in the Sync State control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryState {
    Present,
    Add,
    Modify,
    Delete,
}

/// The Sync State control sent with each entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncState {
    pub state: EntryState,
    pub entry_uuid: [u8; 16],
    pub cookie: Option<Vec<u8>>,
}

/// Decodes a Sync State control value.
pub fn sync_state(value: &[u8]) -> Result<SyncState, BerError> {
    const WHAT: &str = "sync state control";
    let fields = read_all(only(value, SEQUENCE, WHAT)?, WHAT)?;
    let (state, uuid, cookie) = match fields.as_slice() {
        [state, uuid] => (state, uuid, None),
        [state, uuid, cookie] => (state, uuid, Some(cookie)),
        _ => return Err(bad(WHAT, "wrong number of fields")),
    };
    if state.tag != ENUMERATED || uuid.tag != OCTET_STRING {
        return Err(bad(WHAT, "unexpected field type"));
    }
    let state = match state.value {
        [0] => EntryState::Present,
        [1] => EntryState::Add,
        [2] => EntryState::Modify,
        [3] => EntryState::Delete,
        _ => return Err(bad(WHAT, "unknown state")),
    };
    let entry_uuid: [u8; 16] = uuid
        .value
        .try_into()
        .map_err(|_| bad(WHAT, "entryUUID is not 16 bytes"))?;
    let cookie = match cookie {
        Some(c) if c.tag == OCTET_STRING => Some(c.value.to_vec()),
        Some(_) => return Err(bad(WHAT, "cookie is not an octet string")),
        None => None,
    };
    Ok(SyncState {
        state,
        entry_uuid,
        cookie,
    })
}

/// The Sync Info intermediate message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncInfo {
    NewCookie(Vec<u8>),
    /// The end (when `done`) of the refresh stage's delete or present phase.
    RefreshEnd {
        cookie: Option<Vec<u8>>,
        done: bool,
    },
    /// Entries identified only by UUID: deleted ones when `deletes`, else present ones.
    IdSet {
        cookie: Option<Vec<u8>>,
        deletes: bool,
        uuids: Vec<[u8; 16]>,
    },
}

/// Decodes a Sync Info message value.
pub fn sync_info(value: &[u8]) -> Result<SyncInfo, BerError> {
    const WHAT: &str = "sync info message";
    let (choice, rest) = read(value, WHAT)?;
    if !rest.is_empty() {
        return Err(bad(WHAT, "trailing bytes"));
    }
    match choice.tag {
        0x80 => Ok(SyncInfo::NewCookie(choice.value.to_vec())),
        0xa1 | 0xa2 => {
            let mut cookie = None;
            let mut done = true;
            for field in read_all(choice.value, WHAT)? {
                match field.tag {
                    OCTET_STRING if cookie.is_none() => cookie = Some(field.value.to_vec()),
                    BOOLEAN => done = boolean(field, WHAT)?,
                    _ => return Err(bad(WHAT, "unexpected field in a refresh message")),
                }
            }
            Ok(SyncInfo::RefreshEnd { cookie, done })
        }
        0xa3 => {
            let mut cookie = None;
            let mut deletes = false;
            let mut uuids = None;
            for field in read_all(choice.value, WHAT)? {
                match field.tag {
                    OCTET_STRING if cookie.is_none() => cookie = Some(field.value.to_vec()),
                    BOOLEAN => deletes = boolean(field, WHAT)?,
                    SET => {
                        let mut set = Vec::new();
                        for uuid in read_all(field.value, WHAT)? {
                            if uuid.tag != OCTET_STRING {
                                return Err(bad(WHAT, "a UUID is not an octet string"));
                            }
                            set.push(
                                uuid.value
                                    .try_into()
                                    .map_err(|_| bad(WHAT, "a UUID is not 16 bytes"))?,
                            );
                        }
                        uuids = Some(set);
                    }
                    _ => return Err(bad(WHAT, "unexpected field in an id set")),
                }
            }
            Ok(SyncInfo::IdSet {
                cookie,
                deletes,
                uuids: uuids.ok_or_else(|| bad(WHAT, "an id set without UUIDs"))?,
            })
        }
        _ => Err(bad(WHAT, "unknown choice")),
    }
}

/// The cookie of a Sync Done control, if it has one.
pub fn sync_done(value: &[u8]) -> Result<Option<Vec<u8>>, BerError> {
    const WHAT: &str = "sync done control";
    let mut cookie = None;
    for field in read_all(only(value, SEQUENCE, WHAT)?, WHAT)? {
        match field.tag {
            OCTET_STRING if cookie.is_none() => cookie = Some(field.value.to_vec()),
            BOOLEAN => {
                boolean(field, WHAT)?;
            }
            _ => return Err(bad(WHAT, "unexpected field")),
        }
    }
    Ok(cookie)
}

/// A UUID in its standard string form, lowercase, as OpenLDAP shows entryUUID.
pub fn uuid_string(uuid: &[u8; 16]) -> String {
    let hex: String = uuid.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: [u8; 16] = [
        0xd2, 0x6d, 0x03, 0x60, 0x7a, 0x0f, 0x10, 0x41, 0x97, 0x20, 0x01, 0xc1, 0x79, 0x4e, 0xe3,
        0x9b,
    ];

    use crate::ber::tlv;

    #[test]
    fn sync_state_with_and_without_cookie() {
        let mut fields = tlv(ENUMERATED, &[2]);
        fields.extend(tlv(OCTET_STRING, &UUID));
        let state = sync_state(&tlv(SEQUENCE, &fields)).expect("decodes");
        assert_eq!(state.state, EntryState::Modify);
        assert_eq!(state.entry_uuid, UUID);
        assert_eq!(state.cookie, None);
        fields.extend(tlv(OCTET_STRING, b"rid=000,csn=1"));
        let state = sync_state(&tlv(SEQUENCE, &fields)).expect("decodes");
        assert_eq!(state.cookie.as_deref(), Some(&b"rid=000,csn=1"[..]));
        assert_eq!(
            uuid_string(&state.entry_uuid),
            "d26d0360-7a0f-1041-9720-01c1794ee39b"
        );
    }

    #[test]
    fn sync_info_choices() {
        assert_eq!(
            sync_info(&tlv(0x80, b"c1")),
            Ok(SyncInfo::NewCookie(b"c1".to_vec()))
        );
        let mut present = tlv(OCTET_STRING, b"c2");
        present.extend(tlv(BOOLEAN, &[0xff]));
        assert_eq!(
            sync_info(&tlv(0xa2, &present)),
            Ok(SyncInfo::RefreshEnd {
                cookie: Some(b"c2".to_vec()),
                done: true
            })
        );
        assert_eq!(
            sync_info(&tlv(0xa1, &[])),
            Ok(SyncInfo::RefreshEnd {
                cookie: None,
                done: true
            })
        );
        let mut set = tlv(BOOLEAN, &[0xff]);
        set.extend(tlv(SET, &tlv(OCTET_STRING, &UUID)));
        assert_eq!(
            sync_info(&tlv(0xa3, &set)),
            Ok(SyncInfo::IdSet {
                cookie: None,
                deletes: true,
                uuids: vec![UUID]
            })
        );
    }

    #[test]
    fn sync_done_cookie() {
        let value = tlv(SEQUENCE, &tlv(OCTET_STRING, b"c3"));
        assert_eq!(sync_done(&value), Ok(Some(b"c3".to_vec())));
        assert_eq!(sync_done(&tlv(SEQUENCE, &[])), Ok(None));
    }

    #[test]
    fn malformed_values_are_errors_not_panics() {
        let mut good = tlv(ENUMERATED, &[1]);
        good.extend(tlv(OCTET_STRING, &UUID));
        let good = tlv(SEQUENCE, &good);
        // Every truncation and every single-byte corruption of a valid value.
        for len in 0..good.len() {
            assert!(sync_state(&good[..len]).is_err(), "truncated to {len}");
            let _ = sync_info(&good[..len]);
            let _ = sync_done(&good[..len]);
        }
        for i in 0..good.len() {
            for b in [0x00, 0x1f, 0x80, 0x84, 0xff] {
                let mut bad = good.clone();
                bad[i] = b;
                let _ = sync_state(&bad);
                let _ = sync_info(&bad);
                let _ = sync_done(&bad);
            }
        }
        assert!(sync_state(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(sync_info(&[0xa3, 0x00]).is_err(), "id set without UUIDs");
        assert!(sync_info(&[0x9f, 0x01, 0x00]).is_err(), "high tag number");
    }
}
