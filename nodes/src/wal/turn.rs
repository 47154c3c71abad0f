//! One round writes at a time.
//!
//! A round of group commit writes its records and fsyncs without the log's
//! lock. Anything else that touches the files (the next round, a roll, a
//! cut of the log, a clear) first waits for the round in flight to finish
//! writing, by taking the turn. Rounds are one after another on one thread,
//! so this is only ever waited on when the log changes hands (a node's role
//! changes while a round runs) or is cut: rare paths.
//!
//! The turn also carries whether the last round's write failed, for the
//! case where that round's outcome never reaches the log (its role retired
//! it): the next turn then knows the file may have a hole after the
//! durable records.

use std::sync::{Arc, Condvar, Mutex};

#[derive(Debug, Default)]
pub struct Turns {
    state: Mutex<State>,
    free: Condvar,
}

#[derive(Debug, Default)]
struct State {
    taken: bool,
    /// The last turn's write failed, and no turn has been told since.
    failed: bool,
}

/// The right to write the log's files, until dropped or [`end`](Turn::end)ed.
#[derive(Debug)]
pub struct Turn {
    turns: Arc<Turns>,
    failed: bool,
}

impl Turns {
    /// Waits until no round is writing, then takes the turn. Also returns
    /// whether a turn's write failed since the last take.
    pub fn take(self: &Arc<Self>) -> (Turn, bool) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while state.taken {
            state = self.free.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.taken = true;
        let failed = std::mem::take(&mut state.failed);
        let turn = Turn {
            turns: Arc::clone(self),
            failed: false,
        };
        (turn, failed)
    }
}

impl Turn {
    /// Gives the turn back, saying whether its write failed.
    pub fn end(mut self, failed: bool) {
        self.failed = failed;
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut state = self.turns.state.lock().unwrap_or_else(|e| e.into_inner());
        state.taken = false;
        state.failed |= self.failed;
        self.turns.free.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_second_take_waits_for_the_first_turn_and_hears_of_its_failure() {
        let turns = Arc::new(Turns::default());
        let (first, failed) = turns.take();
        assert!(!failed);
        let (sender, receiver) = std::sync::mpsc::channel();
        let other = Arc::clone(&turns);
        let waiter = std::thread::spawn(move || {
            let (_turn, failed) = other.take();
            sender.send(failed).expect("send");
        });
        // The waiter cannot have its turn while the first is held.
        assert!(receiver.recv_timeout(Duration::from_millis(100)).is_err());
        first.end(true);
        assert_eq!(receiver.recv_timeout(Duration::from_secs(10)), Ok(true));
        waiter.join().expect("join");
        // Told once.
        assert!(!turns.take().1);
    }
}
