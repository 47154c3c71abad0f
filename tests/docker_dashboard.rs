//! `replog up --docker --headless` end to end: the controller drives a real
//! compose project (pause/kill/restart as docker commands, a partition as
//! `docker network disconnect`) from a piped script, and removes the
//! project when it quits.
//!
//! Needs a Docker daemon, compose and the image tooling (docker/build-image.sh:
//! cargo, ldd, sha256sum). Without them the test prints "skipping: …" and
//! passes, unless `REPLOG_REQUIRE_DOCKER=1` (CI), which makes that a failure.
//! `REPLOG_IMAGE` picks the image (default `replog:local`);
//! `REPLOG_SKIP_IMAGE_BUILD=1` uses it as it is.

mod support;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::docker::{env_flag, repo, usable};
use support::BIN;

/// The whole script takes about ten seconds; this only stops a hang.
const RUN_LIMIT: Duration = Duration::from_secs(240);

/// Runs a command; its stdout, or an error quoting the command and stderr.
fn run(cmd: &mut Command) -> Result<String, String> {
    let line = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{line}: cannot start: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{line}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn works(program: &str, args: &[&str]) -> bool {
    run(Command::new(program).args(args)).is_ok()
}

/// Docker, compose and the image tooling, or why not.
fn docker_setup() -> Result<(), String> {
    run(Command::new("docker").args(["version", "--format", "{{.Server.Version}}"]))
        .map_err(|e| format!("the Docker daemon does not answer: {e}"))?;
    if !works("docker", &["compose", "version"]) && !works("docker-compose", &["version"]) {
        return Err("neither `docker compose` nor `docker-compose` works".into());
    }
    if !env_flag("REPLOG_SKIP_IMAGE_BUILD") {
        for (tool, args) in [("cargo", ["--version"]), ("sha256sum", ["--version"])] {
            if !works(tool, &args) {
                return Err(format!(
                    "{tool} (needed by docker/build-image.sh) is missing"
                ));
            }
        }
    }
    Ok(())
}

fn project_containers(project: &str) -> String {
    let filter = format!("label=com.docker.compose.project={project}");
    run(Command::new("docker").args(["ps", "-a", "-q", "--filter", &filter]))
        .unwrap_or_else(|e| panic!("docker ps: {e}"))
}

/// The controller under test. If the test fails it is killed and its
/// project removed here, so a failure leaves no containers behind.
struct Controller {
    project: String,
    child: Option<Child>,
}

impl Drop for Controller {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if !project_containers(&self.project).trim().is_empty() {
            eprintln!("removing leftover project {}", self.project);
            let _ = Command::new("docker-compose")
                // Any token will do for `down`; the file requires one.
                .env("REPLOG_CLUSTER_TOKEN", "teardown")
                .args(["-p", &self.project, "-f"])
                .arg(repo().join("docker-compose.yml"))
                .args(["down", "-v", "--remove-orphans", "--timeout", "3"])
                .status();
        }
    }
}

#[test]
fn headless_script_drives_a_docker_cluster() {
    if usable(docker_setup()).is_none() {
        return;
    }
    let image = support::docker::ensure_image(run);
    let project = format!("replog-dash-test-{}", std::process::id());
    let script = "\
send 2 hello
wait writes
clear s2
partition s1
wait s1 unhealthy 20000
send 3 blocked-write
sleep 500
status
heal s1
wait s1 healthy 20000
wait writes 20000
kill s2
wait s2 unhealthy 20000
restart s2
wait s2 healthy 30000
wipe s1
wait s1 shows [hello, blocked-write] within=30000
wait s1 healthy 30000
status
quit
";
    let started = Instant::now();
    let mut command = Command::new(BIN);
    command
        .args(["up", "--docker", "--headless", "--project", &project])
        .env("REPLOG_IMAGE", &image)
        .env("NO_COLOR", "1")
        .current_dir(repo())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Ephemeral host ports, whatever the caller's environment pins.
    for var in ["REPLOG_P_PORT", "REPLOG_S1_PORT", "REPLOG_S2_PORT"] {
        command.env_remove(var);
    }
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {BIN}: {e}"));
    let mut controller = Controller {
        project: project.clone(),
        child: Some(child),
    };
    let child = controller.child.as_mut().expect("just set");
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .unwrap_or_else(|e| panic!("cannot write the script: {e}"));
    }
    let deadline = Instant::now() + RUN_LIMIT;
    while matches!(child.try_wait(), Ok(None)) {
        assert!(
            Instant::now() < deadline,
            "replog up --docker did not finish within {RUN_LIMIT:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let child = controller.child.take().expect("still there");
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("cannot read the output: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let all = format!("{stdout}\n--- stderr:\n{stderr}");
    eprintln!("script ran in {:.1?}", started.elapsed());
    assert_eq!(out.status.code(), Some(0), "{all}");

    // Lines in the order the script produces them.
    let expected = [
        "\"hello\" w=2 ok: seq 1, ",
        // /faults needs the cluster token that replog handed to compose.
        "s2: faults cleared",
        "s1 cut off the network",
        "s1: suspected → unhealthy",
        "SEND    \"blocked-write\" w=3",
        // The partitioned secondary holds the w=3 write back.
        "s1 partitioned unhealthy ",
        "| writes pending 1",
        "s1 reconnected",
        "\"blocked-write\" w=3 ok: seq 2, 3 acks",
        "s2 killed",
        "s2: suspected → unhealthy",
        "s2 restarting",
        "s2: unhealthy → healthy",
        // Issue 11: a new container on an empty volume, caught up from seq 1.
        "s1 wiped: restarting with an empty disk",
        "s1 is a brand-new replica: the primary catches it up from seq 1",
        "s1 running healthy acked 2 shows 2 | s2 running healthy acked 2 shows 2 \
         | quorum 3/3 need 2 | writes pending 0",
    ];
    let mut from = 0;
    for needle in expected {
        match stdout[from..].find(needle) {
            Some(at) => from += at + needle.len(),
            None => panic!("output lacks {needle:?} (after byte {from}):\n{all}"),
        }
    }
    // Readiness (the container answers GET /health again on its new port)
    // races with the primary's view, so these are not in the sequence.
    for needle in ["s1 is up at http://", "s2 is up at http://"] {
        assert!(stdout.contains(needle), "output lacks {needle:?}:\n{all}");
    }
    assert!(!stdout.contains("error:"), "{all}");
    assert!(
        stderr.contains(&format!("compose project {project} removed")),
        "{all}"
    );
    let left = project_containers(&project);
    assert!(
        left.trim().is_empty(),
        "containers of {project} left behind: {left}\n{all}"
    );
    // The nodes' named volumes go with the project.
    let filter = format!("label=com.docker.compose.project={project}");
    let volumes = run(Command::new("docker").args(["volume", "ls", "-q", "--filter", &filter]))
        .unwrap_or_else(|e| panic!("docker volume ls: {e}"));
    assert!(
        volumes.trim().is_empty(),
        "volumes of {project} left behind: {volumes}\n{all}"
    );
}
