//! replog's terminal dashboard: a pure view model, key handling and ratatui
//! rendering. The controller owns all I/O: it fills [`DashboardState`] from
//! the nodes' HTTP APIs, calls [`draw`] every frame and executes the
//! command lines that [`handle_key`] returns (the controller's
//! command language: the dashboard knows none of its types).

pub mod bindings;
pub mod keys;
pub mod model;
pub mod render;

pub use keys::handle_key;
pub use model::*;
pub use render::draw;
