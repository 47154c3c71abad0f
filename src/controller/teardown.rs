//! The one registry of what replog started and must take down on every exit
//! path (node processes, compose projects), and the one panic hook that
//! empties it. A panic cannot reach the cluster object, and a signal during
//! start-up arrives before there is one; so each resource registers how to
//! end it the moment it exists, and unregisters once it ended normally.

use std::sync::{Mutex, MutexGuard, Once};

type Ender = Box<dyn FnOnce() + Send>;

/// (what, how to end it), in the order they were started.
static LIVE: Mutex<Vec<(String, Ender)>> = Mutex::new(Vec::new());

fn live() -> MutexGuard<'static, Vec<(String, Ender)>> {
    // A panic while the lock was held must not stop the teardown.
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Registers `end` under `what` (e.g. "pid 123", "compose project x").
pub fn register(what: String, end: impl FnOnce() + Send + 'static) {
    live().push((what, Box::new(end)));
}

/// The resource ended normally: forget it.
pub fn unregister(what: &str) {
    live().retain(|(w, _)| w != what);
}

/// Ends everything still registered, newest first (the primary, started
/// last, goes before its secondaries); safe to call from a panic hook.
pub fn end_all() {
    let all = std::mem::take(&mut *live());
    for (_, end) in all.into_iter().rev() {
        end();
    }
}

/// On a panic: end what replog started, give the terminal back, then let
/// the default hook report. Installed once per process.
pub fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            end_all();
            super::terminal::leave();
            default(info);
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn ends_what_is_registered_and_nothing_unregistered() {
        let ended = Arc::new(AtomicUsize::new(0));
        for name in ["test a", "test b"] {
            let ended = ended.clone();
            register(name.into(), move || {
                ended.fetch_add(1, Ordering::SeqCst);
            });
        }
        unregister("test a");
        end_all();
        assert_eq!(ended.load(Ordering::SeqCst), 1);
        end_all();
        assert_eq!(ended.load(Ordering::SeqCst), 1, "each ends once");
    }
}
