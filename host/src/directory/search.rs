//! Finding entries: the one entry a photo belongs to, entries by DN, and every entry in scope,
//! with paging and Active Directory's referrals and tombstones in mind.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::controls::RawControl;
use ldap3::{Scope, SearchEntry, ldap_escape};

use super::{
    Directory, DirectoryError, Entry, Found, KEEP_ENTRIES, Query, SHOW_DELETED_OID, batch,
    describe_rc,
};
use crate::plugins::Criterion;

impl Directory {
    /// Finds the entries matching all `criteria` (values escaped per RFC 4515) within the
    /// configured base and filter, with a paged search; referrals are ignored. Returns the
    /// requested `attributes` plus the id attribute. Searches made at the same time share one
    /// operation, up to `ldap.search-batch` of them (see [`batch`]).
    pub async fn find(
        &self,
        criteria: &[Criterion],
        attributes: &[String],
    ) -> Result<Found, DirectoryError> {
        if self.batcher.max <= 1 {
            return self.find_one(criteria, attributes).await;
        }
        self.find_batched(batch::Ask::new(criteria, attributes))
            .await
    }

    /// [`Directory::find`] in a search of its own.
    pub(super) async fn find_one(
        &self,
        criteria: &[Criterion],
        attributes: &[String],
    ) -> Result<Found, DirectoryError> {
        let filter = self.filter_for(criteria);
        let mut entries = Vec::new();
        let total = self
            .search(self.in_scope(&filter, attributes), |entry| {
                if entries.len() < KEEP_ENTRIES {
                    entries.push(entry);
                }
                std::future::ready(Ok(()))
            })
            .await?;
        Ok(Found {
            entries,
            total,
            filter,
        })
    }

    /// A search for `filter` under the base DN.
    pub(super) fn in_scope<'a>(&'a self, filter: &'a str, attributes: &'a [String]) -> Query<'a> {
        Query {
            base: &self.config.base_dn,
            scope: Scope::Subtree,
            filter,
            attributes,
            controls: vec![],
        }
    }

    /// The configured filter and `criteria`, as one search filter.
    pub(super) fn filter_for(&self, criteria: &[Criterion]) -> String {
        format!("(&{}{})", self.config.filter, terms(criteria))
    }

    /// How many search operations this client has sent.
    pub fn searches_made(&self) -> u64 {
        self.searches.load(Ordering::Relaxed)
    }

    /// The entry at `dn` if it exists and is in scope (under the base DN, matching the
    /// filter), with `attributes` (`*` for all user attributes) plus the id attribute.
    pub async fn read(
        &self,
        dn: &str,
        attributes: &[String],
    ) -> Result<Option<Entry>, DirectoryError> {
        let mut found = None;
        let query = Query {
            base: dn,
            scope: Scope::Base,
            filter: &self.config.filter,
            attributes,
            controls: vec![],
        };
        match self
            .search(query, |entry| {
                found = Some(entry);
                std::future::ready(Ok(()))
            })
            .await
        {
            Ok(_) => {}
            // noSuchObject: deleted or renamed since.
            Err(DirectoryError::Refused { rc: 32, .. }) => return Ok(None),
            Err(e) => return Err(e),
        }
        let base = self.config.base_dn.to_ascii_lowercase();
        Ok(found.filter(|e| e.dn.to_ascii_lowercase().ends_with(&base)))
    }

    /// Awaits `each` for every entry in scope (paged), with `attributes` plus the id
    /// attribute; returns how many there were. An error from `each` stops the search.
    pub async fn each<F>(
        &self,
        attributes: &[String],
        each: impl FnMut(Entry) -> F,
    ) -> Result<usize, DirectoryError>
    where
        F: std::future::Future<Output = Result<(), String>>,
    {
        let base = self.config.base_dn.clone();
        let filter = self.config.filter.clone();
        self.each_under(&base, Scope::Subtree, &filter, attributes, false, each)
            .await
    }

    /// Awaits `each` for every entry under `base` (any base, not only the configured one)
    /// matching `filter`, paged, with `attributes` plus the id attribute. With `show_deleted`,
    /// Active Directory's tombstones are included (the Show Deleted control).
    pub async fn each_under<F>(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attributes: &[String],
        show_deleted: bool,
        each: impl FnMut(Entry) -> F,
    ) -> Result<usize, DirectoryError>
    where
        F: std::future::Future<Output = Result<(), String>>,
    {
        let controls = if show_deleted {
            vec![RawControl {
                ctype: SHOW_DELETED_OID.into(),
                crit: true,
                val: None,
            }]
        } else {
            vec![]
        };
        let query = Query {
            base,
            scope,
            filter,
            attributes,
            controls,
        };
        self.search(query, each).await
    }

    /// A paged search for `query`'s attributes plus the id attribute; referrals are ignored.
    /// Drops the shared connection when it broke.
    pub(super) async fn search<F>(
        &self,
        query: Query<'_>,
        each: impl FnMut(Entry) -> F,
    ) -> Result<usize, DirectoryError>
    where
        F: std::future::Future<Output = Result<(), String>>,
    {
        let mut attrs: Vec<String> = query.attributes.to_vec();
        attrs.push(self.config.id_attribute.clone());
        self.searches.fetch_add(1, Ordering::Relaxed);
        let result = self
            .search_inner(
                query.base,
                query.scope,
                query.filter,
                attrs,
                query.controls,
                each,
            )
            .await;
        if matches!(result, Err(DirectoryError::Unavailable { .. })) {
            self.forget().await;
        }
        result
    }

    async fn search_inner<F>(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: Vec<String>,
        controls: Vec<RawControl>,
        mut each: impl FnMut(Entry) -> F,
    ) -> Result<usize, DirectoryError>
    where
        F: std::future::Future<Output = Result<(), String>>,
    {
        let mut ldap = self.handle().await?;
        if !controls.is_empty() {
            ldap.with_controls(controls);
        }
        let unavailable = |e: ldap3::LdapError| DirectoryError::Unavailable {
            url: self.config.url.clone(),
            reason: e.to_string(),
        };
        let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(self.config.page_size)),
        ];
        let mut stream = ldap
            .with_timeout(Duration::from_secs(self.config.timeout_secs))
            .streaming_search_with(adapters, base, scope, filter, attrs)
            .await
            .map_err(unavailable)?;
        let mut total = 0;
        while let Some(raw) = stream.next().await.map_err(unavailable)? {
            total += 1;
            if let Err(reason) = each(self.entry(SearchEntry::construct(raw))).await {
                let _ = stream.finish().await;
                return Err(DirectoryError::Stopped(reason));
            }
        }
        let done = stream.finish().await;
        if done.rc != 0 {
            return Err(DirectoryError::Refused {
                rc: done.rc,
                reason: format!(
                    "searching {base} for {filter} failed: {}",
                    describe_rc(done.rc, &done.text)
                ),
            });
        }
        Ok(total)
    }

    pub(super) fn entry(&self, e: SearchEntry) -> Entry {
        let mut values: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
        for (name, vals) in e.attrs {
            values
                .entry(name.to_ascii_lowercase())
                .or_default()
                .extend(vals.into_iter().map(String::into_bytes));
        }
        for (name, vals) in e.bin_attrs {
            values
                .entry(name.to_ascii_lowercase())
                .or_default()
                .extend(vals);
        }
        let id_key = self.config.id_attribute.to_ascii_lowercase();
        let id = values
            .get(&id_key)
            .and_then(|v| v.first())
            .map(|raw| format_id(&id_key, raw))
            .unwrap_or_default();
        Entry {
            dn: e.dn,
            id,
            values,
        }
    }

    /// The entry's id in its display form, from the id attribute's raw value.
    pub fn id_of(&self, raw: &[u8]) -> String {
        format_id(&self.config.id_attribute.to_ascii_lowercase(), raw)
    }
}

/// `(a=v)(b=w)…` for `criteria`, values escaped per RFC 4515.
pub(super) fn terms(criteria: &[Criterion]) -> String {
    criteria
        .iter()
        .map(|c| format!("({}={})", c.attribute, ldap_escape(c.value.as_str())))
        .collect()
}

/// The id in its display form: objectGUID as the standard GUID string, others as text.
pub(super) fn format_id(attribute: &str, raw: &[u8]) -> String {
    if attribute == "objectguid"
        && let Some(guid) = guid_string(raw)
    {
        return guid;
    }
    String::from_utf8_lossy(raw).into_owned()
}

/// A 16-byte Windows GUID (objectGUID, invocationId) in its standard string form.
pub fn guid_string(raw: &[u8]) -> Option<String> {
    let b: &[u8; 16] = raw.try_into().ok()?;
    // The first three fields are little-endian, the last two are bytes in order.
    let hex = |bytes: &[u8]| bytes.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let swapped = |bytes: &[u8]| hex(&bytes.iter().rev().copied().collect::<Vec<u8>>());
    Some(format!(
        "{}-{}-{}-{}-{}",
        swapped(&b[0..4]),
        swapped(&b[4..6]),
        swapped(&b[6..8]),
        hex(&b[8..10]),
        hex(&b[10..16])
    ))
}
