//! Log lines gathered into batches before they reach the non-blocking writer.
//!
//! `tracing_appender::non_blocking` hands every line to its writer thread as
//! its own channel message: one allocation, one wake-up of that thread and,
//! as its queue keeps running empty under load, one `write` call per line.
//! With one `info` line per client write that was about 7% of the primary's
//! CPU, half of it the writer thread parking and being woken. Here a line is
//! appended to a shared buffer under a short lock; a flusher thread wakes
//! once per burst (the second line of a burst into an empty buffer rings
//! it), lets the burst gather until [`LINGER`] after the previous hand-over,
//! and passes it on as one message. A line that follows the previous one
//! by more than [`BURST_GAP`] (a quiet node, or a secondary's one line per
//! batch) goes to the writer thread at once, as before: batching such lines
//! would only add the flusher's wake-ups (a profile of a secondary showed
//! exactly that). No line waits longer than [`LINGER`]; nothing is dropped,
//! and the order is the order in which lines took the lock.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use tracing_appender::non_blocking::NonBlocking;
use tracing_subscriber::fmt::MakeWriter;

/// How long the first line of a burst waits for the rest: long enough to
/// batch a hundred lines and more under load, short against anyone reading
/// the file. Each hand-over wakes two threads (the flusher, the writer):
/// in a profile of the primary under load the two took 7% of its samples
/// at 1 ms, 3.3% at 4 ms.
pub const LINGER: Duration = Duration::from_millis(4);

/// Lines closer together than this are a burst, worth batching: the
/// primary under load logs one every 20-30 µs; a secondary under the same
/// load logs one per batch, about one a millisecond.
pub const BURST_GAP: Duration = Duration::from_micros(200);

/// A buffer this large is passed on at once by the line that filled it, so
/// memory stays bounded whatever the flusher's delay.
const FULL_BYTES: usize = 64 * 1024;

struct Pending {
    buf: Vec<u8>,
    out: NonBlocking,
    /// When a batch was last handed over.
    passed_at: Instant,
    /// When the last line came.
    line_at: Instant,
    /// Set at shutdown: the flusher drains and ends.
    closed: bool,
}

impl Pending {
    /// Hands what is buffered to the writer thread as one message. With the
    /// lossless writer this waits when its queue is full (backpressure, as
    /// before), holding the lock so that no line overtakes another.
    fn pass_on(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        // Nobody to tell if the writer thread is gone; the process is ending.
        let _ = self.out.write_all(&self.buf);
        self.buf.clear();
        self.passed_at = Instant::now();
    }
}

struct Shared {
    pending: Mutex<Pending>,
    /// Rung by the first line into an empty buffer, and at shutdown.
    ring: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding it leaves at worst a partial line.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The `MakeWriter` given to the formatter: each event writes one line.
#[derive(Clone)]
pub struct Batched {
    shared: Arc<Shared>,
}

/// Keep it alive until the process ends: dropping it passes on what is
/// still buffered and stops the flusher. Drop it before the
/// `tracing_appender` guard, which then writes everything out.
pub struct BatchGuard {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
}

/// Wraps `out`; fails only if the flusher thread cannot be started.
pub fn batched(out: NonBlocking) -> io::Result<(Batched, BatchGuard)> {
    let shared = Arc::new(Shared {
        pending: Mutex::new(Pending {
            buf: Vec::with_capacity(FULL_BYTES),
            out,
            passed_at: Instant::now(),
            line_at: Instant::now(),
            closed: false,
        }),
        ring: Condvar::new(),
    });
    let flusher = {
        let shared = shared.clone();
        thread::Builder::new()
            .name("replog-log-batcher".into())
            .spawn(move || flush_loop(&shared))?
    };
    Ok((
        Batched {
            shared: shared.clone(),
        },
        BatchGuard {
            shared,
            flusher: Some(flusher),
        },
    ))
}

fn flush_loop(shared: &Shared) {
    let mut pending = shared.lock();
    loop {
        // Both conditions are checked under the lock: no ring is missed.
        while pending.buf.is_empty() && !pending.closed {
            pending = shared.ring.wait(pending).unwrap_or_else(|e| e.into_inner());
        }
        if pending.closed {
            break;
        }
        let due = pending.passed_at + LINGER;
        drop(pending);
        thread::sleep(due.saturating_duration_since(Instant::now()));
        pending = shared.lock();
        pending.pass_on();
    }
    pending.pass_on();
}

impl Drop for BatchGuard {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.ring.notify_one();
        if let Some(handle) = self.flusher.take() {
            let _ = handle.join();
        }
        // Lines logged after the flusher ended (other threads still
        // running) are passed on directly.
        self.shared.lock().pass_on();
    }
}

/// One event's writer. The formatter writes a whole line in one call.
pub struct LineWriter<'a> {
    shared: &'a Shared,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let mut pending = self.shared.lock();
        if pending.closed {
            // Shutting down: no flusher any more, straight through.
            pending.buf.extend_from_slice(line);
            pending.pass_on();
            return Ok(line.len());
        }
        let now = Instant::now();
        let quiet = now.saturating_duration_since(pending.line_at) >= BURST_GAP;
        pending.line_at = now;
        let was_empty = pending.buf.is_empty();
        pending.buf.extend_from_slice(line);
        if pending.buf.len() >= FULL_BYTES || (was_empty && quiet) {
            pending.pass_on();
        } else if was_empty {
            drop(pending);
            self.shared.ring.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Batched {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            shared: &self.shared,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A sink that reports every write it gets, as the writer thread would.
    #[derive(Clone)]
    struct Sink(Arc<Mutex<mpsc::Sender<Vec<u8>>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let tx = self.0.lock().unwrap_or_else(|e| e.into_inner());
            let _ = tx.send(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn setup() -> (
        Batched,
        BatchGuard,
        tracing_appender::non_blocking::WorkerGuard,
        mpsc::Receiver<Vec<u8>>,
    ) {
        let (tx, rx) = mpsc::channel();
        let (nb, worker) = tracing_appender::non_blocking(Sink(Arc::new(Mutex::new(tx))));
        let (batched, guard) = batched(nb).expect("flusher thread");
        (batched, guard, worker, rx)
    }

    #[test]
    fn a_burst_arrives_in_order_and_soon() {
        let (batched, guard, worker, rx) = setup();
        for i in 0..100 {
            let _ = writeln!(batched.make_writer(), "line {i}");
        }
        let got = rx.recv_timeout(Duration::from_secs(5)).expect("a batch");
        let expected: String = (0..100).map(|i| format!("line {i}\n")).collect();
        // A quiet writer's first line goes at once, the rest of the burst
        // as one write (a slow machine may split it further).
        let mut text = String::from_utf8_lossy(&got).into_owned();
        while text.len() < expected.len() {
            let more = rx.recv_timeout(Duration::from_secs(5)).expect("the rest");
            text.push_str(&String::from_utf8_lossy(&more));
        }
        assert_eq!(text, expected);
        // A later line is not held back by the first batch.
        thread::sleep(LINGER + BURST_GAP);
        let _ = writeln!(batched.make_writer(), "later");
        let got = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("a second batch");
        assert_eq!(got, b"later\n");
        drop(guard);
        drop(worker);
    }

    #[test]
    fn dropping_the_guards_writes_everything_out() {
        let (batched, guard, worker, rx) = setup();
        for i in 0..10 {
            let _ = writeln!(batched.make_writer(), "line {i}");
        }
        drop(guard);
        // After the flusher stopped, lines still go straight through.
        let _ = writeln!(batched.make_writer(), "after");
        drop(worker);
        let all: Vec<u8> = rx.try_iter().flatten().collect();
        let expected: String = (0..10)
            .map(|i| format!("line {i}\n"))
            .chain(["after\n".to_string()])
            .collect();
        assert_eq!(String::from_utf8_lossy(&all), expected);
    }
}
