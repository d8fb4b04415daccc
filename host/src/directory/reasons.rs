//! LDAP result codes and the server's diagnostic text turned into phrases an administrator can
//! act on. Active Directory (and Samba) put a Windows error code at the start of the text
//! (`00002098: …`) and, for binds, a sub-code (`… data 52e, …`); both are explained here, and
//! the server's own text is kept after them.

/// An LDAP result code and the server's text as a phrase.
pub fn describe_rc(rc: u32, text: &str) -> String {
    let text = text.trim().trim_end_matches('\0').trim();
    let mut out = format!("{} (code {rc})", rc_name(rc));
    if let Some(explained) = bind_detail(text).or_else(|| ad_detail(text)).or_else(|| {
        (rc == 8).then_some(
            "the server accepts a password only over an encrypted connection: use ldaps:// or \
             set ldap.starttls = true",
        )
    }) {
        out.push_str(": ");
        out.push_str(explained);
    }
    if !text.is_empty() {
        out.push_str(&format!(" [server: {text}]"));
    }
    out
}

/// A refused Kerberos (SASL GSSAPI) bind as a phrase: the password advice of [`describe_rc`]
/// does not apply, and a server that wants Kerberos itself to sign or seal over TLS is named.
pub fn describe_kerberos_rc(rc: u32, text: &str) -> String {
    let text = text.trim().trim_end_matches('\0').trim();
    let mut out = format!("{} (code {rc})", rc_name(rc));
    if rc == 8 {
        out.push_str(
            ": the server wants Kerberos itself to sign or seal the connection, even over TLS \
             (Samba before 4.20 with `ldap server require strong auth = yes`) — use an ldap:// \
             URL without StartTLS, which photosync seals with Kerberos, or set the DC's \
             `ldap server require strong auth = allow_sasl_over_tls`",
        );
    } else {
        out.push_str(" — check ldap.kerberos");
    }
    if !text.is_empty() {
        out.push_str(&format!(" [server: {text}]"));
    }
    out
}

fn rc_name(rc: u32) -> &'static str {
    match rc {
        4 => "sizeLimitExceeded",
        8 => "strongerAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        13 => "confidentialityRequired",
        19 => "constraintViolation",
        21 => "invalidAttributeSyntax",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        65 => "objectClassViolation",
        _ => "error",
    }
}

/// Active Directory's reason for a failed bind: `… AcceptSecurityContext error, data 52e, …`.
fn bind_detail(text: &str) -> Option<&'static str> {
    let code = text.split("data ").nth(1)?.split([',', ' ']).next()?;
    Some(match code.to_ascii_lowercase().as_str() {
        "525" => "the account does not exist — check ldap.bind-dn",
        "52e" => "the account name or the password is wrong — check ldap.bind-dn and the password",
        "530" => "the account may not log on at this time of day",
        "531" => "the account may not log on from this computer (logon workstations)",
        "532" => "the account's password has expired — set a new one",
        "533" => "the account is disabled — enable it",
        "568" => "the account is in too many groups (its security token is too large)",
        "701" => "the account has expired",
        "773" => "the account must change its password before it can log on — set a new one",
        "775" => "the account is locked out after failed logons — unlock it",
        _ => return None,
    })
}

/// Active Directory's Windows error code at the start of the text: `0000200B: …`.
fn ad_detail(text: &str) -> Option<&'static str> {
    let (code, _) = text.split_once(':')?;
    if code.len() != 8 || !code.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(match u32::from_str_radix(code, 16).ok()? {
        0x200A => "the entry has no such attribute or value",
        0x200B => {
            "the directory refused the value as invalid for the attribute (Active Directory \
             refuses a thumbnailPhoto above 102400 bytes)"
        }
        0x200C => "the attribute is not in the directory's schema",
        0x200E => "the domain controller is busy — it will be retried",
        0x200F => "the domain controller is unavailable — it will be retried",
        0x2014 => "the entry's object class does not allow the attribute",
        0x202B => "the entry is in another domain or partition (a referral) — check ldap.base-dn",
        0x202F => "a constraint of the attribute was violated (its size or range)",
        0x2030 => "the entry does not exist (moved or deleted?)",
        0x2035 => "the domain controller is unwilling to do this",
        0x2098 => {
            "the bind account lacks the right — delegate it Write on the photo attribute for \
             user objects (docs/active-directory.md)"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_directory_bind_codes_are_explained() {
        let text = "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1";
        let reason = describe_rc(49, text);
        assert!(
            reason.starts_with(
                "invalidCredentials (code 49): the account name or the password is wrong"
            ),
            "{reason}"
        );
        assert!(reason.ends_with(&format!("[server: {text}]")), "{reason}");
        assert!(describe_rc(49, "…, data 533, v1db1").contains("disabled"));
        assert!(describe_rc(49, "…, data 775, v4563").contains("locked out"));
    }

    #[test]
    fn active_directory_error_codes_are_explained() {
        let reason = describe_rc(
            21,
            "0000200B: objectclass_attrs: attribute 'thumbnailPhoto' on entry 'CN=ada' contains at least one invalid value!",
        );
        assert!(reason.contains("102400 bytes"), "{reason}");
        let reason = describe_rc(50, "00002098: Object CN=ada has no write property access");
        assert!(reason.contains("delegate it Write"), "{reason}");
        let reason = describe_rc(8, "BindSimple: Transport encryption required.");
        assert!(reason.contains("ldap.starttls"), "{reason}");
    }

    #[test]
    fn a_kerberos_refusal_gives_no_password_advice() {
        let reason = describe_kerberos_rc(8, "SASL:[GSSAPI]: Sign or Seal are required.");
        assert!(reason.contains("without StartTLS"), "{reason}");
        assert!(!reason.contains("password"), "{reason}");
        let reason = describe_kerberos_rc(49, "");
        assert_eq!(reason, "invalidCredentials (code 49) — check ldap.kerberos");
    }

    #[test]
    fn other_texts_are_kept_as_they_are() {
        assert_eq!(describe_rc(32, ""), "noSuchObject (code 32)");
        assert_eq!(
            describe_rc(19, "no data here"),
            "constraintViolation (code 19) [server: no data here]"
        );
        assert_eq!(
            describe_rc(19, "zzzzzzzz: x"),
            "constraintViolation (code 19) [server: zzzzzzzz: x]"
        );
    }
}
