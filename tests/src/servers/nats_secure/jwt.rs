//! Operator mode for [`super::SecureNats`]: an operator, a system account, an account with
//! JetStream and one user, as NKeys and JWTs made here (JWT v2 as nats-server 2.9 reads them:
//! `{"typ":"JWT","alg":"ed25519-nkey"}`, base64url without padding, the issuer's signature over
//! `header.payload`).

use std::path::{Path, PathBuf};

use nkeys::KeyPair;
use serde_json::{Value, json};

/// Writes `operator.jwt` and `user.creds` into `dir` and returns the server's configuration
/// for them: the operator, its system account, and a memory resolver preloaded with both
/// accounts.
pub(super) fn operator_mode(dir: &Path) -> String {
    let operator = KeyPair::new_operator();
    let system = KeyPair::new_account();
    let account = KeyPair::new_account();
    let operator_jwt = sign(
        &operator,
        &operator.public_key(),
        "photosync-tests",
        json!({ "type": "operator", "version": 2, "system_account": system.public_key() }),
    );
    let system_jwt = account_jwt(&operator, &system, "SYS", false);
    let account_jwt = account_jwt(&operator, &account, "photosync", true);
    write_creds(&account, &dir.join("user.creds"));
    let operator_file = dir.join("operator.jwt");
    std::fs::write(&operator_file, &operator_jwt).expect("operator JWT");
    format!(
        "operator: \"{}\"\nsystem_account: {sys}\nresolver: MEMORY\nresolver_preload: {{\n  \
         {sys}: \"{system_jwt}\"\n  {acc}: \"{account_jwt}\"\n}}\n",
        operator_file.display(),
        sys = system.public_key(),
        acc = account.public_key(),
    )
}

/// The `.creds` file of a user whose account no operator signed: well formed, but refused.
pub(super) fn stranger_creds(dir: &Path) -> PathBuf {
    let path = dir.join("stranger.creds");
    write_creds(&KeyPair::new_account(), &path);
    path
}

/// An account's JWT, signed by `operator`, without limits; with `jetstream`, JetStream
/// without limits too (an account has JetStream when its memory or disk storage limit is not 0).
fn account_jwt(operator: &KeyPair, account: &KeyPair, name: &str, jetstream: bool) -> String {
    let mut limits = json!({
        "subs": -1, "data": -1, "payload": -1,
        "imports": -1, "exports": -1, "wildcards": true, "conn": -1, "leaf": -1,
    });
    if jetstream {
        for key in ["mem_storage", "disk_storage", "streams", "consumer"] {
            limits[key] = json!(-1);
        }
    }
    sign(
        operator,
        &account.public_key(),
        name,
        json!({ "type": "account", "version": 2, "limits": limits }),
    )
}

/// Makes a user of `account`, allowed everything, and writes its JWT and seed as `path`.
fn write_creds(account: &KeyPair, path: &Path) {
    let user = KeyPair::new_user();
    // Limits left out would read as 0 (nothing allowed), so each says -1 (no limit).
    let jwt = sign(
        account,
        &user.public_key(),
        "photosync",
        json!({
            "type": "user", "version": 2, "pub": {}, "sub": {},
            "subs": -1, "data": -1, "payload": -1,
        }),
    );
    let seed = user.seed().expect("a seed");
    let creds = format!(
        "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
         The seed below proves this user's identity: keep it secret.\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"
    );
    std::fs::write(path, creds).expect("creds file");
}

/// A JWT about `subject` with the claims in `nats`, issued and signed by `issuer`.
fn sign(issuer: &KeyPair, subject: &str, name: &str, nats: Value) -> String {
    let issued_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs();
    let claims = json!({
        "jti": super::random_hex(16).to_uppercase(),
        "iat": issued_at,
        "iss": issuer.public_key(),
        "sub": subject,
        "name": name,
        "nats": nats,
    });
    let signed = format!(
        "{}.{}",
        base64url(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#),
        base64url(claims.to_string().as_bytes())
    );
    let signature = issuer.sign(signed.as_bytes()).expect("signed");
    format!("{signed}.{}", base64url(&signature))
}

fn base64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
