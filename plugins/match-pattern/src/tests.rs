//! Both directions end to end, from settings as the administrator writes them.

use crate::matcher::{Attribute, Criterion, Outcome, match_photo, photo_names};
use crate::settings::Config;

fn config(settings: &[(&str, &str)]) -> Config {
    Config::parse(settings.iter().copied()).unwrap()
}

fn criteria(settings: &[(&str, &str)], file_name: &str) -> Vec<(String, String)> {
    match match_photo(&config(settings), file_name, &[]) {
        Outcome::Criteria { criteria, .. } => criteria
            .into_iter()
            .map(|c| (c.attribute, c.value))
            .collect(),
        Outcome::NoCriteria(reason) => panic!("{file_name} did not match: {reason}"),
    }
}

fn no_criteria(settings: &[(&str, &str)], file_name: &str) -> String {
    match match_photo(&config(settings), file_name, &[]) {
        Outcome::Criteria { criteria, .. } => {
            panic!("{file_name} matched unexpectedly: {criteria:?}")
        }
        Outcome::NoCriteria(reason) => reason,
    }
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(a, v)| ((*a).to_owned(), (*v).to_owned()))
        .collect()
}

fn attribute(name: &str, values: &[&str]) -> Attribute {
    Attribute {
        name: name.to_owned(),
        values: values.iter().map(|v| (*v).to_owned()).collect(),
    }
}

const BOTH: [(&str, &str); 1] = [("patterns", "{employeeID};{givenName}_{sn}")];

#[test]
fn employee_id_from_the_file_name() {
    assert_eq!(
        criteria(&[("patterns", "{employeeID}")], "12345.jpg"),
        pairs(&[("employeeID", "12345")])
    );
}

#[test]
fn two_placeholders_and_case() {
    let settings = [("patterns", "{givenName}_{sn}")];
    assert_eq!(
        criteria(&settings, "john_smith.jpg"),
        pairs(&[("givenName", "john"), ("sn", "smith")])
    );
    assert_eq!(
        criteria(&settings, "JOHN_SMITH.JPEG"),
        pairs(&[("givenName", "JOHN"), ("sn", "SMITH")])
    );
    let literal = [("patterns", "Photo_{employeeID}")];
    assert_eq!(
        criteria(&literal, "PHOTO-42.png"),
        pairs(&[("employeeID", "42")])
    );
}

#[test]
fn patterns_are_tried_in_order() {
    let digits = [
        ("patterns", "{employeeID};{givenName}_{sn}"),
        ("digits-only", "employeeID"),
    ];
    assert_eq!(
        criteria(&digits, "12345.jpg"),
        pairs(&[("employeeID", "12345")])
    );
    assert_eq!(
        criteria(&digits, "john_smith.jpg"),
        pairs(&[("givenName", "john"), ("sn", "smith")])
    );
    // Without digits-only the first pattern takes any name.
    assert_eq!(
        criteria(&BOTH, "john_smith.jpg"),
        pairs(&[("employeeID", "john_smith")])
    );
    let reversed = [("patterns", "{givenName}_{sn}\n{employeeID}")];
    assert_eq!(
        criteria(&reversed, "12345.jpg"),
        pairs(&[("employeeID", "12345")])
    );
}

#[test]
fn separators_match_one_another() {
    let settings = [("patterns", "{givenName}_{sn}")];
    for name in [
        "john-smith.jpg",
        "john.smith.jpg",
        "john smith.jpg",
        "john_smith",
    ] {
        assert_eq!(
            criteria(&settings, name),
            pairs(&[("givenName", "john"), ("sn", "smith")]),
            "{name}"
        );
    }
    assert_eq!(
        criteria(&settings, "mary_ann_smith.jpg"),
        pairs(&[("givenName", "mary_ann"), ("sn", "smith")])
    );
    let only_underscore = [("patterns", "{givenName}_{sn}"), ("separators", "")];
    no_criteria(&only_underscore, "john-smith.jpg");
    assert_eq!(
        criteria(&only_underscore, "john_smith.jpg"),
        pairs(&[("givenName", "john"), ("sn", "smith")])
    );
}

#[test]
fn unicode_names() {
    let settings = [("patterns", "{givenName}_{sn}")];
    assert_eq!(
        criteria(&settings, "Zoë_Ünal.jpg"),
        pairs(&[("givenName", "Zoë"), ("sn", "Ünal")])
    );
    assert_eq!(
        criteria(&settings, "李_雷.png"),
        pairs(&[("givenName", "李"), ("sn", "雷")])
    );
    let literal = [("patterns", "ÜBER-{sn}")];
    assert_eq!(criteria(&literal, "über_Zoë.jpg"), pairs(&[("sn", "Zoë")]));
}

#[test]
fn special_characters_are_carried_verbatim() {
    let id = [("patterns", "{employeeID}")];
    for value in ["a*b", "(x)", "nul\0byte", "*", "\0", "*)(|(cn=*"] {
        assert_eq!(
            criteria(&id, &format!("{value}.jpg")),
            pairs(&[("employeeID", value)])
        );
    }
    assert_eq!(
        criteria(&id, "x)(employeeID=*.jpg"),
        pairs(&[("employeeID", "x)(employeeID=*")])
    );
    // A backslash is an ordinary character of a name, carried verbatim like the others.
    assert_eq!(
        criteria(&id, r"back\slash.jpg"),
        pairs(&[("employeeID", r"back\slash")])
    );
    let producer = config(&[
        ("patterns", "{employeeID}"),
        ("producer-attributes", "employeeID"),
    ]);
    let Outcome::Criteria { criteria, .. } = match_photo(
        &producer,
        "x.jpg",
        &[attribute("employeeID", &[r"a\5c*(\0)"])],
    ) else {
        panic!("the producer attribute was not used");
    };
    assert_eq!(criteria[0].value, r"a\5c*(\0)");
}

#[test]
fn file_names_without_extension_or_starting_with_a_dot() {
    let id = [("patterns", "{employeeID}")];
    assert_eq!(criteria(&id, "12345"), pairs(&[("employeeID", "12345")]));
    assert_eq!(criteria(&id, ".12345"), pairs(&[("employeeID", ".12345")]));
    assert_eq!(
        criteria(&id, ".12345.jpg"),
        pairs(&[("employeeID", ".12345")])
    );
    assert_eq!(
        criteria(&id, "uploads/12345.jpg"),
        pairs(&[("employeeID", "12345")])
    );
    no_criteria(&id, "photos/");
}

#[test]
fn repeated_attributes_must_agree() {
    let settings = [("patterns", "{sn}-{givenName}-{sn}")];
    assert_eq!(
        criteria(&settings, "smith-john-smith.jpg"),
        pairs(&[("sn", "smith"), ("givenName", "john")])
    );
    no_criteria(&settings, "smith-john-jones.jpg");
}

#[test]
fn digits_only_rejects_other_values() {
    let settings = [("patterns", "{employeeID}"), ("digits-only", "employeeID")];
    let reason = no_criteria(&settings, "john.jpg");
    assert_eq!(
        reason,
        "\"john.jpg\" matches none of the pattern {employeeID}"
    );
    no_criteria(&settings, "١٢٣.jpg");
}

#[test]
fn reason_lists_the_patterns_and_escapes_the_name() {
    assert_eq!(
        no_criteria(
            &[("patterns", "{givenName}_{sn}; id-{employeeID}")],
            "jane.jpg"
        ),
        "\"jane.jpg\" matches none of the patterns {givenName}_{sn}, id-{employeeID}"
    );
    let reason = no_criteria(&[("patterns", "{givenName}_{sn}")], "a\0b\n\u{1b}[31m.jpg");
    assert!(
        reason.starts_with(r#""a\0b\n\u{1b}[31m.jpg" matches none"#),
        "{reason}"
    );
    let hostile = no_criteria(
        &[("patterns", "{a}_{b}_{a}_{c}_{a}x; {employeeID}x")],
        &"_".repeat(255),
    );
    assert!(hostile.ends_with(
        "(the name can be split in too many ways to try them all for {a}_{b}_{a}_{c}_{a}x)"
    ));
    let long = no_criteria(
        &[("patterns", "{employeeID}")],
        &format!("{}.jpg", "9".repeat(300)),
    );
    assert!(long.contains("300 characters long"), "{long}");
}

#[test]
fn producer_attributes_come_first() {
    let settings = config(&[
        ("patterns", "{employeeID}"),
        ("producer-attributes", "employeeID, mail"),
    ]);
    let producer = [
        attribute("EMPLOYEEID", &["777"]),
        attribute("mail", &["a@example.org"]),
    ];
    let Outcome::Criteria { criteria, .. } = match_photo(&settings, "12345.jpg", &producer) else {
        panic!("producer attributes were not used");
    };
    let expected =
        [("employeeID", "777"), ("mail", "a@example.org")].map(|(attribute, value)| Criterion {
            attribute: attribute.to_owned(),
            value: value.to_owned(),
        });
    assert_eq!(criteria, expected);
}

#[test]
fn unusable_producer_attributes_fall_back_to_patterns() {
    let settings = config(&[
        ("patterns", "{employeeID}"),
        ("producer-attributes", "employeeID"),
    ]);
    for producer in [
        vec![],
        vec![attribute("employeeID", &[""])],
        vec![attribute("employeeID", &["1", "2"])],
        vec![
            attribute("employeeID", &["1"]),
            attribute("employeeid", &["2"]),
        ],
        vec![attribute("other", &["1"])],
    ] {
        let Outcome::Criteria { criteria, .. } = match_photo(&settings, "12345.jpg", &producer)
        else {
            panic!("no criteria for {producer:?}");
        };
        assert_eq!(criteria[0].value, "12345", "{producer:?}");
    }
    let reason = match match_photo(&settings, "x/", &[]) {
        Outcome::NoCriteria(reason) => reason,
        other => panic!("{other:?}"),
    };
    assert!(
        reason.ends_with(
            "and the producer supplied none of employeeID with exactly one usable value"
        )
    );
}

#[test]
fn photo_names_substitute_entry_values() {
    let settings = config(&[(
        "patterns",
        "{employeeID}; Photo_{givenName}_{sn}; {givenName}-{sn}; {mail}",
    )]);
    let entry = [
        attribute("EmployeeID", &["12345", "999"]),
        attribute("givenName", &["", "Zoë"]),
        attribute("SN", &["Ünal"]),
    ];
    assert_eq!(
        photo_names(&settings, &entry),
        ["12345", "Photo_Zoë_Ünal", "Zoë-Ünal"]
    );
    assert!(photo_names(&settings, &[attribute("cn", &["x"])]).is_empty());
}

#[test]
fn photo_names_drop_case_insensitive_duplicates_and_respect_digits_only() {
    let settings = config(&[
        ("patterns", "{uid};{UID};{employeeID}"),
        ("digits-only", "employeeID"),
    ]);
    let entry = [
        attribute("uid", &["Jane"]),
        attribute("employeeID", &["E-1"]),
    ];
    assert_eq!(photo_names(&settings, &entry), ["Jane"]);
    let same = config(&[("patterns", "{uid}; {cn}")]);
    assert_eq!(
        photo_names(
            &same,
            &[attribute("uid", &["JANE"]), attribute("cn", &["jane"])]
        ),
        ["JANE"]
    );
}

#[test]
fn invalid_settings_are_reported() {
    for settings in [
        vec![],
        vec![("patterns", "{employeeID}"), ("colour", "blue")],
        vec![("patterns", "{employee ID}")],
        vec![("patterns", "{a}{b}")],
        vec![("patterns", "{a}_{b")],
        vec![("patterns", "a}")],
        vec![("patterns", "{a};")],
        vec![("patterns", "literal-only")],
    ] {
        assert!(
            Config::parse(settings.iter().copied()).is_err(),
            "{settings:?}"
        );
    }
}
