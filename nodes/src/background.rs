//! Background threads yield to the threads that answer requests.
//!
//! A node answers every request on one runtime thread. Its group-commit
//! thread does work that answers wait for in bulk (one round serves many
//! writes), so a round that starts a little later costs little and gathers
//! more. Under Linux's default policy a
//! thread that wakes up may preempt the one running on its CPU, and on a
//! machine with few cores that is often a node's runtime thread, in the
//! middle of a request. `SCHED_BATCH` keeps a thread's share of the CPU
//! but drops that preemption: it runs on an idle core, or when the current
//! thread's slice ends.
//!
//! Only the group-commit thread is marked. Measured in alternating runs of
//! disk clusters (`bench --primary … --bare …`, 2 cores), 64 clients:
//! disk w=1 0.45–0.50× of the bare append (mean 0.47) against 0.38–0.44×
//! (0.41), disk w=3 0.37–0.43× (0.39) against 0.32–0.39× (0.36), and p99
//! 4.0–5.0 ms against 4.7–6.4 ms. One client alone: p50 within 0.03 ms
//! either way. The log's writer threads marked as well gained nothing more
//! that the runs could show, so they keep the default policy.

/// Marks the calling thread `SCHED_BATCH`. Best effort: where the call is
/// refused (it never is on Linux, which lets any thread lower its own
/// policy), the thread keeps the default one.
pub fn yield_on_wakeup() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: `param` is a valid `sched_param` for the duration of the
        // call; pid 0 means the calling thread.
        let done = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
        if done != 0 {
            tracing::debug!(
                error = %std::io::Error::last_os_error(),
                "background thread keeps the default scheduling policy"
            );
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn the_calling_thread_becomes_sched_batch() {
        let policy = std::thread::spawn(|| {
            super::yield_on_wakeup();
            // SAFETY: pid 0 is the calling thread.
            unsafe { libc::sched_getscheduler(0) }
        })
        .join()
        .expect("join");
        assert_eq!(policy, libc::SCHED_BATCH);
        // Only that thread.
        // SAFETY: as above.
        assert_eq!(unsafe { libc::sched_getscheduler(0) }, libc::SCHED_OTHER);
    }
}
