//! `export [NAME]` (key `e`): the run as files a class can keep and load
//! elsewhere: the timeline as JSONL and CSV, every node's log (visible and
//! held entries) as JSONL, and every journey (the nodes' journal events,
//! in time order) as JSONL, in a new directory of the run directory.

use super::Engine;
use crate::controller::outcome::CommandError;
use replog_tui::model::EventLine;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};

impl Engine {
    /// Writes the export after a fresh look at every node; returns where.
    pub async fn export(&mut self, name: Option<String>) -> Result<PathBuf, CommandError> {
        self.refresh().await;
        let stamp = super::super::clock::now_label().replace([':', '.'], "");
        let name = name.unwrap_or_else(|| format!("export-{stamp}"));
        let dir = self.cluster.export_dir().join(name);
        // Every journey, as the journals' raw events (a node without
        // `--journal` adds none).
        let (mut journal, _) = self.journals().await;
        journal.sort_by_key(|(node, e)| (e.at_ms, node.clone(), e.id));
        let journal: Vec<serde_json::Value> = journal
            .into_iter()
            .filter_map(|(node, e)| {
                let mut row = serde_json::to_value(e).ok()?;
                row.as_object_mut()?.insert("node".into(), node.into());
                Some(row)
            })
            .collect();
        write_all(&dir, &self.state.events, &self.node_rows(), &journal).map_err(|e| {
            CommandError::Export {
                path: dir.display().to_string(),
                why: e.to_string(),
            }
        })?;
        self.exported = true;
        Ok(dir)
    }

    /// Whether an export was written (the run directory then stays).
    pub fn exported(&self) -> bool {
        self.exported
    }

    /// One JSON object per log entry of every node, visible ones first.
    fn node_rows(&self) -> Vec<serde_json::Value> {
        let mut rows = Vec::new();
        for node in &self.state.nodes {
            for (seq, text) in &node.messages {
                rows.push(json!({"node": node.id, "seq": seq, "text": text, "held": false}));
            }
            for (seq, text) in &node.held {
                rows.push(json!({"node": node.id, "seq": seq, "text": text, "held": true}));
            }
        }
        rows
    }
}

fn write_all(
    dir: &Path,
    events: &[EventLine],
    logs: &[serde_json::Value],
    journal: &[serde_json::Value],
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut jsonl = Vec::new();
    let mut csv = b"at,kind,text\n".to_vec();
    for e in events {
        let row = json!({"at": e.at, "kind": e.kind.as_str(), "text": e.text});
        writeln!(jsonl, "{row}")?;
        writeln!(
            csv,
            "{},{},{}",
            field(&e.at),
            e.kind.as_str(),
            field(&e.text)
        )?;
    }
    std::fs::write(dir.join("timeline.jsonl"), jsonl)?;
    std::fs::write(dir.join("timeline.csv"), csv)?;
    let lines = |rows: &[serde_json::Value]| -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        for row in rows {
            writeln!(out, "{row}")?;
        }
        Ok(out)
    };
    std::fs::write(dir.join("logs.jsonl"), lines(logs)?)?;
    std::fs::write(dir.join("journeys.jsonl"), lines(journal)?)
}

/// A CSV field (RFC 4180): quoted when it holds a comma, quote or newline.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a, b"), "\"a, b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
