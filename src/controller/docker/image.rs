//! Where the compose file and the Docker image come from: the working
//! directory, or the replog checkout this binary was built in.

use super::cli::docker;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const DEFAULT_IMAGE: &str = "replog:local";

/// Directories that may be the replog checkout: the one holding the
/// `target/` dir this binary was built into, then the working directory and
/// its parents.
fn checkout_candidates() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        let exe = exe.canonicalize().unwrap_or(exe);
        if let Some(target) = exe.ancestors().find(|d| d.ends_with("target")) {
            if let Some(repo) = target.parent() {
                dirs.push(repo.to_path_buf());
            }
        }
    }
    if let Ok(cwd) = std::env::current_dir() {
        dirs.extend(cwd.ancestors().map(Path::to_path_buf));
    }
    dirs
}

/// `./docker-compose.yml` (or `compose.yaml` & co.), else the one in the
/// checkout next to this binary.
pub(super) fn find_compose_file() -> Result<PathBuf, String> {
    const NAMES: [&str; 4] = [
        "docker-compose.yml",
        "docker-compose.yaml",
        "compose.yaml",
        "compose.yml",
    ];
    let cwd = std::env::current_dir().ok();
    let exe_repo = checkout_candidates()
        .into_iter()
        .find(|d| d.join("docker/build-image.sh").is_file());
    for dir in cwd.into_iter().chain(exe_repo) {
        if let Some(file) = NAMES.iter().map(|n| dir.join(n)).find(|f| f.is_file()) {
            return Ok(file);
        }
    }
    Err(
        "no docker-compose.yml here or in the replog checkout of this binary; \
         run from the checkout or pass --compose-file PATH"
            .into(),
    )
}

/// `docker/compose-failover.yml` of the replog checkout (members n1, n2,
/// n3), from the working directory or next to this binary.
pub(super) fn find_failover_compose_file() -> Result<PathBuf, String> {
    const FILE: &str = "docker/compose-failover.yml";
    let cwd = std::env::current_dir().ok();
    cwd.into_iter()
        .chain(checkout_candidates())
        .map(|d| d.join(FILE))
        .find(|f| f.is_file())
        .ok_or_else(|| {
            format!(
                "no {FILE} here or in the replog checkout of this binary; \
                 run from the checkout or pass --compose-file PATH"
            )
        })
}

fn image_name() -> String {
    std::env::var("REPLOG_IMAGE")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_IMAGE.into())
}

/// Builds the image with docker/build-image.sh when it is missing; an
/// existing image is used as it is (rebuild it by hand after changes).
pub(super) fn ensure_image(compose_file: &Path) -> Result<(), String> {
    let image = image_name();
    if docker(&["image", "inspect", "--format", "{{.Id}}", &image]).is_ok() {
        return Ok(());
    }
    let mut dirs = checkout_candidates();
    if let Some(dir) = compose_file.parent() {
        dirs.push(dir.to_path_buf());
    }
    let Some(script) = dirs
        .iter()
        .map(|d| d.join("docker/build-image.sh"))
        .find(|s| s.is_file())
    else {
        return Err(format!(
            "Docker image {image} not found; build it with docker/build-image.sh in the replog checkout"
        ));
    };
    eprintln!(
        "replog: Docker image {image} not found; building it with {}",
        script.display()
    );
    // Its progress goes to stderr: stdout is the headless protocol.
    let status = Command::new("bash")
        .arg(&script)
        .env("REPLOG_IMAGE", &image)
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::io::stderr()))
        .stderr(Stdio::inherit())
        .status()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} failed ({status}); see its output above",
            script.display()
        ))
    }
}
