//! Which certificates the directory connection trusts: the CA file's (or the system's) roots, the
//! name the certificate must carry (`ldap.tls-server-name`, when the URL names the server
//! differently), and, only for a certificate without any subjectAltName, its subject's common
//! name. Samba's self-made DC certificate is such a certificate; RFC 6125 allows the fallback
//! when no subjectAltName is present.

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

use super::DirectoryError;
use crate::ber::{self, SEQUENCE, SET};

/// The TLS client configuration for the directory.
pub fn client_config(
    ca_file: Option<&Path>,
    server_name: Option<&str>,
) -> Result<Arc<rustls::ClientConfig>, DirectoryError> {
    let roots = match ca_file {
        Some(path) => ca_roots(path)?,
        None => system_roots(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| DirectoryError::Config(format!("TLS setup: {e}")))?;
    let name = server_name
        .map(|n| {
            ServerName::try_from(n.to_owned())
                .map_err(|e| DirectoryError::Config(format!("ldap.tls-server-name {n:?}: {e}")))
        })
        .transpose()?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DirectoryError::Config(format!("TLS setup: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Verifier { inner, name }))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn ca_roots(ca_file: &Path) -> Result<rustls::RootCertStore, DirectoryError> {
    let bad = |e: &dyn std::fmt::Display| {
        DirectoryError::Config(format!("ldap.ca-file {}: {e}", ca_file.display()))
    };
    let pem = std::fs::read(ca_file).map_err(|e| {
        DirectoryError::Config(format!(
            "cannot read ldap.ca-file {}: {e}",
            ca_file.display()
        ))
    })?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
    }
    if roots.is_empty() {
        return Err(bad(&"holds no PEM certificate"));
    }
    Ok(roots)
}

/// The system's trusted roots; unreadable ones are skipped (as any TLS client does).
fn system_roots() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::warn!(%error, "a system CA certificate could not be loaded");
    }
    roots.add_parsable_certificates(found.certs);
    roots
}

/// WebPKI verification of the chain, against the configured name when there is one, with the
/// common-name fallback for certificates that have no subjectAltName at all.
#[derive(Debug)]
struct Verifier {
    inner: Arc<WebPkiServerVerifier>,
    name: Option<ServerName<'static>>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let name = self.name.as_ref().unwrap_or(server_name);
        // The chain is checked before the name: a name error means the chain is trusted.
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if common_name_fallback(end_entity, name) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Whether `cert` has no subjectAltName and its subject's (single) common name is `name`.
fn common_name_fallback(cert: &[u8], name: &ServerName<'_>) -> bool {
    let ServerName::DnsName(dns) = name else {
        return false;
    };
    match subject_names(cert) {
        Ok((names, false)) => {
            names.len() == 1
                && names[0]
                    .trim_end_matches('.')
                    .eq_ignore_ascii_case(dns.as_ref())
        }
        _ => false,
    }
}

/// id-at-commonName (2.5.4.3) and id-ce-subjectAltName (2.5.29.17), DER-encoded.
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];
const OID: u8 = 0x06;

/// The subject's common names and whether the certificate has a subjectAltName extension.
fn subject_names(cert: &[u8]) -> Result<(Vec<String>, bool), ber::BerError> {
    const WHAT: &str = "certificate";
    let certificate = ber::read_all(ber::only(cert, SEQUENCE, WHAT)?, WHAT)?;
    let tbs = certificate
        .first()
        .filter(|t| t.tag == SEQUENCE)
        .ok_or_else(|| ber::bad(WHAT, "no tbsCertificate"))?;
    let mut fields = ber::read_all(tbs.value, WHAT)?;
    // An explicit version ([0]) comes first when present.
    if fields.first().is_some_and(|f| f.tag == 0xa0) {
        fields.remove(0);
    }
    // serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, then optional
    // issuerUniqueID [1], subjectUniqueID [2] and extensions [3].
    let subject = fields
        .get(4)
        .filter(|f| f.tag == SEQUENCE)
        .ok_or_else(|| ber::bad(WHAT, "no subject"))?;
    let mut names = Vec::new();
    for rdn in ber::read_all(subject.value, WHAT)? {
        if rdn.tag != SET {
            return Err(ber::bad(WHAT, "a subject part is not a SET"));
        }
        for attribute in ber::read_all(rdn.value, WHAT)? {
            let parts = ber::read_all(attribute.value, WHAT)?;
            if let [oid, value] = parts.as_slice()
                && oid.tag == OID
                && oid.value == COMMON_NAME
            {
                names.push(String::from_utf8_lossy(value.value).into_owned());
            }
        }
    }
    let mut has_san = false;
    if let Some(extensions) = fields.iter().find(|f| f.tag == 0xa3) {
        for extension in ber::read_all(ber::only(extensions.value, SEQUENCE, WHAT)?, WHAT)? {
            let parts = ber::read_all(extension.value, WHAT)?;
            has_san |= parts
                .first()
                .is_some_and(|oid| oid.tag == OID && oid.value == SUBJECT_ALT_NAME);
        }
    }
    Ok((names, has_san))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::ber::tlv;

    fn cert(common_name: &str, san: bool) -> Vec<u8> {
        let mut cn = tlv(OID, COMMON_NAME);
        cn.extend(tlv(0x0c, common_name.as_bytes()));
        let subject = tlv(SEQUENCE, &tlv(SET, &tlv(SEQUENCE, &cn)));
        let mut tbs = tlv(0xa0, &tlv(0x02, &[2]));
        tbs.extend(tlv(0x02, &[1]));
        tbs.extend(tlv(SEQUENCE, &[]));
        tbs.extend(tlv(SEQUENCE, &[]));
        tbs.extend(tlv(SEQUENCE, &[]));
        tbs.extend(subject);
        tbs.extend(tlv(SEQUENCE, &[]));
        if san {
            let mut ext = tlv(OID, SUBJECT_ALT_NAME);
            ext.extend(tlv(0x04, &[]));
            tbs.extend(tlv(0xa3, &tlv(SEQUENCE, &tlv(SEQUENCE, &ext))));
        }
        tlv(SEQUENCE, &tlv(SEQUENCE, &tbs))
    }

    fn name(n: &str) -> ServerName<'static> {
        ServerName::try_from(n.to_owned()).expect("name")
    }

    #[test]
    fn the_common_name_counts_only_without_a_subject_alt_name() {
        let dc = name("DC1.example.test");
        assert!(common_name_fallback(&cert("DC1.example.test", false), &dc));
        assert!(common_name_fallback(&cert("dc1.EXAMPLE.test", false), &dc));
        assert!(!common_name_fallback(&cert("DC1.example.test", true), &dc));
        assert!(!common_name_fallback(&cert("DC2.example.test", false), &dc));
        let ip = ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
        assert!(!common_name_fallback(&cert("127.0.0.1", false), &ip));
    }

    #[test]
    fn malformed_certificates_never_match_and_never_panic() {
        let good = cert("DC1.example.test", false);
        let dc = name("DC1.example.test");
        for i in 0..good.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[i] ^= flip;
                let _ = common_name_fallback(&bad, &dc);
            }
            assert!(!common_name_fallback(&good[..i], &dc));
        }
    }
}
