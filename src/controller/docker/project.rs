//! One compose project (bring it up, list its containers, take it down) and
//! the registry of live projects that every exit path tears down.

use super::cli::{docker, run, COMPOSE_LIMIT, STOP_GRACE_SECS};
use replog_node::auth::{ClusterToken, TOKEN_ENV};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, MutexGuard, Once};

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

// --- teardown on every exit path ------------------------------------------------

/// Projects that are up, for the panic hook and signals (which cannot reach
/// the cluster). A SIGKILL of replog still leaves them running: remove them
/// with `REPLOG_CLUSTER_TOKEN=any docker-compose -p NAME down -v`.
static LIVE: Mutex<Vec<Project>> = Mutex::new(Vec::new());

fn live() -> MutexGuard<'static, Vec<Project>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Called before `compose up`, so that a panic or a signal during startup
/// removes what it created.
pub(super) fn register(project: Project) {
    live().push(project);
}

pub(super) fn unregister(name: &str) {
    live().retain(|p| p.name != name);
}

/// Removes every registered project; safe to call from a panic hook.
pub(super) fn teardown_registered() {
    let projects: Vec<Project> = std::mem::take(&mut *live());
    for project in projects {
        eprintln!("replog: removing compose project {}", project.name);
        if let Err(e) = project.down() {
            eprintln!("replog: warning: {e}");
        }
    }
}

/// Chains teardown after the hook already installed (the one that gives the
/// terminal back), once per process.
pub(super) fn install_panic_teardown() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            teardown_registered();
        }));
    });
}
