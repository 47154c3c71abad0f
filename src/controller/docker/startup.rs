//! Bringing the compose project up: check Docker, build the image if it is
//! missing, `compose up`, and wait until every node answers.

use super::super::process::Phase;
use super::cli::{detect_compose, docker, inspect, run, COMPOSE_LIMIT};
use super::image::ensure_image;
use super::node::{describe, Node, Seen, Target, NODE_PORT};
use super::probe::{elected, primary_sees_all, probe_until_ready, PRIMARY_VIEW_TIMEOUT};
use super::project::{register, unregister, Project};
use super::worker;
use super::{DockerCluster, DockerOptions};
use replog_node::api::Role;
use std::sync::atomic::AtomicBool;
use std::sync::{mpsc, Arc};

/// The blocking part of [`DockerCluster::start`].
pub(super) fn start_blocking(
    options: DockerOptions,
    cancel: &AtomicBool,
) -> Result<DockerCluster, String> {
    docker(&["version", "--format", "{{.Server.Version}}"])
        .map_err(|e| format!("cannot talk to the Docker daemon (is it running?): {e}"))?;
    let compose = detect_compose()?;
    ensure_image(&options.compose_file)?;
    let project = Project {
        compose,
        file: options.compose_file.clone(),
        name: options.project.clone(),
        env: options.env.clone(),
        token: options.token.clone(),
    };
    // We remove the project on exit: never adopt someone else's.
    if !project.containers()?.is_empty() {
        return Err(format!(
            "compose project {} already has containers; pick another --project, \
             or remove it with `REPLOG_CLUSTER_TOKEN=any docker-compose -p {} down -v`",
            project.name, project.name
        ));
    }
    register(project.clone());
    let started = bring_up(&project, &options, cancel);
    if started.is_err() {
        if let Err(e) = project.down() {
            eprintln!("replog: warning: {e}");
        }
        unregister(&project.name);
    }
    started
}

fn bring_up(
    project: &Project,
    options: &DockerOptions,
    cancel: &AtomicBool,
) -> Result<DockerCluster, String> {
    eprintln!(
        "replog: starting compose project {} from {}",
        project.name,
        project.file.display()
    );
    run(&mut project.command(&["up", "-d"]), COMPOSE_LIMIT)?;
    let ids = project.containers()?;
    let mut found: Vec<(Target, Node, Seen)> = inspect(&ids)?.iter().map(describe).collect();
    // Primary first, then secondaries by name: the dashboard's order.
    found.sort_by(|a, b| {
        (a.1.role != Role::Primary, &a.1.id).cmp(&(b.1.role != Role::Primary, &b.1.id))
    });
    // Members elect their primary: none is one by configuration.
    let members = found.iter().any(|(_, n, _)| n.elects);
    if !members && !found.iter().any(|(_, n, _)| n.role == Role::Primary) {
        return Err(format!(
            "{} starts no primary (no container runs `node primary` or `node member`)",
            project.file.display()
        ));
    }
    let secondaries = found.len().saturating_sub(1);
    if secondaries != options.secondaries {
        eprintln!(
            "replog: note: {} defines {secondaries} secondaries; --secondaries does not apply with --docker",
            project.file.display()
        );
    }
    for (t, n, now) in &found {
        if now.url.is_none() {
            return Err(format!(
                "{} ({}) publishes no port for {NODE_PORT} (status {})",
                n.id, t.name, now.status
            ));
        }
    }
    // Wait for all of them at once.
    let failures: Vec<String> = std::thread::scope(|scope| {
        let waits: Vec<_> = found
            .iter()
            .map(|(_, n, _)| {
                let (url, generation) = (n.url.clone(), n.generation.clone());
                let wait = scope.spawn(move || probe_until_ready(url, generation, 0, cancel));
                (n.id.clone(), wait)
            })
            .collect();
        waits
            .into_iter()
            .filter_map(|(id, wait)| match wait.join() {
                Ok(Some(Ok(_))) => None,
                Ok(Some(Err(why))) => Some(format!("node {id} {why}")),
                Ok(None) => Some("interrupted".into()),
                Err(_) => Some(format!("node {id}: waiting for it failed")),
            })
            .collect()
    });
    if let Some(first) = failures.into_iter().next() {
        return Err(first);
    }
    // Compose starts the nodes together, so the primary may have given up
    // on a secondary that came up after it; the cluster is ready when the
    // primary sees them all (commands such as `wait s1 unhealthy` rely on
    // that). Not fatal: the dashboard shows what is wrong.
    if members {
        let urls: Vec<String> = found.iter().map(|(_, n, _)| n.url.clone()).collect();
        if !elected(&urls, secondaries, cancel) {
            eprintln!(
                "replog: note: no member leads with every other one healthy after {PRIMARY_VIEW_TIMEOUT:?}; going on"
            );
        }
    } else if let Some((_, primary, _)) = found.iter().find(|(_, n, _)| n.role == Role::Primary) {
        if !primary_sees_all(&primary.url, secondaries, cancel) {
            eprintln!(
                "replog: note: the primary does not see every secondary healthy after {PRIMARY_VIEW_TIMEOUT:?}; going on"
            );
        }
    }
    let (targets, mut nodes): (Vec<Target>, Vec<Node>) =
        found.into_iter().map(|(t, n, _)| (t, n)).unzip();
    for n in &mut nodes {
        n.process.phase = Phase::Running;
    }
    let targets = Arc::new(targets);
    let (jobs_tx, jobs_rx) = mpsc::channel();
    let (reports_tx, reports) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let handle = std::thread::Builder::new()
        .name("docker-worker".into())
        .spawn({
            let (targets, reports_tx, stop) = (targets.clone(), reports_tx.clone(), stop.clone());
            let project = project.clone();
            move || worker::run(targets, project, jobs_rx, reports_tx, stop)
        })
        .map_err(|e| format!("cannot start the Docker worker thread: {e}"))?;
    Ok(DockerCluster {
        project: project.clone(),
        targets,
        nodes,
        jobs: Some(jobs_tx),
        reports_tx,
        reports,
        stop,
        worker: Some(handle),
        down: false,
    })
}
