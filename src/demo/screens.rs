//! `--screens DIR` (hidden, for tests): the dashboard as a class would see
//! a scenario's last step, drawn at the projector sizes into text files,
//! with the state as JSON beside them, so a test can check that what the
//! narration claims is on screen at every size.

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use replog_tui::model::DashboardState;
use std::path::Path;

pub const SIZES: [(u16, u16); 3] = [(80, 24), (100, 30), (120, 36)];

/// Writes `<name>-<w>x<h>.txt` for every size and `<name>.json`.
pub fn write(dir: &Path, name: &str, state: &DashboardState) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (w, h) in SIZES {
        let mut terminal =
            Terminal::new(TestBackend::new(w, h)).map_err(|e| format!("{w}x{h}: {e}"))?;
        terminal
            .draw(|f| replog_tui::render::draw(f, state))
            .map_err(|e| format!("{w}x{h}: {e}"))?;
        let buffer = terminal.backend().buffer();
        let mut text = String::new();
        for y in 0..h {
            let mut line = String::new();
            for x in 0..w {
                if let Some(cell) = buffer.cell((x, y)) {
                    line.push_str(cell.symbol());
                }
            }
            text.push_str(line.trim_end());
            text.push('\n');
        }
        let path = dir.join(format!("{name}-{w}x{h}.txt"));
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let json = serde_json::to_string_pretty(state).map_err(|e| e.to_string())?;
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, json).map_err(|e| format!("{}: {e}", path.display()))
}
