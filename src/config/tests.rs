//! Tests of config parsing and graph validation.

use super::*;

const KEY: &str = "0123456789abcdef0123456789abcdef";

fn env(name: &str) -> Option<String> {
    match name {
        "PHI_HMAC_KEY" => Some(KEY.to_owned()),
        "MIXPANEL_TOKEN" => Some("tok".to_owned()),
        _ => None,
    }
}

fn parse(text: &str) -> Result<PipelineConfig, ConfigError> {
    PipelineConfig::from_toml(text, &env)
}

const GOOD: &str = r#"
[sources.in]
type = "stdin"

[transforms.phi]
type = "phi_scrub"
inputs = ["in"]
key = "${PHI_HMAC_KEY}"
drop = ["properties.firstname"]
hash = ["userId"]

[sinks.out]
type = "console"
inputs = ["phi"]
"#;

#[test]
fn good_config_parses_and_summarises() {
    let config = parse(GOOD).unwrap();
    let summary = config.summary();
    assert!(summary.contains("transform phi (phi_scrub) <- in"), "{summary}");
    assert!(!summary.contains(KEY));
}

#[test]
fn missing_variable_names_variable_and_option() {
    let err = parse(&GOOD.replace("PHI_HMAC_KEY", "NOT_SET_VAR")).unwrap_err().to_string();
    assert!(err.contains("NOT_SET_VAR") && err.contains("transforms.phi.key"), "{err}");
}

#[test]
fn unknown_input_names_the_component() {
    let err = parse(&GOOD.replace("inputs = [\"phi\"]", "inputs = [\"nope\"]")).unwrap_err().to_string();
    assert!(err.contains("sink `out`") && err.contains("nope"), "{err}");
}

#[test]
fn dropped_output_is_addressable() {
    let text = GOOD.replace("inputs = [\"phi\"]", "inputs = [\"phi\", \"phi.dropped\"]");
    assert!(parse(&text).is_ok());
    let bad = text.replace("phi.dropped", "phi.nothing");
    assert!(parse(&bad).unwrap_err().to_string().contains("no output `nothing`"));
}

#[test]
fn unknown_transform_option_names_component_and_option() {
    let err = parse(&GOOD.replace("hash = ", "hsah = ")).unwrap_err().to_string();
    assert!(err.contains("transform `phi`") && err.contains("hsah"), "{err}");
}

#[test]
fn unknown_type_lists_known_types() {
    let err = parse(&GOOD.replace("type = \"phi_scrub\"", "type = \"remap\"")).unwrap_err().to_string();
    assert!(err.contains("unknown type `remap`") && err.contains("phi_scrub"), "{err}");
    // Found by the config fuzz target: a type built from a variable was echoed, secret and all.
    let env = |_: &str| Some("SECRET-0123".to_owned());
    let text = GOOD.replace("type = \"phi_scrub\"", "type = \"phi_${X}\"");
    let err = PipelineConfig::from_toml(&text, &env).unwrap_err().to_string();
    assert!(err.contains("unknown type; known:") && !err.contains("SECRET"), "{err}");
}

#[test]
fn cycle_is_refused() {
    let text = GOOD.replace("inputs = [\"in\"]", "inputs = [\"in\", \"phi2\"]")
        + "\n[transforms.phi2]\ntype = \"phi_scrub\"\ninputs = [\"phi\"]\nkey = \"${PHI_HMAC_KEY}\"\n";
    let err = parse(&text).unwrap_err().to_string();
    assert!(err.contains("cycle") && err.contains("phi -> phi2 -> phi"), "{err}");
}

#[test]
fn bad_key_is_reported_at_validation_without_the_key() {
    let err = parse(&GOOD.replace("${PHI_HMAC_KEY}", "short-key")).unwrap_err().to_string();
    assert!(err.contains("transform `phi`") && !err.contains("short-key"), "{err}");
}

#[test]
fn interpolated_value_cannot_inject_toml() {
    let inject = |name: &str| match name {
        "PHI_HMAC_KEY" => Some(format!("{KEY}\"\ndrop = []\n")),
        _ => None,
    };
    let config = PipelineConfig::from_toml(GOOD, &inject).unwrap();
    let phi = format!("{:?}", config.transforms["phi"].config);
    assert!(phi.contains("properties.firstname"), "drop list must be untouched: {phi}");
}

#[test]
fn two_console_sinks_are_refused() {
    let text = format!("{GOOD}\n[sinks.second]\ntype = \"console\"\ninputs = [\"phi\"]\n");
    assert!(matches!(parse(&text), Err(ConfigError::SharedStdio)));
}

#[test]
fn syntax_errors_give_a_position_but_never_echo_the_line() {
    let text = "[transforms.phi]\nkey = \"clear-secret-0123456789\" oops\n";
    let err = parse(text).unwrap_err().to_string();
    assert!(err.contains("line 2") && !err.contains("clear-secret"), "{err}");
}

#[test]
fn type_errors_never_echo_the_value() {
    let err =
        parse(&GOOD.replace("key = \"${PHI_HMAC_KEY}\"", "key = \"${PHI_HMAC_KEY}\"\nmax_depth = \"clear-secret-42\""))
            .unwrap_err();
    let err = err.to_string();
    assert!(err.contains("max_depth") || err.contains("expected"), "{err}");
    assert!(!err.contains("clear-secret"), "{err}");
}

#[test]
fn unknown_variant_errors_never_echo_the_value() {
    // Found by the config fuzz target: an expanded variable in `preset` came back in the error.
    let env = |name: &str| match name {
        "PHI_HMAC_KEY" => Some(KEY.to_owned()),
        _ => Some("expanded-secret-42".to_owned()),
    };
    let text = format!("{GOOD}\n[sinks.mp]\ntype = \"http\"\ninputs = [\"phi\"]\npreset = \"${{X}}\"\n")
        .replace("[sinks.out]\ntype = \"console\"\ninputs = [\"phi\"]\n", "");
    let err = PipelineConfig::from_toml(&text, &env).unwrap_err().to_string();
    assert!(err.contains("expected `mixpanel_import`") && !err.contains("expanded-secret"), "{err}");
}

#[test]
fn a_name_used_twice_is_refused() {
    // Found in review: a source and a transform both named `in` silently lost the source's events.
    let text =
        format!("{GOOD}\n[transforms.in]\ntype = \"phi_scrub\"\ninputs = [\"phi\"]\nkey = \"${{PHI_HMAC_KEY}}\"\n");
    assert!(matches!(parse(&text), Err(ConfigError::DuplicateName(n)) if n == "in"));
}

#[test]
fn unknown_section_is_refused() {
    assert!(matches!(parse(&format!("{GOOD}\n[sinkz.x]\ntype=\"console\"\n")), Err(ConfigError::UnknownSection(_))));
}

#[test]
fn the_metrics_endpoint_binds_to_loopback_unless_told_otherwise() {
    let config = parse(&format!("{GOOD}\n[metrics]\n")).unwrap();
    assert_eq!(config.metrics.unwrap().address, "127.0.0.1:9598");
}

#[test]
fn transform_concurrency_is_taken_off_and_checked() {
    let config = parse(&GOOD.replace("type = \"phi_scrub\"", "type = \"phi_scrub\"\nconcurrency = 3")).unwrap();
    assert_eq!(config.transforms["phi"].concurrency, 3);
    let err = parse(&GOOD.replace("type = \"phi_scrub\"", "type = \"phi_scrub\"\nconcurrency = 0")).unwrap_err();
    assert!(err.to_string().contains("concurrency"), "{err}");
}

#[test]
fn an_empty_write_key_is_refused() {
    // An empty key (its variable set but empty) would let any request in.
    let text = GOOD.replacen(
        "type = \"stdin\"",
        "type = \"http_server\"\naddress = \"127.0.0.1:0\"\nwrite_keys = [\"${EMPTY}\"]",
        1,
    );
    let env = |name: &str| match name {
        "PHI_HMAC_KEY" => Some(KEY.to_owned()),
        _ => Some(String::new()),
    };
    let err = PipelineConfig::from_toml(&text, &env).unwrap_err().to_string();
    assert!(err.contains("empty key"), "{err}");
}
