//! The last lines of a node's log, read cheaply from the end of its files.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

const TAIL_BYTES: u64 = 16 * 1024;

/// The tail of a local node's log in `dir`: its current daily file
/// `<id>.log.YYYY-MM-DD`, then anything on its stderr (`<id>.stderr`: a
/// startup error, a panic), marked as such.
pub fn tail_node(dir: &Path, id: &str, lines: usize) -> Vec<String> {
    let stderr = tail(&stderr_file(dir, id), lines);
    let mut out = match current_log_file(dir, id) {
        Some(path) => tail(&path, lines),
        None if stderr.is_empty() => {
            return vec![format!("(no log yet for {id} in {})", dir.display())]
        }
        None => Vec::new(),
    };
    out.extend(stderr.into_iter().map(|l| format!("stderr: {l}")));
    let from = out.len().saturating_sub(lines);
    out.split_off(from)
}

/// Where a local node's stderr goes when it logs to `dir`.
pub fn stderr_file(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.stderr"))
}

/// The newest `<id>.log.<date>` in `dir` (the dates sort as text).
pub fn current_log_file(dir: &Path, id: &str) -> Option<PathBuf> {
    let prefix = format!("{}.", crate::logging::file_prefix(id));
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.starts_with(&prefix).then_some(name)
        })
        .max()
        .map(|name| dir.join(name))
}

/// The last `lines` lines of `path`; nothing if it is missing or empty.
pub fn tail(path: &Path, lines: usize) -> Vec<String> {
    let Ok(mut file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(TAIL_BYTES);
    if file.seek(SeekFrom::Start(start)).is_err() {
        return Vec::new();
    }
    let mut bytes = Vec::new();
    if file.read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut all: Vec<&str> = text.lines().collect();
    if start > 0 && !all.is_empty() {
        all.remove(0); // probably cut in the middle
    }
    let from = all.len().saturating_sub(lines);
    all[from..].iter().map(|l| l.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_newest_daily_file_and_appends_stderr() {
        let dir = std::env::temp_dir().join(format!("replog-log-tail-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let write = |name: &str, text: &str| {
            std::fs::write(dir.join(name), text).unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!(tail_node(&dir, "s1", 5).len(), 1, "a placeholder line");
        write("s1.log.2025-01-01", "old\n");
        write("s1.log.2025-01-02", "a\nb\nc\n");
        write("s10.log.2025-01-03", "another node\n");
        write("s1.stderr", "boom\n");
        assert_eq!(
            current_log_file(&dir, "s1"),
            Some(dir.join("s1.log.2025-01-02"))
        );
        assert_eq!(tail_node(&dir, "s1", 3), vec!["b", "c", "stderr: boom"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
