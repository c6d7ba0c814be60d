//! The layers the workspace promises: the plugin API, the JSON scanner and the transform never
//! depend on a runtime or an HTTP stack, directly or through another crate. Read from
//! Cargo.lock, which lists every kind of dependency (dev ones too), so the check errs on the
//! strict side.

use std::collections::{BTreeMap, BTreeSet};

const CORE_CRATES: [&str; 3] = ["phi-scrub-core", "phi-scrub-json", "phi-scrub-transform"];
const FORBIDDEN: [&str; 3] = ["tokio", "hyper", "reqwest"];

/// Package name -> names of its dependencies, from Cargo.lock.
fn lock_graph() -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).unwrap();
    let lock: toml::Table = text.parse().unwrap();
    let mut graph: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for package in lock["package"].as_array().unwrap() {
        let name = package["name"].as_str().unwrap().to_owned();
        let deps = package.get("dependencies").and_then(|d| d.as_array()).cloned().unwrap_or_default();
        // An entry is "name" or "name version" when several versions are locked.
        let deps = deps.iter().map(|d| d.as_str().unwrap().split(' ').next().unwrap().to_owned());
        graph.entry(name).or_default().extend(deps);
    }
    graph
}

fn reachable(graph: &BTreeMap<String, Vec<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_owned()];
    while let Some(name) = stack.pop() {
        if seen.insert(name.clone()) {
            stack.extend(graph.get(&name).into_iter().flatten().cloned());
        }
    }
    seen
}

#[test]
fn core_crates_have_no_runtime_or_http_stack_in_their_dependency_tree() {
    let graph = lock_graph();
    for krate in CORE_CRATES {
        assert!(graph.contains_key(krate), "{krate} is not in Cargo.lock");
        let deps = reachable(&graph, krate);
        for forbidden in FORBIDDEN {
            let hits: Vec<&String> = deps.iter().filter(|d| d.starts_with(forbidden)).collect();
            assert!(hits.is_empty(), "{krate} depends on {hits:?}");
        }
    }
}

#[test]
fn the_host_does_depend_on_them() {
    // The check above would pass vacuously if the graph were misread; the host must reach tokio.
    let deps = reachable(&lock_graph(), "phi-scrub");
    assert!(deps.contains("tokio") && CORE_CRATES.iter().all(|c| deps.contains(*c)));
}
