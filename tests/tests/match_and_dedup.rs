//! The builtin match-pattern and dedup-md5 plugins, loaded through the host runtime.

use photosync::plugins::{
    Attribute, Criterion, Decision, DedupInput, Deduper, MatchOutcome, Matcher, PhotoInfo,
    PluginError, Role, SyncState,
};
use photosync_tests::plugins::{builtin_spec, runtime};

fn matcher(rt: &photosync::plugins::Runtime, patterns: &str) -> Matcher {
    Matcher::load(rt, &builtin_spec(Role::Matcher, &[("patterns", patterns)]))
        .expect("matcher loads")
}

fn photo(file_name: &str) -> PhotoInfo {
    PhotoInfo {
        file_name: file_name.into(),
        source: "test".into(),
        content_type: "image/jpeg".into(),
        attributes: vec![],
    }
}

fn criteria(pairs: &[(&str, &str)]) -> MatchOutcome {
    MatchOutcome::Criteria(
        pairs
            .iter()
            .map(|(a, v)| Criterion {
                attribute: (*a).into(),
                value: (*v).into(),
            })
            .collect(),
    )
}

#[test]
fn file_names_give_criteria() {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = runtime(&cache);
    let m = matcher(&rt, "{employeeID}");
    assert_eq!(
        m.match_photo(&photo("12345.jpg")).expect("matches"),
        criteria(&[("employeeID", "12345")])
    );
    let m = matcher(&rt, "{givenName}_{sn}");
    assert_eq!(
        m.match_photo(&photo("john_smith.jpg")).expect("matches"),
        criteria(&[("givenName", "john"), ("sn", "smith")])
    );
    assert_eq!(
        m.match_photo(&photo("JOHN-SMITH.JPEG")).expect("matches"),
        criteria(&[("givenName", "JOHN"), ("sn", "SMITH")])
    );
    assert_eq!(
        m.match_photo(&photo("Zoë_Ünal.png")).expect("matches"),
        criteria(&[("givenName", "Zoë"), ("sn", "Ünal")])
    );
    assert_eq!(
        m.match_photo(&photo("李_雷.jpg")).expect("matches"),
        criteria(&[("givenName", "李"), ("sn", "雷")])
    );
}

#[test]
fn patterns_are_tried_in_order() {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = runtime(&cache);
    let m = matcher(&rt, "emp-{employeeID};{givenName}_{sn}");
    assert_eq!(
        m.match_photo(&photo("EMP-0042.jpg")).expect("matches"),
        criteria(&[("employeeID", "0042")])
    );
    assert_eq!(
        m.match_photo(&photo("ada_lovelace.jpg")).expect("matches"),
        criteria(&[("givenName", "ada"), ("sn", "lovelace")])
    );
    match m.match_photo(&photo("nobody.jpg")).expect("answers") {
        MatchOutcome::NoCriteria(reason) => assert!(reason.contains("nobody"), "{reason}"),
        other => panic!("expected no criteria, got {other:?}"),
    }
}

#[test]
fn filter_metacharacters_and_nul_are_carried_verbatim() {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = runtime(&cache);
    let m = matcher(&rt, "{employeeID}");
    for stem in ["*", "x)(employeeID=*", "a\\b", "(cn=*)", "nul\0byte"] {
        let out = m
            .match_photo(&photo(&format!("{stem}.jpg")))
            .expect("answers");
        assert_eq!(out, criteria(&[("employeeID", stem)]), "{stem:?}");
    }
}

#[test]
fn entries_give_photo_names() {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = runtime(&cache);
    let m = matcher(&rt, "{employeeID};{givenName}_{sn}");
    let attr = |n: &str, v: &str| Attribute {
        name: n.into(),
        values: vec![v.into()],
    };
    let names = m
        .photo_names(&[
            attr("employeeID", "77777"),
            attr("givenName", "Ada"),
            attr("sn", "Lovelace"),
        ])
        .expect("names");
    assert_eq!(names, vec!["77777".to_owned(), "Ada_Lovelace".to_owned()]);
    assert!(m.photo_names(&[attr("cn", "x")]).expect("names").is_empty());
}

#[test]
fn bad_settings_are_reported_with_the_key() {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = runtime(&cache);
    let err = matcher(&rt, "{employeeID")
        .match_photo(&photo("1.jpg"))
        .expect_err("refused");
    assert!(
        matches!(&err, PluginError::Reported { reason, .. } if reason.contains("patterns")),
        "{err:?}"
    );
}

fn deduper(rt: &photosync::plugins::Runtime, policy: &str) -> Deduper {
    Deduper::load(rt, &builtin_spec(Role::Deduper, &[("policy", policy)])).expect("deduper loads")
}

fn state(source: &str, written: &str) -> SyncState {
    SyncState {
        source_digest: source.into(),
        written_digest: written.into(),
    }
}

fn input(
    source: &str,
    output: Option<&str>,
    st: Option<SyncState>,
    current: &[&str],
) -> DedupInput {
    DedupInput {
        attribute: "thumbnailPhoto".into(),
        source_digest: source.into(),
        output_digest: output.map(Into::into),
        state: st,
        current_digests: current.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// `W` write, `S` skip, `N` need output.
fn kind(d: &Decision) -> char {
    match d {
        Decision::Write(_) => 'W',
        Decision::Skip(_) => 'S',
        Decision::NeedOutput => 'N',
    }
}

#[test]
fn md5_digests() {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = runtime(&cache);
    let d = deduper(&rt, "source-changed");
    assert_eq!(
        d.digest(b"").expect("digest"),
        "d41d8cd98f00b204e9800998ecf8427e"
    );
    assert_eq!(
        d.digest(b"abc").expect("digest"),
        "900150983cd24fb0d6963f7d28e17f72"
    );
}

#[test]
fn decision_tables() {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = runtime(&cache);
    let old = || Some(state("aa", "bb"));
    // (policy, input, expected decision)
    let table: Vec<(&str, DedupInput, char)> = vec![
        // source-changed: an unchanged source never overwrites, even a person's own change.
        ("source-changed", input("aa", None, old(), &["bb"]), 'S'),
        ("source-changed", input("aa", None, old(), &["ee"]), 'S'),
        ("source-changed", input("aa", None, old(), &[]), 'S'),
        ("source-changed", input("cc", None, old(), &["bb"]), 'N'),
        (
            "source-changed",
            input("cc", Some("dd"), old(), &["bb"]),
            'W',
        ),
        (
            "source-changed",
            input("cc", Some("dd"), old(), &["dd"]),
            'S',
        ),
        ("source-changed", input("cc", None, None, &[]), 'N'),
        ("source-changed", input("cc", Some("dd"), None, &[]), 'W'),
        (
            "source-changed",
            input("cc", Some("dd"), None, &["ee"]),
            'W',
        ),
        // converge: the directory ends holding our output.
        ("converge", input("aa", None, old(), &["bb"]), 'S'),
        ("converge", input("aa", None, old(), &["ee"]), 'N'),
        ("converge", input("aa", Some("bb"), old(), &["ee"]), 'W'),
        ("converge", input("cc", Some("dd"), old(), &["dd"]), 'S'),
        ("converge", input("cc", Some("dd"), None, &[]), 'W'),
        (
            "converge",
            input("cc", Some("dd"), None, &["dd", "ee"]),
            'W',
        ),
        // only-if-empty: never replaces a photo.
        ("only-if-empty", input("cc", None, None, &["ee"]), 'S'),
        (
            "only-if-empty",
            input("cc", Some("dd"), old(), &["bb"]),
            'S',
        ),
        ("only-if-empty", input("cc", None, None, &[]), 'N'),
        ("only-if-empty", input("cc", Some("dd"), None, &[]), 'W'),
    ];
    for (policy, inp, want) in table {
        let decision = deduper(&rt, policy).decide(&inp).expect("decides");
        assert_eq!(kind(&decision), want, "{policy}: {inp:?} gave {decision:?}");
        match decision {
            Decision::Write(st) => assert_eq!(
                st,
                state(
                    &inp.source_digest,
                    inp.output_digest.as_deref().unwrap_or("")
                )
            ),
            Decision::Skip(skip) => assert!(!skip.reason.is_empty(), "a skip has a reason"),
            Decision::NeedOutput => {}
        }
    }
}

#[test]
fn an_unknown_policy_is_reported() {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = runtime(&cache);
    let err = deduper(&rt, "sometimes")
        .decide(&input("aa", None, None, &[]))
        .expect_err("refused");
    assert!(
        matches!(&err, PluginError::Reported { reason, .. } if reason.contains("policy")),
        "{err:?}"
    );
}
