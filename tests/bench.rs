//! `replog bench` runs against its own local cluster and reports; it is
//! checked for behaviour here, never for speed.

mod support;

#[test]
fn bench_reports_throughput_and_latency_against_a_local_cluster() {
    let out = std::process::Command::new(support::BIN)
        .args(["bench", "-w", "3", "--clients", "4", "--requests", "40"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("40 writes of 64 bytes at w=3 from 4 clients"),
        "{stdout}"
    );
    assert!(stdout.contains("p99"), "{stdout}");
}

#[test]
fn bench_refuses_an_impossible_w() {
    let out = std::process::Command::new(support::BIN)
        .args(["bench", "-w", "5", "--secondaries", "1", "--requests", "5"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("between 1 and 2"), "{stderr}");
}
