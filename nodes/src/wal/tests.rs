//! The log against real files: round trips, segment rolls, torn tails,
//! damage, metadata, and real disk faults on a small tmpfs.

use super::record::HEADER_LEN;
use super::*;
use crate::entry::Entry;
use crate::store::LogStore;
use proptest::prelude::*;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::test_dir::TempDir;

fn in_term(seq: u64, term: u64) -> Entry {
    Entry { term, ..entry(seq) }
}

fn entry(seq: u64) -> Entry {
    Entry::new(
        seq,
        format!("entry {seq} {}", "x".repeat(seq as usize % 13)),
    )
}

fn frame_len(seq: u64) -> u64 {
    (HEADER_LEN + entry(seq).message.len()) as u64
}

fn options(segment_bytes: u64) -> WalOptions {
    WalOptions {
        segment_bytes,
        ..WalOptions::new("n1")
    }
}

fn open(dir: &Path, segment_bytes: u64) -> DiskLog {
    DiskLog::open(dir, options(segment_bytes)).expect("open the log")
}

/// A log in `dir` holding seqs 1..=n, synced and closed.
fn write_log(dir: &Path, n: u64, segment_bytes: u64) {
    let mut log = open(dir, segment_bytes);
    for seq in 1..=n {
        log.append(entry(seq)).expect("append");
    }
    assert_eq!(log.sync().expect("sync"), n);
}

fn expected(n: u64) -> Vec<Entry> {
    (1..=n).map(entry).collect()
}

fn segment_files(dir: &Path) -> Vec<(u64, PathBuf)> {
    segment::list(dir).expect("list segments")
}

fn last_segment(dir: &Path) -> PathBuf {
    segment_files(dir).pop().expect("a segment").1
}

fn file_len(path: &Path) -> u64 {
    fs::metadata(path).expect("stat").len()
}

fn flip_byte(path: &Path, offset: u64) {
    let mut bytes = fs::read(path).expect("read segment");
    bytes[offset as usize] ^= 0x40;
    fs::write(path, bytes).expect("write segment");
}

fn truncate_file(path: &Path, len: u64) {
    fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.set_len(len))
        .expect("truncate");
}

// --- round trips and segments --------------------------------------------

#[test]
fn entries_survive_a_reopen() {
    let dir = TempDir::new("roundtrip");
    write_log(dir.path(), 100, segment::DEFAULT_SEGMENT_BYTES);
    let log = open(dir.path(), segment::DEFAULT_SEGMENT_BYTES);
    assert_eq!(log.all(), expected(100));
    assert_eq!((log.last_seq(), log.durable_seq()), (100, 100));
    assert_eq!(log.recovered().truncated, None);
    assert_eq!(log.segment_count(), 1);
}

#[test]
fn an_empty_log_reopens_empty_and_then_takes_appends() {
    let dir = TempDir::new("empty");
    drop(open(dir.path(), 1024));
    let mut log = open(dir.path(), 1024);
    assert_eq!((log.last_seq(), log.durable_seq()), (0, 0));
    assert!(log.all().is_empty());
    log.append(entry(1)).expect("append");
    assert_eq!(log.sync().expect("sync"), 1);
}

#[test]
fn segments_roll_at_the_size_limit_and_reads_cross_them() {
    let dir = TempDir::new("roll");
    write_log(dir.path(), 60, 200);
    let files = segment_files(dir.path());
    assert!(files.len() > 5, "expected several segments, got {files:?}");
    // Each file is named by its first seq, and none exceeds the limit unless
    // it holds a single record.
    let mut next = 1;
    for (base, path) in &files {
        assert_eq!(*base, next, "{}", path.display());
        let mut len = 0;
        while len < file_len(path) {
            len += frame_len(next);
            next += 1;
        }
        assert_eq!(len, file_len(path));
        assert!(len <= 200, "{} is {len} bytes", path.display());
    }

    let mut log = open(dir.path(), 200);
    assert_eq!(log.all(), expected(60));
    assert_eq!(log.range(7, 30, usize::MAX), expected(36)[6..].to_vec());
    assert_eq!(log.disk_bytes(), (1..=60).map(frame_len).sum::<u64>());
    // Appends after the reopen go on from the last segment.
    for seq in 61..=80 {
        log.append(entry(seq)).expect("append");
    }
    log.sync().expect("sync");
    drop(log);
    assert_eq!(open(dir.path(), 200).all(), expected(80));
}

#[test]
fn a_record_larger_than_a_segment_gets_one_to_itself() {
    let dir = TempDir::new("big");
    let mut log = open(dir.path(), 64);
    let big = Entry::new(1, "y".repeat(500));
    log.append(big.clone()).expect("append big");
    log.append(entry(2)).expect("append small");
    log.sync().expect("sync");
    drop(log);
    assert_eq!(segment_files(dir.path()).len(), 2);
    assert_eq!(open(dir.path(), 64).all(), vec![big, entry(2)]);
}

#[test]
fn an_append_out_of_order_is_refused() {
    let dir = TempDir::new("order");
    let mut log = open(dir.path(), 1024);
    let err = log.append(entry(2)).expect_err("seq 2 first");
    assert!(
        matches!(
            err,
            WalError::OutOfOrder {
                expected: 1,
                got: 2
            }
        ),
        "{err}"
    );
    assert_eq!(log.last_seq(), 0);
}

// --- group commit ---------------------------------------------------------

#[test]
fn one_fsync_covers_every_append_since_the_last() {
    let dir = TempDir::new("group");
    let mut log = open(dir.path(), 1 << 20);
    for seq in 1..=10 {
        log.append(entry(seq)).expect("append");
    }
    assert_eq!(log.durable_seq(), 0);
    assert_eq!(log.sync().expect("sync"), 10);
    assert_eq!(log.sync().expect("sync again"), 10); // nothing new: no fsync
    log.append(entry(11)).expect("append");
    assert_eq!(log.sync().expect("sync"), 11);
    let stats = log.stats();
    assert_eq!((stats.fsyncs, stats.entries_synced), (2, 11));
    assert!(log.since_last_sync().is_some());
}

#[test]
fn a_split_sync_covers_what_was_appended_before_it_began() {
    let dir = TempDir::new("split");
    let mut log = open(dir.path(), 1 << 20);
    log.append(entry(1)).expect("append");
    log.append(entry(2)).expect("append");
    let mut pending = log.begin_sync().expect("begin");
    // Appends go on while the fsync runs without the lock.
    log.append(entry(3)).expect("append");
    let result = pending.run();
    assert_eq!(log.finish_sync(pending, result).expect("finish"), 2);
    assert_eq!(log.sync().expect("sync"), 3);
}

/// A round fails in its write (a real one, on a read-only handle) or in its
/// fsync (EIO, as the kernel would report it): what it covered stays not
/// durable, and the next round writes it again from memory.
#[test]
fn a_failed_round_leaves_entries_not_durable_until_a_later_one_writes_them_again() {
    for fsync_fails in [false, true] {
        let dir = TempDir::new("roundfail");
        let mut log = open(dir.path(), 1 << 20);
        log.append(entry(1)).expect("append");
        log.sync().expect("sync");
        log.append(entry(2)).expect("append");
        let mut pending = log.begin_sync().expect("begin");
        let result = if fsync_fails {
            Err(WalError::io(
                "fsync",
                dir.path(),
                io::Error::from_raw_os_error(5),
            ))
        } else {
            pending.break_file();
            pending.run()
        };
        let err = log.finish_sync(pending, result).expect_err("failed round");
        assert!(err.io_kind().is_some(), "{err}");
        let action = if fsync_fails { "fsync" } else { "append" };
        assert!(err.to_string().contains(action), "{err}");
        assert_eq!(log.durable_seq(), 1);
        assert!(log.needs_sync());
        log.append(entry(3)).expect("append");
        assert_eq!(log.sync().expect("sync"), 3);
        drop(log);
        assert_eq!(open(dir.path(), 1 << 20).all(), expected(3));
    }
}

/// A node whose role changes while a round runs hands the log on, and the
/// round's outcome goes to the old role: a write that failed there must
/// still make the next round write the records again, or the file would
/// keep a hole where they should be.
#[test]
fn a_failed_round_whose_outcome_never_reached_the_log_is_written_again() {
    let dir = TempDir::new("lostround");
    let mut log = open(dir.path(), 1 << 20);
    for seq in 1..=3 {
        log.append(entry(seq)).expect("append");
    }
    let mut lost = log.begin_sync().expect("begin");
    lost.break_file();
    let err = lost.run().expect_err("a read-only handle cannot write");
    assert!(err.to_string().starts_with("storage: "), "{err}");
    drop(lost);
    log.append(entry(4)).expect("append");
    assert_eq!(log.sync().expect("sync"), 4);
    drop(log);
    let log = open(dir.path(), 1 << 20);
    assert_eq!(log.all(), expected(4));
    assert_eq!(log.recovered().truncated, None);
}

#[test]
fn with_fsync_never_a_round_writes_and_nothing_is_fsynced() {
    let dir = TempDir::new("never");
    let options = WalOptions {
        fsync: FsyncPolicy::Never,
        ..options(1 << 20)
    };
    let mut log = DiskLog::open(dir.path(), options).expect("open");
    log.append(entry(1)).expect("append");
    // Written by the next round, like with fsync batch, without the fsync.
    assert_eq!(log.durable_seq(), 0);
    assert_eq!(log.sync().expect("sync"), 1);
    assert_eq!(log.durable_seq(), 1);
    assert_eq!(log.stats().fsyncs, 0);
    drop(log);
    assert_eq!(file_len(&last_segment(dir.path())), frame_len(1));
}

// --- torn tails and damage ------------------------------------------------

/// Writes `n` records in segments of `segment_bytes`, cuts the last segment
/// to `cut` bytes, and checks that recovery keeps exactly the complete
/// records, leaves the file at their end, and that the log takes appends and
/// reopens afterwards.
fn check_torn_tail(n: u64, segment_bytes: u64, cut: u64) {
    let dir = TempDir::new("torn");
    write_log(dir.path(), n, segment_bytes);
    let files = segment_files(dir.path());
    let (base, path) = files.last().expect("a segment").clone();
    let full_len = file_len(&path);
    assert!(cut <= full_len);
    truncate_file(&path, cut);

    // The complete records in the cut file.
    let (mut kept, mut end) = (base - 1, 0);
    while kept < n && end + frame_len(kept + 1) <= cut {
        end += frame_len(kept + 1);
        kept += 1;
    }

    let mut log = open(dir.path(), segment_bytes);
    assert_eq!(log.all(), expected(kept), "cut at {cut}");
    assert_eq!(file_len(&path), end, "cut at {cut}");
    match &log.recovered().truncated {
        None => assert_eq!(cut, end, "nothing dropped only at a record boundary"),
        Some(t) => {
            assert_eq!((t.offset, t.dropped_bytes), (end, cut - end));
            assert_eq!(t.path, path);
        }
    }
    log.append(entry(kept + 1)).expect("append after recovery");
    log.sync().expect("sync after recovery");
    drop(log);
    let log = open(dir.path(), segment_bytes);
    assert_eq!(log.all(), expected(kept + 1));
    assert_eq!(log.recovered().truncated, None);
}

#[test]
fn a_torn_tail_is_cut_at_every_byte_offset_of_the_last_records() {
    // Two segments, so the last one starts at a seq other than 1.
    let (n, segment_bytes) = (15, 220);
    let dir = TempDir::new("torn-layout");
    write_log(dir.path(), n, segment_bytes);
    let files = segment_files(dir.path());
    let (last_base, last_path) = files.last().expect("a segment");
    let last_len = file_len(last_path);
    assert!(files.len() >= 2 && *last_base <= n - 2, "layout: {files:?}");
    drop(dir);
    // Every offset inside the last three records (and the boundaries).
    let from = last_len - (n - 2..=n).map(frame_len).sum::<u64>();
    for cut in from..=last_len {
        check_torn_tail(n, segment_bytes, cut);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn a_torn_tail_anywhere_in_the_last_segment_keeps_exactly_the_complete_records(
        n in 1u64..40,
        segment_bytes in 64u64..600,
        cut_fraction in 0.0f64..=1.0,
    ) {
        let dir = TempDir::new("torn-prop");
        write_log(dir.path(), n, segment_bytes);
        let last_len = file_len(&last_segment(dir.path()));
        drop(dir);
        check_torn_tail(n, segment_bytes, (last_len as f64 * cut_fraction) as u64);
    }
}

#[test]
fn zeroes_after_the_last_record_are_cut_off() {
    // Some filesystems extend a file with zeroes after a crash.
    let dir = TempDir::new("zeroes");
    write_log(dir.path(), 5, 1 << 20);
    let path = last_segment(dir.path());
    let len = file_len(&path);
    truncate_file(&path, len + 100);
    let log = open(dir.path(), 1 << 20);
    assert_eq!(log.all(), expected(5));
    assert_eq!(file_len(&path), len);
}

#[test]
fn the_active_segment_is_zero_filled_ahead_and_a_close_cuts_the_zeroes() {
    let dir = TempDir::new("prealloc");
    let mut log = open(dir.path(), segment::DEFAULT_SEGMENT_BYTES);
    for seq in 1..=5 {
        log.append(entry(seq)).expect("append");
    }
    log.sync().expect("sync");
    let path = last_segment(dir.path());
    let records: u64 = (1..=5).map(frame_len).sum();
    // The round wrote a chunk of zeroes past its records.
    assert_eq!(file_len(&path), records + segment::PREALLOCATE);
    // The next round's records fit in it.
    log.append(entry(6)).expect("append");
    log.sync().expect("sync");
    assert_eq!(file_len(&path), records + segment::PREALLOCATE);
    let records = records + frame_len(6);
    assert_eq!(log.disk_bytes(), records);
    drop(log);
    assert_eq!(file_len(&path), records);
}

#[test]
fn zero_filling_stops_at_the_segment_size_limit() {
    let dir = TempDir::new("prealloc-limit");
    let mut log = open(dir.path(), 300);
    log.append(entry(1)).expect("append");
    log.sync().expect("sync");
    assert_eq!(file_len(&last_segment(dir.path())), 300);
}

/// What a crash leaves of a log whose space was written ahead: its records,
/// then zeroes up to the file's end (in any segment, if a cut at a roll was
/// lost too).
#[test]
fn zeroes_written_ahead_read_as_the_end_of_a_segment_not_as_damage() {
    let dir = TempDir::new("zero-tail");
    write_log(dir.path(), 30, 200);
    let files = segment_files(dir.path());
    for (_, path) in [&files[0], files.last().expect("a segment")] {
        truncate_file(path, file_len(path) + 4096);
    }
    let mut log = open(dir.path(), 200);
    assert_eq!(log.all(), expected(30));
    assert_eq!(log.recovered().truncated, None);
    log.append(entry(31)).expect("append after the zeroes");
    log.sync().expect("sync");
    drop(log);
    assert_eq!(open(dir.path(), 200).all(), expected(31));
}

#[test]
fn zeroes_where_records_of_an_earlier_segment_were_are_a_gap_not_an_end() {
    // The next segment's name says where the records must resume, so
    // zeroes cannot hide lost ones.
    let dir = TempDir::new("zero-gap");
    write_log(dir.path(), 30, 200);
    let files = segment_files(dir.path());
    let (_, first) = &files[0];
    let len = file_len(first);
    let last_start = len - frame_len(files[1].0 - 1);
    truncate_file(first, last_start);
    truncate_file(first, len);
    let err = DiskLog::open(dir.path(), options(200)).expect_err("a record is missing");
    assert!(matches!(&err, WalError::Gap { .. }), "{err}");
}

/// An interrupted write into space written ahead can reach the disk in
/// pieces: a later block while an earlier one is still zeroes. The records
/// after such a block were never fsynced, so the log ends before the first
/// damaged record.
#[test]
fn a_torn_write_with_a_block_still_zero_is_cut_at_the_first_damaged_record() {
    let dir = TempDir::new("torn-block");
    let n = 200;
    write_log(dir.path(), n, segment::DEFAULT_SEGMENT_BYTES);
    let path = last_segment(dir.path());
    let mut bytes = fs::read(&path).expect("read");
    let full = bytes.len() as u64;
    let block = 2048;
    bytes[block..block + 512].fill(0);
    fs::write(&path, &bytes).expect("write");
    // The records wholly before the zeroed block stay.
    let (mut kept, mut end) = (0, 0);
    while end + frame_len(kept + 1) <= block as u64 {
        end += frame_len(kept + 1);
        kept += 1;
    }
    let log = open(dir.path(), segment::DEFAULT_SEGMENT_BYTES);
    assert_eq!(log.all(), expected(kept));
    let cut = log.recovered().truncated.clone().expect("a truncation");
    assert_eq!((cut.offset, cut.dropped_bytes), (end, full - end));
    assert!(cut.reason.contains("never finished"), "{}", cut.reason);
    assert_eq!(file_len(&path), end);
}

#[test]
fn a_damaged_record_in_the_middle_of_the_last_segment_fails_the_open_with_file_and_offset() {
    let dir = TempDir::new("mid");
    write_log(dir.path(), 10, 1 << 20);
    let path = last_segment(dir.path());
    let offset: u64 = (1..=4).map(frame_len).sum(); // record 5 starts here
    flip_byte(&path, offset + HEADER_LEN as u64 + 2); // in its text
    let err = DiskLog::open(dir.path(), options(1 << 20)).expect_err("damage in the middle");
    assert!(
        matches!(&err, WalError::Corrupt { offset: o, .. } if *o == offset),
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains(&format!("byte {offset}")), "{text}");
    // Nothing was cut.
    assert_eq!(file_len(&path), (1..=10).map(frame_len).sum::<u64>());
}

#[test]
fn a_damaged_length_in_the_middle_is_not_taken_for_a_torn_tail() {
    let dir = TempDir::new("midlen");
    write_log(dir.path(), 10, 1 << 20);
    let path = last_segment(dir.path());
    let offset: u64 = (1..=4).map(frame_len).sum();
    // Make record 5's length run past the end of the file: it looks torn,
    // but valid records follow it.
    let mut bytes = fs::read(&path).expect("read");
    bytes[offset as usize + 1] = 0x10; // + 4096 bytes
    fs::write(&path, bytes).expect("write");
    let err = DiskLog::open(dir.path(), options(1 << 20)).expect_err("damage in the middle");
    assert!(
        matches!(&err, WalError::Corrupt { offset: o, .. } if *o == offset),
        "{err}"
    );
    assert!(err.to_string().contains("seq 6"), "{err}");
}

#[test]
fn a_damaged_record_in_an_earlier_segment_fails_the_open() {
    let dir = TempDir::new("early");
    write_log(dir.path(), 30, 200);
    let files = segment_files(dir.path());
    let (_, first) = &files[0];
    let last_record_start = file_len(first) - frame_len(files[1].0 - 1);
    // Even the last record of a segment that is not the last one.
    flip_byte(first, last_record_start + HEADER_LEN as u64);
    let err = DiskLog::open(dir.path(), options(200)).expect_err("damage in a sealed segment");
    assert!(
        matches!(&err, WalError::Corrupt { path, offset, .. } if path == first && *offset == last_record_start),
        "{err}"
    );
}

#[test]
fn a_damaged_last_record_is_cut_off() {
    let dir = TempDir::new("lastrec");
    write_log(dir.path(), 10, 1 << 20);
    let path = last_segment(dir.path());
    let offset: u64 = (1..=9).map(frame_len).sum();
    flip_byte(&path, offset + HEADER_LEN as u64 + 3);
    let log = open(dir.path(), 1 << 20);
    assert_eq!(log.all(), expected(9));
    let cut = log.recovered().truncated.clone().expect("a truncation");
    assert_eq!((cut.offset, cut.dropped_bytes), (offset, frame_len(10)));
    assert!(cut.reason.contains("checksum"), "{}", cut.reason);
    assert_eq!(file_len(&path), offset);
}

#[test]
fn a_missing_segment_is_a_gap_naming_the_next_file() {
    let dir = TempDir::new("gap");
    write_log(dir.path(), 30, 200);
    let files = segment_files(dir.path());
    fs::remove_file(&files[1].1).expect("remove a segment");
    let err = DiskLog::open(dir.path(), options(200)).expect_err("a gap");
    assert!(
        matches!(&err, WalError::Gap { path, .. } if *path == files[2].1),
        "{err}"
    );
    assert!(
        err.to_string().contains(&files[2].1.display().to_string()),
        "{err}"
    );
}

// --- metadata -------------------------------------------------------------

#[test]
fn meta_is_written_atomically_and_the_identity_lasts_until_the_directory_is_wiped() {
    let dir = TempDir::new("meta");
    let first = open(dir.path(), 1024).log_id();
    assert!(dir.path().join(meta::META_FILE).exists());
    assert!(!dir.path().join("meta.json.tmp").exists());
    let stored = meta::load(dir.path()).expect("load").expect("some meta");
    assert_eq!(
        stored,
        Meta {
            node_id: "n1".into(),
            log_id: first,
            upstream: None,
            term: 0,
            voted_for: None,
        }
    );
    assert_eq!(stored.log_id.to_string().len(), 32);

    assert_eq!(
        open(dir.path(), 1024).log_id(),
        first,
        "same disk, same log"
    );

    fs::remove_dir_all(dir.path()).expect("wipe");
    assert_ne!(
        open(dir.path(), 1024).log_id(),
        first,
        "wiped disk, new log"
    );
}

#[test]
fn a_leftover_temporary_meta_file_is_ignored_and_removed() {
    let dir = TempDir::new("metatmp");
    let id = open(dir.path(), 1024).log_id();
    fs::write(dir.path().join("meta.json.tmp"), "{ half").expect("write tmp");
    assert_eq!(open(dir.path(), 1024).log_id(), id);
    assert!(!dir.path().join("meta.json.tmp").exists());
}

#[test]
fn another_nodes_directory_is_refused() {
    let dir = TempDir::new("othernode");
    drop(open(dir.path(), 1024));
    let err = DiskLog::open(dir.path(), WalOptions::new("n2")).expect_err("wrong node");
    assert!(err.to_string().contains("\"n1\""), "{err}");
}

#[test]
fn segments_without_meta_are_refused() {
    let dir = TempDir::new("nometa");
    write_log(dir.path(), 3, 1024);
    fs::remove_file(dir.path().join(meta::META_FILE)).expect("remove meta");
    let err = DiskLog::open(dir.path(), options(1024)).expect_err("no meta");
    assert!(matches!(err, WalError::Meta { .. }), "{err}");
}

#[test]
fn a_directory_open_in_one_log_is_refused_to_another() {
    let dir = TempDir::new("lock");
    let _first = open(dir.path(), 1024);
    let err = DiskLog::open(dir.path(), options(1024)).expect_err("second open");
    assert!(matches!(err, WalError::Locked { .. }), "{err}");
}

// --- real disk faults -----------------------------------------------------

/// A tmpfs of `size` mounted on a fresh temp dir, unmounted when dropped.
/// Needs root (or CAP_SYS_ADMIN); `None` with the reason otherwise.
struct Tmpfs {
    dir: TempDir,
}

impl Tmpfs {
    fn mount(name: &str, size: &str) -> Result<Self, String> {
        let dir = TempDir::new(name);
        let options = format!("size={size}");
        mount(&["-t", "tmpfs", "-o", &options, "tmpfs"], dir.path())?;
        Ok(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn remount(&self, mode: &str) {
        mount(&["-o", &format!("remount,{mode}")], self.path()).expect("remount");
    }
}

fn mount(args: &[&str], dir: &Path) -> Result<(), String> {
    let out = Command::new("mount")
        .args(args)
        .arg(dir)
        .output()
        .map_err(|e| format!("cannot run mount: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.path()).status();
    }
}

#[test]
fn a_full_disk_fails_rounds_with_a_typed_error_and_they_resume_when_space_is_freed() {
    let fs = match Tmpfs::mount("full", "256k") {
        Ok(fs) => fs,
        Err(why) => {
            println!("skipped: cannot mount a tmpfs ({why}); this test needs root");
            return;
        }
    };
    let data = fs.path().join("data");
    // Space the test frees later.
    let ballast = fs.path().join("ballast");
    fs::write(&ballast, vec![0u8; 128 * 1024]).expect("write ballast");

    // Segments of 32 KiB: the disk fills both inside a segment and at rolls.
    let mut log = open(&data, 32 * 1024);
    let message = "m".repeat(1000);
    let mut seq = 0;
    let err = loop {
        seq += 1;
        log.append(Entry::new(seq, message.as_str()))
            .expect("an append only frames the entry");
        match log.sync() {
            Ok(durable) => assert_eq!(durable, seq),
            Err(e) => break e,
        }
        assert!(seq < 1000, "the disk never filled");
    };
    assert_eq!(err.io_kind(), Some(io::ErrorKind::StorageFull), "{err}");
    assert!(err.to_string().starts_with("storage: "), "{err}");
    assert!(
        err.to_string().contains(&data.display().to_string()),
        "{err}"
    );
    assert!(seq > 10, "only {seq} appends fitted");
    // The entry whose round failed is in the log, not durable, and the log
    // still answers.
    assert_eq!(log.last_seq(), seq);
    assert_eq!(log.durable_seq(), seq - 1);
    // Still full: still failing, still typed.
    let again = log.sync().expect_err("still full");
    assert_eq!(again.io_kind(), Some(io::ErrorKind::StorageFull), "{again}");
    assert_eq!(log.durable_seq(), seq - 1);

    fs::remove_file(&ballast).expect("free space");
    for _ in 0..20 {
        seq += 1;
        log.append(Entry::new(seq, message.as_str()))
            .expect("append after freeing space");
    }
    assert_eq!(log.sync().expect("sync"), seq);
    drop(log);
    // Nothing half-written stays behind: every record reads back whole.
    let log = open(&data, 32 * 1024);
    assert_eq!(log.last_seq(), seq);
    assert!(log.all().iter().all(|e| *e.message == *message));
    assert_eq!(log.recovered().truncated, None);
}

#[test]
fn a_read_only_directory_fails_rounds_and_opens_with_a_typed_error_until_writable() {
    let dir = TempDir::new("readonly");
    let data = dir.path().join("data");
    // One record per segment: every round after the first creates a file
    // in the directory.
    let mut log = open(&data, 16);
    log.append(entry(1)).expect("append");
    log.sync().expect("sync");
    // Root ignores permissions, so as root the same is checked on a tmpfs
    // remounted read-only instead.
    set_mode(&data, 0o555);
    let probe = data.join("probe");
    let root_ignores_permissions = fs::write(&probe, "").is_ok();
    let _ = fs::remove_file(&probe);
    if !root_ignores_permissions {
        log.append(entry(2)).expect("append");
        let err = log.sync().expect_err("read-only dir");
        assert_eq!(
            err.io_kind(),
            Some(io::ErrorKind::PermissionDenied),
            "{err}"
        );
        assert_eq!(log.durable_seq(), 1);
        let fresh = dir.path().join("fresh");
        fs::create_dir(&fresh).expect("mkdir");
        set_mode(&fresh, 0o555);
        let err = DiskLog::open(&fresh, options(16)).expect_err("read-only new dir");
        assert_eq!(
            err.io_kind(),
            Some(io::ErrorKind::PermissionDenied),
            "{err}"
        );
        set_mode(&fresh, 0o755);

        set_mode(&data, 0o755);
        assert_eq!(log.sync().expect("sync once writable"), 2);
        drop(log);
        assert_eq!(open(&data, 16).all(), expected(2));
        return;
    }
    set_mode(&data, 0o755);
    drop(log);

    let fs = match Tmpfs::mount("ro", "256k") {
        Ok(fs) => fs,
        Err(why) => {
            println!("skipped: permissions do not apply to this user and no tmpfs can be mounted ({why})");
            return;
        }
    };
    let data = fs.path().join("data");
    write_log(&data, 3, 1024);
    fs.remount("ro");
    let err = DiskLog::open(&data, options(1024)).expect_err("read-only filesystem");
    assert_eq!(
        err.io_kind(),
        Some(io::ErrorKind::ReadOnlyFilesystem),
        "{err}"
    );
    assert!(
        err.to_string().contains(&data.display().to_string()),
        "{err}"
    );
    fs.remount("rw");
    let mut log = open(&data, 1024);
    assert_eq!(log.all(), expected(3));
    log.append(entry(4)).expect("append once writable");
    assert_eq!(log.sync().expect("sync"), 4);
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Entries keep the term they were written in, across a restart.
#[test]
fn entries_keep_their_terms_across_a_restart() {
    let dir = TempDir::new("terms");
    {
        let mut log = open(dir.path(), 1024);
        for seq in 1..=3 {
            log.append(in_term(seq, 1)).expect("append");
        }
        for seq in 4..=5 {
            log.append(in_term(seq, 4)).expect("append");
        }
        log.sync().expect("sync");
    }
    let log = open(dir.path(), 1024);
    let terms: Vec<Option<u64>> = (0..=6).map(|s| log.term_at(s)).collect();
    assert_eq!(
        terms,
        [None, Some(1), Some(1), Some(1), Some(4), Some(4), None]
    );
}

/// A diverged log is cut after the last common entry: across segments,
/// durably (a restart sees the cut), and appends go on from there.
#[test]
fn truncate_after_cuts_across_segments_and_survives_a_restart() {
    let dir = TempDir::new("truncate");
    {
        let mut log = open(dir.path(), 512);
        for seq in 1..=60 {
            log.append(in_term(seq, 2)).expect("append");
        }
        assert!(log.segment_count() > 3, "{} segments", log.segment_count());
        let cut = log.truncate_after(17).expect("truncate");
        assert_eq!(cut.len(), 43);
        assert_eq!(cut.first(), Some(&in_term(18, 2)));
        assert_eq!((log.last_seq(), log.durable_seq()), (17, 17));
        log.append(Entry::in_term(18, 3, "new eighteen"))
            .expect("append after the cut");
        log.sync().expect("sync");
    }
    let mut log = open(dir.path(), 512);
    assert_eq!(log.last_seq(), 18);
    assert_eq!(log.term_at(17), Some(2));
    assert_eq!(log.term_at(18), Some(3));
    let all = log.all();
    assert_eq!(&*all[16].message, &*entry(17).message);
    assert_eq!(&*all[17].message, "new eighteen");
    assert!(log.truncate_after(18).expect("no-op").is_empty());
    assert_eq!(log.truncate_after(0).expect("all").len(), 18);
    assert_eq!(log.last_seq(), 0);
    drop(log);
    assert_eq!(open(dir.path(), 512).last_seq(), 0);
}

/// What a cut removes is kept in a rollback file, one JSON line per entry.
#[test]
fn rolled_back_entries_are_written_as_json_lines() {
    let dir = TempDir::new("rollback");
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1234);
    let entries = vec![Entry::in_term(5, 2, "five"), Entry::in_term(6, 2, "six")];
    let path = super::rollback::write(dir.path(), &entries, when)
        .expect("write")
        .expect("a file");
    assert!(
        path.ends_with("rollback/1234-5-6.jsonl"),
        "{}",
        path.display()
    );
    let text = fs::read_to_string(&path).expect("read");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(
        lines[1],
        serde_json::json!({"seq": 6, "term": 2, "message": "six", "when": "1970-01-01T00:00:01.234Z", "when_ms": 1234})
    );
    assert_eq!(
        super::rollback::write(dir.path(), &[], when).expect("nothing"),
        None
    );
    assert_eq!(
        super::rollback::count(dir.path()),
        2,
        "what /health counts after a restart"
    );
}

/// Term and vote are durable: a restarted member cannot vote twice in a term.
#[test]
fn term_and_vote_survive_a_restart() {
    let dir = TempDir::new("vote");
    {
        let mut log = open(dir.path(), 1024);
        assert_eq!(log.vote(), (0, None));
        log.set_vote(3, Some("m2".into())).expect("vote");
    }
    let log = open(dir.path(), 1024);
    assert_eq!(log.vote(), (3, Some("m2".into())));
    let text = fs::read_to_string(dir.path().join(meta::META_FILE)).expect("read");
    assert!(text.contains("\"voted_for\": \"m2\""), "{text}");
}

/// Two-phase commit: an atomic entry's state survives a restart, a decision
/// recorded after it wins, and a mark whose entry never reached the disk
/// (an unsynced tail lost in a crash) is dropped rather than applied to the
/// entry that later takes its seq.
#[test]
fn atomic_marks_are_recovered_with_their_entries_and_only_with_them() {
    use crate::api::AtomicState;
    let dir = TempDir::new("wal-atomic-marks");
    {
        let mut log = open(dir.path(), 1 << 20);
        log.append(entry(1)).expect("append");
        log.append(Entry {
            atomic: Some(AtomicState::Prepared),
            ..entry(2)
        })
        .expect("append");
        log.append(Entry {
            atomic: Some(AtomicState::Prepared),
            ..entry(3)
        })
        .expect("append");
        log.sync().expect("sync");
        LogStore::set_atomic(&mut log, 2, AtomicState::Committed).expect("decide");
        assert_eq!(log.undecided(), vec![(3, AtomicState::Prepared)]);
    }
    let log = open(dir.path(), 1 << 20);
    assert_eq!(log.atomic_at(1), None, "an ordinary entry");
    assert_eq!(log.atomic_at(2), Some(AtomicState::Committed));
    assert_eq!(log.undecided(), vec![(3, AtomicState::Prepared)]);
    let states: Vec<Option<AtomicState>> = log.all().iter().map(|e| e.atomic).collect();
    assert_eq!(
        states,
        vec![
            None,
            Some(AtomicState::Committed),
            Some(AtomicState::Prepared)
        ]
    );
    drop(log);

    // Seq 3's frame lost (as an unsynced tail would be), its mark kept:
    // the mark goes, and a new ordinary seq 3 is not taken for atomic.
    let mut log = open(dir.path(), 1 << 20);
    let _ = log.truncate_after(2).expect("cut");
    drop(log);
    let marks = fs::read_to_string(dir.path().join(atomic_marks::FILE_NAME)).expect("marks");
    assert!(!marks.contains("\"seq\":3"), "{marks}");
    let mut log = open(dir.path(), 1 << 20);
    log.append(entry(3)).expect("append");
    log.sync().expect("sync");
    drop(log);
    let log = open(dir.path(), 1 << 20);
    assert_eq!(log.atomic_at(3), None);
    assert!(log.undecided().is_empty());
    drop(log);

    // A mark for a seq the segments never got (the crash came between the
    // fsynced mark and the entry's group commit) is dropped on open.
    let path = dir.path().join(atomic_marks::FILE_NAME);
    let mut marks = fs::read_to_string(&path).expect("marks");
    marks.push_str("{\"seq\":4,\"term\":1,\"state\":\"prepared\"}\n");
    fs::write(&path, marks).expect("write marks");
    let mut log = open(dir.path(), 1 << 20);
    assert!(!fs::read_to_string(&path)
        .expect("marks")
        .contains("\"seq\":4"));
    log.append(entry(4)).expect("append");
    assert_eq!(log.atomic_at(4), None);
}

// --- rounds against a model ----------------------------------------------

/// One step of a log's life, for the model test below.
#[derive(Clone, Debug)]
enum Step {
    /// Append this many entries.
    Append(u8),
    /// A round that succeeds.
    Sync,
    /// A round whose write fails, with its outcome recorded.
    FailedRound,
    /// A round whose write fails and whose outcome never reaches the log
    /// (the node's role changed while it ran).
    LostRound,
    /// Close and open again.
    Reopen,
    /// Cut the log after this fraction of its entries.
    Cut(f64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1u8..12).prop_map(Step::Append),
        3 => Just(Step::Sync),
        1 => Just(Step::FailedRound),
        1 => Just(Step::LostRound),
        1 => Just(Step::Reopen),
        1 => (0.0f64..=1.0).prop_map(Step::Cut),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Whatever mix of appends, rounds (failing or not), cuts and reopens,
    /// with segments small enough that rounds often span several: what a
    /// successful round reported durable survives a reopen, a reopen keeps
    /// exactly a prefix of what was appended, and after a last round every
    /// entry is there, in order, once.
    #[test]
    fn rounds_failures_cuts_and_reopens_keep_the_log_whole(
        steps in proptest::collection::vec(step(), 1..40),
        segment_bytes in 64u64..400,
    ) {
        let dir = TempDir::new("model");
        let mut log = open(dir.path(), segment_bytes);
        // The model: every entry appended and not cut, and how many of them
        // a round reported durable.
        let mut model: Vec<Entry> = Vec::new();
        let mut durable = 0u64;
        for step in steps {
            match step {
                Step::Append(n) => {
                    for _ in 0..n {
                        let e = entry(model.len() as u64 + 1);
                        log.append(e.clone()).expect("append");
                        model.push(e);
                    }
                }
                Step::Sync => {
                    durable = log.sync().expect("sync");
                    prop_assert_eq!(durable, model.len() as u64);
                }
                Step::FailedRound | Step::LostRound => {
                    let mut pending = log.begin_sync().expect("begin");
                    pending.break_file();
                    let result = pending.run();
                    // A round with nothing to write cannot fail this way.
                    prop_assert_eq!(result.is_err(), durable < model.len() as u64);
                    if matches!(step, Step::FailedRound) || result.is_ok() {
                        prop_assert_eq!(
                            log.finish_sync(pending, result).is_err(),
                            durable < model.len() as u64
                        );
                    }
                    prop_assert!(log.durable_seq() >= durable);
                    durable = log.durable_seq();
                }
                Step::Reopen => {
                    drop(log);
                    log = open(dir.path(), segment_bytes);
                    let kept = log.all();
                    prop_assert!(kept.len() as u64 >= durable, "{} < {durable}", kept.len());
                    prop_assert_eq!(&kept[..], &model[..kept.len()]);
                    model.truncate(kept.len());
                    durable = log.durable_seq();
                    prop_assert_eq!(durable, model.len() as u64);
                }
                Step::Cut(fraction) => {
                    let seq = (model.len() as f64 * fraction) as u64;
                    let cut = log.truncate_after(seq).expect("cut");
                    prop_assert_eq!(&cut[..], &model[seq as usize..]);
                    model.truncate(seq as usize);
                    durable = log.durable_seq();
                    prop_assert!(durable <= seq);
                }
            }
            prop_assert_eq!(log.last_seq(), model.len() as u64);
        }
        prop_assert_eq!(log.sync().expect("last sync"), model.len() as u64);
        drop(log);
        let log = open(dir.path(), segment_bytes);
        prop_assert_eq!(log.all(), model);
        prop_assert_eq!(log.recovered().truncated.clone(), None);
    }
}
