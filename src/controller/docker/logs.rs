//! A container's `docker logs` tail, for the dashboard. The engine asks
//! through [`super::DockerCluster`]'s `log_tail` as often as the cluster's
//! capabilities say (a process launch each time), never on its draw path.

use std::io::Read;
use std::process::{Command, Stdio};

/// `docker logs --tail N` with stdout and stderr in one stream, as they
/// were written (nodes print their address on stdout, logs on stderr).
pub(super) fn container_logs(container: &str, lines: usize) -> Vec<String> {
    let text = (|| -> std::io::Result<String> {
        let (mut reader, writer) = std::io::pipe()?;
        let mut cmd = Command::new("docker");
        cmd.args(["logs", "--tail", &lines.to_string(), container])
            .stdin(Stdio::null())
            .stdout(writer.try_clone()?)
            .stderr(writer);
        let mut child = cmd.spawn()?;
        // Our copies of the pipe's write end must go, or reading never ends.
        drop(cmd);
        let mut text = String::new();
        reader.read_to_string(&mut text)?;
        child.wait()?;
        Ok(text)
    })();
    match text {
        Ok(text) => {
            let all: Vec<String> = text.lines().map(str::to_string).collect();
            all[all.len().saturating_sub(lines)..].to_vec()
        }
        Err(e) => vec![format!("(cannot read docker logs {container}: {e})")],
    }
}
