//! The JUnit XML rendering against the JUnit schema CI systems read
//! (`tests/data/junit.xsd`, see its header), validated by `xmllint`. xmllint is
//! a requirement of the test suite (Debian: `apt-get install libxml2-utils`;
//! `.ci/run` installs it): without it this test fails, it does not pass.

mod common;

use std::path::Path;
use std::process::Command;

use common::sample;
use wasim_reports::to_junit;

/// Validates `xml` against the schema; returns xmllint's complaint on failure.
fn validate(xml: &str, name: &str) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("wasim-junit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let file = dir.join(format!("{name}.xml"));
    std::fs::write(&file, xml).expect("written");
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/junit.xsd");
    let output = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(&file)
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "failed to run xmllint ({error}): install it to run the tests (Debian: apt-get install libxml2-utils)"
            )
        });
    let _ = std::fs::remove_file(&file);
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

#[test]
fn the_junit_report_of_every_outcome_is_valid_against_the_junit_schema() {
    let xml = to_junit(&sample());
    validate(&xml, "sample").unwrap_or_else(|complaint| panic!("{complaint}\n{xml}"));
}

#[test]
fn texts_that_need_escaping_stay_valid() {
    let mut report = sample();
    report.scenarios[1].checks[0].message = "<&> \"quoted\" 'single'\n\u{7} bell".to_owned();
    report.scenarios[1].name = "a \"name\" & <more>".to_owned();
    let xml = to_junit(&report);
    validate(&xml, "escaped").unwrap_or_else(|complaint| panic!("{complaint}\n{xml}"));
}

#[test]
fn the_schema_refuses_what_ci_systems_would_not_read() {
    // Proof the validation can fail: a case without a name, and a suite
    // without its test count.
    let xml = "<?xml version=\"1.0\"?>\n<testsuites><testsuite name=\"x\" tests=\"1\"><testcase/></testsuite></testsuites>\n";
    assert!(validate(xml, "no-case-name").is_err());
    let xml =
        "<?xml version=\"1.0\"?>\n<testsuites><testsuite name=\"x\"></testsuite></testsuites>\n";
    assert!(validate(xml, "no-tests").is_err());
    // A skipped case with attributes is not junit-10's <skipped>.
    let xml = "<?xml version=\"1.0\"?>\n<testsuites><testsuite name=\"x\" tests=\"1\"><testcase name=\"c\"><skipped message=\"m\"/></testcase></testsuite></testsuites>\n";
    assert!(validate(xml, "skipped-attribute").is_err());
}
