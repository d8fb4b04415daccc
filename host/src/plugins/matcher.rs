//! Calls into matcher plugins, and the checks their answers must pass.

use super::bindings::matcher::MatcherPluginPre;
use super::bindings::matcher::exports::photosync::plugin::matcher as wit;
use super::runtime::Runtime;
use super::store::PluginState;
use super::typed::Typed;
use super::{Attribute, PluginError, PluginSpec, Role};

pub use wit::{Criterion, MatchOutcome, PhotoInfo};

/// Most criteria one answer may carry.
const MAX_CRITERIA: usize = 16;
/// Most photo names one entry may yield.
const MAX_NAMES: usize = 64;

/// A loaded matcher plugin.
#[derive(Debug)]
pub struct Matcher {
    plugin: Typed<MatcherPluginPre<PluginState>>,
}

impl Matcher {
    /// Loads and checks the plugin described by `spec`.
    pub fn load(runtime: &Runtime, spec: &PluginSpec) -> Result<Self, PluginError> {
        let plugin = Typed::load(runtime, spec, Role::Matcher, MatcherPluginPre::new)?;
        Ok(Self { plugin })
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        self.plugin.name()
    }

    /// The SHA-256 of its code, lower-case hex.
    pub fn sha256(&self) -> &str {
        self.plugin.sha256()
    }

    /// Match criteria for a photo, or the plugin's reason why there are none.
    pub fn match_photo(&self, photo: &PhotoInfo) -> Result<MatchOutcome, PluginError> {
        let answer = self.plugin.loaded.call(|store| {
            let plugin = self.plugin.pre.instantiate(&mut *store)?;
            plugin.photosync_plugin_matcher().call_match_photo(
                &mut *store,
                &self.plugin.settings,
                photo,
            )
        })?;
        let outcome = answer.map_err(|e| self.plugin.reported(e))?;
        if let MatchOutcome::Criteria(criteria) = &outcome {
            self.check_criteria(criteria)?;
        }
        Ok(outcome)
    }

    /// The photo names that would belong to a directory entry with these attributes.
    pub fn photo_names(&self, entry: &[Attribute]) -> Result<Vec<String>, PluginError> {
        let answer = self.plugin.loaded.call(|store| {
            let plugin = self.plugin.pre.instantiate(&mut *store)?;
            plugin.photosync_plugin_matcher().call_photo_names(
                &mut *store,
                &self.plugin.settings,
                entry,
            )
        })?;
        let names = answer.map_err(|e| self.plugin.reported(e))?;
        if names.len() > MAX_NAMES {
            return Err(self.plugin.malformed(format!(
                "it returned {} photo names, more than {MAX_NAMES}",
                names.len()
            )));
        }
        Ok(names)
    }

    fn check_criteria(&self, criteria: &[Criterion]) -> Result<(), PluginError> {
        if criteria.is_empty() {
            return Err(self.plugin.malformed(
                "it returned an empty list of criteria (use no-criteria instead)".into(),
            ));
        }
        if criteria.len() > MAX_CRITERIA {
            return Err(self.plugin.malformed(format!(
                "it returned {} criteria, more than {MAX_CRITERIA}",
                criteria.len()
            )));
        }
        match criteria.iter().find(|c| !is_attribute_name(&c.attribute)) {
            Some(bad) => Err(self
                .plugin
                .malformed(format!("{:?} is not an LDAP attribute name", bad.attribute))),
            None => Ok(()),
        }
    }
}

/// An LDAP attribute description: a name (letter, then letters, digits, hyphens) or a numeric
/// OID, optionally followed by `;options`.
pub fn is_attribute_name(text: &str) -> bool {
    let base = text.split(';').next().unwrap_or("");
    let descr = base.starts_with(|c: char| c.is_ascii_alphabetic())
        && base.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    let oid = !base.is_empty()
        && base
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    (descr || oid)
        && base.len() <= 128
        && text
            .split(';')
            .skip(1)
            .all(|o| !o.is_empty() && o.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

#[cfg(test)]
mod tests {
    use super::is_attribute_name;

    #[test]
    fn attribute_names() {
        for ok in ["employeeID", "sn", "given-name", "2.5.4.4", "cn;lang-en"] {
            assert!(is_attribute_name(ok), "{ok}");
        }
        for bad in ["", "1abc", "em ployee", "cn)(uid=*", "2.5..4", "cn;", "a*"] {
            assert!(!is_attribute_name(bad), "{bad}");
        }
    }
}
