//! Built-in scenarios, kept as TOML files next to this module so they go through the same
//! parser and validation as user files (and double as examples).

const BUILTINS: &[(&str, &str)] = &[
    ("default", include_str!("scenarios/default.toml")),
    ("agentic", include_str!("scenarios/agentic.toml")),
    ("chat", include_str!("scenarios/chat.toml")),
    ("bench", include_str!("scenarios/bench.toml")),
];

/// Names of the built-in scenarios.
pub fn names() -> Vec<&'static str> {
    BUILTINS.iter().map(|(n, _)| *n).collect()
}

/// The TOML text of a built-in scenario.
pub fn toml_text(name: &str) -> Option<&'static str> {
    BUILTINS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}
