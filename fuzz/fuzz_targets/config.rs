//! Fuzzing the config loader (TOML, interpolation, validation, building transforms): never a
//! panic, and an error never echoes the values variables expanded to.
#![no_main]

use libfuzzer_sys::fuzz_target;

use phi_scrub::config::PipelineConfig;

const SECRET: &str = "SECRET-VALUE-0123456789abcdef";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The oracle is about expanded variables; a secret typed into the file itself is another
    // matter (and syntax errors do not echo lines either: see config::syntax_error).
    if text.contains(SECRET) {
        return;
    }
    let env = |_: &str| Some(SECRET.to_owned());
    match PipelineConfig::from_toml(text, &env) {
        Ok(config) => assert!(!config.summary().contains(SECRET)),
        Err(e) => assert!(!e.to_string().contains(SECRET), "error echoes an expanded secret: {e}"),
    }
});
