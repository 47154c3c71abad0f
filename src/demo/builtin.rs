//! The scenarios shipped in `demo/`, compiled into the binary so
//! `replog demo` works from any directory.

use super::parse::parse;
use super::scenario::Scenario;

/// (file name, contents), in the order `replog demo` lists them.
pub const FILES: &[(&str, &str)] = &[
    (
        "demo/acceptance.toml",
        include_str!("../../demo/acceptance.toml"),
    ),
    (
        "demo/write-concern.toml",
        include_str!("../../demo/write-concern.toml"),
    ),
    ("demo/retry.toml", include_str!("../../demo/retry.toml")),
    ("demo/dedup.toml", include_str!("../../demo/dedup.toml")),
    (
        "demo/total-order.toml",
        include_str!("../../demo/total-order.toml"),
    ),
    (
        "demo/health-quorum.toml",
        include_str!("../../demo/health-quorum.toml"),
    ),
    (
        "demo/parallel-clients.toml",
        include_str!("../../demo/parallel-clients.toml"),
    ),
    (
        "demo/failover.toml",
        include_str!("../../demo/failover.toml"),
    ),
    (
        "demo/rollback.toml",
        include_str!("../../demo/rollback.toml"),
    ),
    (
        "demo/two-phase-commit.toml",
        include_str!("../../demo/two-phase-commit.toml"),
    ),
];

/// Every shipped scenario, parsed.
pub fn all() -> Result<Vec<Scenario>, String> {
    FILES.iter().map(|(file, text)| parse(file, text)).collect()
}

pub fn find(name: &str) -> Result<Scenario, String> {
    let scenarios = all()?;
    let names: Vec<String> = scenarios.iter().map(|s| s.name.clone()).collect();
    scenarios
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| {
            format!(
                "no scenario named {name:?}; shipped: {} (or --file PATH)",
                names.join(", ")
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_scenario_parses_and_is_named_after_its_file() {
        for (file, text) in FILES {
            let scenario = parse(file, text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                format!("demo/{}.toml", scenario.name),
                *file,
                "a scenario's name is its file name"
            );
            assert!(!scenario.steps.is_empty());
        }
    }

    #[test]
    fn the_course_scenarios_are_all_there() {
        let names: Vec<String> = all()
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|s| s.name)
            .collect();
        for wanted in [
            "acceptance",
            "write-concern",
            "retry",
            "dedup",
            "total-order",
            "health-quorum",
            "parallel-clients",
            "two-phase-commit",
        ] {
            assert!(names.iter().any(|n| n == wanted), "{wanted} is missing");
        }
    }
}
