//! Batched searches against a real slapd: events searching at the same time share searches
//! (fewer operations than events), and each finds exactly what it finds searching alone —
//! one entry, none, several, and values the directory matches ignoring case.

use std::collections::BTreeSet;
use std::sync::Arc;

use photosync::directory::{Directory, Found};
use photosync::plugins::Criterion;
use photosync_tests::servers::{LdapServer, Person};
use photosync_tests::stack::{Account, Stack};

/// What a search found, comparable: the total and the DNs.
fn summary(found: &Found) -> (usize, BTreeSet<String>) {
    (
        found.total,
        found.entries.iter().map(|e| e.dn.clone()).collect(),
    )
}

fn criteria(pairs: &[(&str, &str)]) -> Vec<Criterion> {
    pairs
        .iter()
        .map(|(attribute, value)| Criterion {
            attribute: (*attribute).into(),
            value: (*value).into(),
        })
        .collect()
}

fn directory(stack: &Stack, ldap: &LdapServer, batch: usize) -> Directory {
    let mut config = stack.config(Account::Service).ldap;
    config.search_batch = batch;
    Directory::new(config, ldap.service_account().1.into())
}

#[test]
fn searches_at_the_same_time_share_operations_and_each_finds_what_it_finds_alone() {
    let stack = Stack::start();
    let people = Person::numbered(150);
    stack.ldap.add_people(&people);
    stack.ldap.add_people(&[
        Person::new("twin1", "Twin", "One", Some("777")),
        Person::new("twin2", "Twin", "Two", Some("777")),
    ]);
    let mut asks: Vec<Vec<Criterion>> = (0..150)
        .map(|i| criteria(&[("employeeID", &format!("{}", 100_000 + i))]))
        .collect();
    asks.extend([
        criteria(&[("employeeID", "999999")]),
        criteria(&[("employeeID", "777")]),
        // uid and sn compare ignoring case in slapd: "P5" finds p5.
        criteria(&[("uid", "P5")]),
        criteria(&[("uid", "p5")]),
        criteria(&[("uid", "p6"), ("sn", "person6")]),
        criteria(&[("uid", "p7"), ("sn", "Person7")]),
        criteria(&[("uid", "p8"), ("sn", "Person9")]),
    ]);
    let attributes = vec!["thumbnailPhoto".to_owned()];

    let alone = directory(&stack, &stack.ldap, 1);
    let expected: Vec<_> = asks
        .iter()
        .map(|c| {
            let found = stack
                .rt
                .block_on(alone.find(c, &attributes))
                .expect("search");
            summary(&found)
        })
        .collect();
    assert_eq!(alone.searches_made(), asks.len() as u64);
    assert_eq!(expected[0].0, 1);
    assert_eq!(expected[150], (0, BTreeSet::new()));
    assert_eq!(expected[151].0, 2);
    assert_eq!(expected[152], expected[153]);
    assert_eq!(expected[152].0, 1);

    let batched = Arc::new(directory(&stack, &stack.ldap, 64));
    let found: Vec<_> = stack.rt.block_on(async {
        let mut tasks = Vec::new();
        for c in asks.clone() {
            let dir = Arc::clone(&batched);
            let attributes = attributes.clone();
            tasks.push(tokio::spawn(async move {
                dir.find(&c, &attributes).await.expect("search")
            }));
        }
        let mut found = Vec::new();
        for task in tasks {
            found.push(task.await.expect("joined"));
        }
        found
    });
    for (i, f) in found.iter().enumerate() {
        assert_eq!(summary(f), expected[i], "{:?}", asks[i]);
        for entry in &f.entries {
            let mut keys: Vec<&str> = entry.values.keys().map(String::as_str).collect();
            keys.sort();
            assert!(
                keys.iter()
                    .all(|k| ["thumbnailphoto", "entryuuid"].contains(k)),
                "only the attributes asked for: {keys:?}"
            );
        }
    }
    let made = batched.searches_made();
    assert!(
        made < asks.len() as u64 / 4,
        "{} searches shared {made} operations",
        asks.len()
    );
}
