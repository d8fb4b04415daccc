//! Kerberos credentials for SASL GSSAPI binds ([`crate::config::KerberosConfig`]): the
//! service's principal takes its tickets from its keytab into a memory cache of this process,
//! so it neither reads nor fills the login's default cache. MIT Kerberos does the work; the
//! realm and its KDCs come from krb5.conf. Nothing here reaches the KDC: the first ticket is
//! asked for when the bind starts.

use std::ffi::CString;
use std::path::Path;
use std::ptr;

use libgssapi::error::{Error as GssError, MajorFlags};
use libgssapi_sys as sys;

/// Where the tickets are kept: in this process's memory, gone when it ends.
const CACHE: &str = "MEMORY:photosync-ldap";

/// A credential for `principal` (the keytab's first when `None`) from `keytab`, or a reason
/// naming the option to fix.
pub fn credential(keytab: &Path, principal: Option<&str>) -> Result<cross_krb5::Cred, String> {
    // MIT's own error for a missing keytab only says "no key table entry"; say which file.
    std::fs::File::open(keytab).map_err(|e| {
        format!(
            "cannot read the keytab {} ({e}) — check ldap.kerberos.keytab",
            keytab.display()
        )
    })?;
    let text = |s: &str, what: &str| {
        CString::new(s).map_err(|_| format!("{what} contains a NUL character"))
    };
    let keytab_path = text(
        &format!("FILE:{}", keytab.to_string_lossy()),
        "ldap.kerberos.keytab",
    )?;
    let cache = text(CACHE, "the cache name")?;
    let principal = principal
        .map(|p| text(p, "ldap.kerberos.principal"))
        .transpose()?;
    let mut elements = [
        sys::gss_key_value_element_desc {
            key: c"client_keytab".as_ptr(),
            value: keytab_path.as_ptr(),
        },
        sys::gss_key_value_element_desc {
            key: c"ccache".as_ptr(),
            value: cache.as_ptr(),
        },
    ];
    let store = sys::gss_key_value_set_desc {
        count: elements.len() as sys::OM_uint32,
        elements: elements.as_mut_ptr(),
    };
    let name = match &principal {
        Some(p) => Some(import_name(p)?),
        None => None,
    };
    let mut minor: sys::OM_uint32 = 0;
    let mut cred: sys::gss_cred_id_t = ptr::null_mut();
    // SAFETY: every pointer is valid for the call: the strings and the store outlive it, the
    // name (if any) was imported above and is released below, and `cred` receives a handle
    // that libgssapi's `Cred` owns and releases from here on.
    let major = unsafe {
        sys::gss_acquire_cred_from(
            &mut minor,
            name.unwrap_or(ptr::null_mut()),
            sys::_GSS_C_INDEFINITE,
            ptr::null_mut(),
            sys::GSS_C_INITIATE as sys::gss_cred_usage_t,
            &store,
            &mut cred,
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    if let Some(mut name) = name {
        let mut ignored: sys::OM_uint32 = 0;
        // SAFETY: `name` came from gss_import_name and is released once.
        unsafe { sys::gss_release_name(&mut ignored, &mut name) };
    }
    if major != sys::GSS_S_COMPLETE {
        return Err(format!(
            "no Kerberos credential from the keytab {}: {} — check ldap.kerberos.keytab and \
             ldap.kerberos.principal",
            keytab.display(),
            describe(major, minor)
        ));
    }
    Ok(libgssapi::credential::Cred::from(cred).into())
}

/// The GSSAPI name of a principal written as `name@REALM`.
fn import_name(principal: &CString) -> Result<sys::gss_name_t, String> {
    let mut buffer = sys::gss_buffer_desc {
        length: principal.as_bytes().len(),
        value: principal.as_ptr() as *mut std::ffi::c_void,
    };
    let mut minor: sys::OM_uint32 = 0;
    let mut name: sys::gss_name_t = ptr::null_mut();
    // SAFETY: the buffer points into `principal`, which outlives the call; a null name type
    // asks the mechanism's default parsing (for Kerberos, `name@REALM`).
    let major =
        unsafe { sys::gss_import_name(&mut minor, &mut buffer, ptr::null_mut(), &mut name) };
    if major != sys::GSS_S_COMPLETE {
        return Err(format!(
            "ldap.kerberos.principal is not a principal name: {}",
            describe(major, minor)
        ));
    }
    Ok(name)
}

/// MIT's own words for a status, e.g. "No key table entry found for svc@EXAMPLE.COM".
fn describe(major: sys::OM_uint32, minor: sys::OM_uint32) -> String {
    GssError {
        major: MajorFlags::from_bits_retain(major),
        minor,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_keytab_is_named_with_its_option() {
        let err =
            credential(Path::new("/nonexistent/photosync.keytab"), None).expect_err("no keytab");
        assert!(err.contains("/nonexistent/photosync.keytab"), "{err}");
        assert!(err.contains("ldap.kerberos.keytab"), "{err}");
    }

    #[test]
    fn a_keytab_without_the_principal_is_refused_in_mits_words() {
        let dir = tempfile::tempdir().expect("tempdir");
        let keytab = dir.path().join("empty.keytab");
        // A keytab file with only its format version (0x0502) and no entry.
        std::fs::write(&keytab, [0x05, 0x02]).expect("keytab");
        let err = credential(&keytab, Some("svc-photo@EXAMPLE.TEST")).expect_err("no entry");
        assert!(err.contains("ldap.kerberos.principal"), "{err}");
    }
}
