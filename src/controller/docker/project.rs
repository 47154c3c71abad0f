//! One compose project: bring it up, list its containers, take it down; and
//! its entry in the teardown registry that every exit path empties.

use super::super::teardown;
use super::cli::{docker, run, COMPOSE_LIMIT, STOP_GRACE_SECS};
use replog_node::auth::{ClusterToken, TOKEN_ENV};
use std::path::PathBuf;
use std::process::Command;

/// One compose project, enough to bring it up and tear it down.
#[derive(Clone, Debug)]
pub(super) struct Project {
    pub(super) compose: Vec<String>,
    pub(super) file: PathBuf,
    pub(super) name: String,
    pub(super) env: Vec<(String, String)>,
    /// Every compose command gets it: the compose file refuses to run without.
    pub(super) token: ClusterToken,
}

impl Project {
    pub(super) fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.compose[0]);
        cmd.args(&self.compose[1..])
            .arg("-p")
            .arg(&self.name)
            .arg("-f")
            .arg(&self.file)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env(TOKEN_ENV, self.token.expose());
        if let Some(dir) = self.file.parent().filter(|d| !d.as_os_str().is_empty()) {
            cmd.current_dir(dir);
        }
        cmd
    }

    pub(super) fn down(&self) -> Result<(), String> {
        run(
            &mut self.command(&[
                "down",
                "-v",
                "--remove-orphans",
                "--timeout",
                STOP_GRACE_SECS,
            ]),
            COMPOSE_LIMIT,
        )
        .map(drop)
    }

    /// Container ids of the project, whatever their state.
    pub(super) fn containers(&self) -> Result<Vec<String>, String> {
        let filter = format!("label=com.docker.compose.project={}", self.name);
        Ok(
            docker(&["ps", "-a", "-q", "--no-trunc", "--filter", &filter])?
                .split_whitespace()
                .map(str::to_string)
                .collect(),
        )
    }
}

/// The project's name in the teardown registry. A SIGKILL of replog still
/// leaves it running: remove it with
/// `REPLOG_CLUSTER_TOKEN=any docker-compose -p NAME down -v`.
fn registered(name: &str) -> String {
    format!("compose project {name}")
}

/// Called before `compose up`, so that a panic or a signal during startup
/// removes what it created.
pub(super) fn register(project: Project) {
    let what = registered(&project.name);
    teardown::register(what, move || {
        eprintln!("replog: removing compose project {}", project.name);
        if let Err(e) = project.down() {
            eprintln!("replog: warning: {e}");
        }
    });
}

pub(super) fn unregister(name: &str) {
    teardown::unregister(&registered(name));
}
