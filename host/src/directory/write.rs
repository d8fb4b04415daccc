//! Writing photo attributes: one modify operation per entry, its refusals explained.

use std::time::Duration;

use ldap3::Mod;

use super::{Directory, DirectoryError, describe_rc};

impl Directory {
    /// Replaces `changes` (attribute, value) on `dn` in one modify operation.
    pub async fn replace(
        &self,
        dn: &str,
        changes: &[(String, Vec<u8>)],
    ) -> Result<(), DirectoryError> {
        let changes: Vec<(String, Vec<Vec<u8>>)> = changes
            .iter()
            .map(|(attr, value)| (attr.clone(), vec![value.clone()]))
            .collect();
        self.replace_values(dn, &changes).await
    }

    /// Replaces each attribute's values on `dn` in one modify operation; an empty list removes
    /// the attribute.
    pub async fn replace_values(
        &self,
        dn: &str,
        changes: &[(String, Vec<Vec<u8>>)],
    ) -> Result<(), DirectoryError> {
        let mut ldap = self.handle().await?;
        let mods: Vec<Mod<Vec<u8>>> = changes
            .iter()
            .map(|(attr, values)| {
                Mod::Replace(attr.clone().into_bytes(), values.iter().cloned().collect())
            })
            .collect();
        let outcome = ldap
            .with_timeout(Duration::from_secs(self.config.timeout_secs))
            .modify(dn, mods)
            .await;
        let result = match outcome {
            Ok(r) => r,
            Err(e) => {
                self.forget().await;
                return Err(DirectoryError::Unavailable {
                    url: self.config.url.clone(),
                    reason: e.to_string(),
                });
            }
        };
        if result.rc == 0 {
            return Ok(());
        }
        let attrs: Vec<&str> = changes.iter().map(|(a, _)| a.as_str()).collect();
        let attrs = attrs.join(" and ");
        let reason = match result.rc {
            50 => format!(
                "the bind account may not write {attrs} on {dn}: insufficientAccessRights — grant it Write {attrs}"
            ),
            _ => format!(
                "writing {attrs} on {dn} failed: {}",
                describe_rc(result.rc, &result.text)
            ),
        };
        Err(DirectoryError::Refused {
            rc: result.rc,
            reason,
        })
    }
}
