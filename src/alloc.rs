//! The process's memory allocator: mimalloc instead of glibc's malloc.
//!
//! Under the benchmark's w=3 load the primary spent 11% of its CPU in glibc's
//! malloc and free (each request's headers, futures and buffers, an entry
//! per write); with mimalloc its writes/s rose by about a tenth (w=3 0.55× →
//! 0.61× the bare append, which runs on it too, in interleaved runs). The
//! stable line (v2), linked statically: the binary needs no new library, in
//! Docker either.
//!
//! One option changes: mimalloc returns freed memory to the OS after a
//! delay (10 ms), and under load those returns showed as latency spikes
//! (w=3 p99 2.4-2.7 ms with them, 1.6-1.7 ms without, interleaved runs).
//! A node's memory is its log, which only grows (entries are never freed
//! while the process runs, bar a rollback), so keeping freed pages for
//! reuse costs little.

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (`mimalloc.h`, v2):
/// libmimalloc-sys does not name it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Call first thing in `main`, before other threads start (mimalloc's
/// option setters are not thread-safe).
pub fn configure() {
    // SAFETY: sets a numeric option of the allocator this binary links
    // (`#[global_allocator]` in main.rs); no other thread exists yet.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

#[cfg(test)]
mod tests {
    /// The option number is mimalloc's own: option 15 starts at v2's
    /// purge delay default (10 ms, unless MIMALLOC_PURGE_DELAY says
    /// otherwise) and reads back what we set. nextest runs each test in a
    /// process of its own, so nothing set it before.
    #[test]
    fn the_purge_delay_option_is_the_one_we_set() {
        let get = |option| unsafe { libmimalloc_sys::mi_option_get(option) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(get(super::MI_OPTION_PURGE_DELAY), 10);
        }
        super::configure();
        assert_eq!(get(super::MI_OPTION_PURGE_DELAY), -1);
    }
}
