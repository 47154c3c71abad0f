//! What the Docker tests share: the repository, their environment flags,
//! the image under test, and skipping when Docker is not usable.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn env_flag(name: &str) -> bool {
    matches!(
        std::env::var(name).as_deref(),
        Ok("1") | Ok("true") | Ok("yes")
    )
}

/// What `setup` found, or None when Docker is not usable: the test prints
/// "skipping: …" and passes, unless `REPLOG_REQUIRE_DOCKER=1` (CI), which
/// makes that a failure.
pub fn usable<T>(setup: Result<T, String>) -> Option<T> {
    match setup {
        Ok(found) => Some(found),
        Err(why) if env_flag("REPLOG_REQUIRE_DOCKER") => {
            panic!("REPLOG_REQUIRE_DOCKER=1 but docker is not usable: {why}")
        }
        Err(why) => {
            eprintln!("skipping: docker not available ({why})");
            None
        }
    }
}

/// The image under test, built (or found up to date) by
/// docker/build-image.sh, so the nodes in the containers run the code under
/// test. `REPLOG_IMAGE` names it (default `replog:local`);
/// `REPLOG_SKIP_IMAGE_BUILD=1` uses it as it is. `run` runs a command to
/// completion: its stdout, or an error quoting the command.
pub fn ensure_image(run: fn(&mut Command) -> Result<String, String>) -> String {
    let image = std::env::var("REPLOG_IMAGE").unwrap_or_else(|_| "replog:local".into());
    if env_flag("REPLOG_SKIP_IMAGE_BUILD") {
        run(Command::new("docker").args(["image", "inspect", &image]))
            .unwrap_or_else(|e| panic!("REPLOG_SKIP_IMAGE_BUILD=1 but no image {image}: {e}"));
        return image;
    }
    let started = Instant::now();
    run(Command::new("bash")
        .arg(repo().join("docker/build-image.sh"))
        .env("REPLOG_IMAGE", &image)
        .current_dir(repo()))
    .unwrap_or_else(|e| panic!("docker/build-image.sh failed:\n{e}"));
    eprintln!("image {image} ready in {:.1?}", started.elapsed());
    image
}
