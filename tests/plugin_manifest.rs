//! `plugin.toml` must agree with the crate: version, type name, API version, outputs, options.

use phi_scrub::transforms::find_transform;
use phi_scrub::transforms::phi_scrub::options;
use phi_scrub_core::transform::{DROPPED_OUTPUT, PLUGIN_API_VERSION};

fn manifest() -> toml::Table {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/plugin.toml")).unwrap();
    text.parse().unwrap()
}

#[test]
fn manifest_matches_crate_version_type_and_api() {
    let m = manifest();
    let plugin = m["plugin"].as_table().unwrap();
    assert_eq!(plugin["version"].as_str(), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(plugin["name"].as_str(), Some(env!("CARGO_PKG_NAME")));
    assert_eq!(plugin["kind"].as_str(), Some("transform"));
    assert_eq!(plugin["api_version"].as_integer(), Some(i64::from(PLUGIN_API_VERSION)));
    let type_name = plugin["type"].as_str().unwrap();
    assert!(find_transform(type_name).is_some(), "type `{type_name}` is not registered");
    let outputs: Vec<&str> = plugin["outputs"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(outputs, vec!["", DROPPED_OUTPUT]);
}

#[test]
fn manifest_lists_exactly_the_config_options() {
    let m = manifest();
    let mut listed: Vec<&str> = m["options"].as_table().unwrap().keys().map(String::as_str).collect();
    let mut actual: Vec<&str> = options().to_vec();
    listed.sort_unstable();
    actual.sort_unstable();
    assert_eq!(listed, actual);
}

#[test]
fn manifest_lists_every_detector() {
    let listed: Vec<String> = manifest()["options"]["detect"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let names: Vec<String> = phi_scrub_transform::detect::Detector::ALL.iter().map(|d| d.name().to_owned()).collect();
    assert_eq!(listed, names);
}

#[test]
fn every_listed_option_is_accepted_by_the_config() {
    // Each option name must deserialize (unknown names are refused): the list read from
    // PhiScrubConfig is the list it accepts.
    assert!(options().len() > 10, "{:?}", options());
    for option in options() {
        let value = match *option {
            "key" => "\"0123456789abcdef\"".to_owned(),
            "key_file" => "\"/nonexistent\"".to_owned(),
            "algorithm" => "\"blake3\"".to_owned(),
            "max_depth" => "8".to_owned(),
            "mixpanel" => "{ token = \"t\" }".to_owned(),
            "preset" => "\"hipaa\"".to_owned(),
            "detect_action" => "\"hash\"".to_owned(),
            "truncate" => "{ \"properties.q\" = 3 }".to_owned(),
            _ => "[]".to_owned(),
        };
        let text = format!("{option} = {value}");
        let table: toml::Table = text.parse().unwrap();
        let parsed = (find_transform("phi_scrub").unwrap().parse)(table);
        assert!(parsed.is_ok(), "option `{option}` refused: {:?}", parsed.err());
    }
    let table: toml::Table = "not_an_option = 1".parse().unwrap();
    assert!((find_transform("phi_scrub").unwrap().parse)(table).is_err());
}

#[test]
fn cargo_run_starts_phi_scrub_as_the_readme_says() {
    // The README's quickstart is `cargo run --release -- run …`; with two binaries in the crate
    // that only works while `default-run` names phi-scrub.
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    let manifest: toml::Table = text.parse().unwrap();
    assert_eq!(manifest["package"]["default-run"].as_str(), Some("phi-scrub"));
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(readme.contains("cargo run --release -- run --config examples/quickstart.toml < examples/events.ndjson"));
}

#[test]
fn docs_list_every_rule_of_the_hipaa_preset() {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/hipaa-preset.md")).unwrap();
    let table = phi_scrub::transforms::phi_scrub::preset_table(phi_scrub::transforms::phi_scrub::Preset::Hipaa);
    assert!(page.contains(&table), "docs/hipaa-preset.md must contain the preset table as generated:\n{table}");
}
