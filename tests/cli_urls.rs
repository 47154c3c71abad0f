//! URL flags accept `host:port` (http is assumed); a bad URL is a usage
//! error naming it, at parse time. Real binary, real nodes.

mod support;

use support::*;

/// Runs `replog ARGS`: exit code, stdout, stderr.
fn replog(args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(BIN)
        .args(args)
        .env_remove("REPLOG_PRIMARY")
        .env_remove("REPLOG_NODE")
        .env_remove("REPLOG_SECONDARIES")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `127.0.0.1:PORT`, without the scheme.
fn bare(node: &Node) -> String {
    node.url.trim_start_matches("http://").to_string()
}

#[tokio::test]
async fn host_and_port_work_without_a_scheme() {
    let s1 = Node::secondary("s1", 0, &[]);
    // The primary's --secondary takes ID=host:port too.
    let p = Node::primary(&[("s1", &bare(&s1))], &[]);
    let h = health(&p.url).await;
    assert_eq!(h["secondaries"][0]["url"], s1.url.as_str(), "{h}");

    let (code, out, err) = replog(&["send", "bare", "-w", "2", "--primary", &bare(&p)]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("seq 1") && out.contains("2 node"), "{out}");
    let (code, out, err) = replog(&["get", "--node", &bare(&s1)]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("bare"), "{out}");
    let (code, out, err) = replog(&["health", "--primary", &format!("{}/", bare(&p))]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("s1") && out.contains("healthy"), "{out}");
}

#[test]
fn a_bad_url_is_a_one_line_usage_error() {
    let cases: [&[&str]; 5] = [
        &["send", "x", "--primary", "ht!tp://x"],
        &["get", "--node", "ftp://127.0.0.1:7000"],
        &["health", "--primary", "127.0.0.1:7000/health"],
        &["bench", "--primary", "http://:7000"],
        &["node", "primary", "--secondary", "s1=ht!tp://x"],
    ];
    for args in cases {
        let (code, _, err) = replog(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        let bad = args[args.len() - 1].trim_start_matches("s1=");
        let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
        assert_eq!(errors.len(), 1, "{args:?}: {err}");
        assert!(
            errors[0].contains(&format!("invalid URL {bad:?}: ")),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}
