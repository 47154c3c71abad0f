//! One record on disk: the frame around one entry.
//!
//! ```text
//! offset  size  field
//!      0     4  length   payload length in bytes, u32 little-endian
//!      4     4  crc      CRC32C of length, then of every byte after crc
//!      8     8  seq      u64 little-endian
//!     16     8  term     u64 little-endian (0 until automatic failover uses it)
//!     24     n  payload  the message text, UTF-8
//! ```
//!
//! The CRC covers the length as well as what follows it, so a flipped bit in
//! the length is caught as corruption instead of being trusted as a frame size
//! (unless the wrong size runs past the end of the file: see `recovery`).

/// Bytes before the payload.
pub const HEADER_LEN: usize = 24;

/// The largest payload a frame may declare. A larger length can only be
/// damage, and refusing it keeps a garbage length from making recovery treat
/// the rest of a file as one huge torn record.
pub const MAX_PAYLOAD: usize = 256 * 1024 * 1024;

/// A decoded record, borrowing its payload from the buffer it was read from
/// (recovery reads whole segments; copying every payload twice would cost).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub seq: u64,
    pub term: u64,
    pub payload: &'a [u8],
}

impl Record<'_> {
    /// Bytes this record takes on disk.
    pub fn frame_len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }
}

/// What the bytes at some offset hold.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A whole, intact record and its frame length.
    Complete(Record<'a>, usize),
    /// Fewer bytes than the frame needs: the end of an interrupted write (or
    /// an empty buffer).
    Torn,
    /// The bytes are all there but are not a valid record.
    Corrupt(String),
}

/// Appends the frame of (`seq`, `term`, `payload`) to `out`.
///
/// Panics if `payload` is larger than [`MAX_PAYLOAD`]: callers check first
/// (`DiskLog::append` returns an error), as a frame that big could never be
/// read back.
pub fn encode(seq: u64, term: u64, payload: &[u8], out: &mut Vec<u8>) {
    assert!(payload.len() <= MAX_PAYLOAD, "payload over MAX_PAYLOAD");
    let start = out.len();
    out.reserve(HEADER_LEN + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]); // crc, filled in below
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&term.to_le_bytes());
    out.extend_from_slice(payload);
    let crc = checksum(&out[start..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Decodes the record at the start of `buf`.
pub fn decode(buf: &[u8]) -> Decoded<'_> {
    if buf.len() < HEADER_LEN {
        return Decoded::Torn;
    }
    let len = u32_at(buf, 0) as usize;
    if len > MAX_PAYLOAD {
        return Decoded::Corrupt(format!(
            "its length field says {len} bytes, more than the maximum {MAX_PAYLOAD}"
        ));
    }
    let frame_len = HEADER_LEN + len;
    if buf.len() < frame_len {
        return Decoded::Torn;
    }
    let frame = &buf[..frame_len];
    let stored = u32_at(frame, 4);
    let actual = checksum(frame);
    if stored != actual {
        return Decoded::Corrupt(format!(
            "its checksum is {stored:#010x} but its bytes sum to {actual:#010x}"
        ));
    }
    let record = Record {
        seq: u64_at(frame, 8),
        term: u64_at(frame, 16),
        payload: &frame[HEADER_LEN..],
    };
    Decoded::Complete(record, frame_len)
}

/// The CRC of a whole frame: its length field, then everything after the crc
/// field. The crc field itself is skipped, whatever it holds.
fn checksum(frame: &[u8]) -> u32 {
    let crc = crc32c::crc32c(&frame[..4]);
    crc32c::crc32c_append(crc, &frame[8..])
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    let mut bytes = [0; 4];
    bytes.copy_from_slice(&buf[at..at + 4]);
    u32::from_le_bytes(bytes)
}

fn u64_at(buf: &[u8], at: usize) -> u64 {
    let mut bytes = [0; 8];
    bytes.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame(seq: u64, term: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(seq, term, payload, &mut out);
        out
    }

    #[test]
    fn round_trips_and_reports_its_length() {
        let bytes = frame(7, 3, b"hello");
        assert_eq!(bytes.len(), HEADER_LEN + 5);
        let expected = Record {
            seq: 7,
            term: 3,
            payload: b"hello",
        };
        assert_eq!(decode(&bytes), Decoded::Complete(expected, bytes.len()));
    }

    #[test]
    fn an_empty_payload_is_a_valid_record() {
        let bytes = frame(1, 0, b"");
        assert!(matches!(decode(&bytes), Decoded::Complete(r, 24) if r.payload.is_empty()));
    }

    #[test]
    fn decodes_only_the_first_of_several_frames() {
        let mut bytes = frame(1, 0, b"one");
        encode(2, 0, b"two", &mut bytes);
        match decode(&bytes) {
            Decoded::Complete(record, len) => {
                assert_eq!((record.seq, record.payload, len), (1, &b"one"[..], 27));
                assert!(matches!(decode(&bytes[len..]), Decoded::Complete(r, _) if r.seq == 2));
            }
            other => panic!("expected a record, got {other:?}"),
        }
    }

    #[test]
    fn an_absurd_length_is_corrupt_not_torn() {
        let mut bytes = frame(1, 0, b"x");
        bytes[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(decode(&bytes), Decoded::Corrupt(why) if why.contains("maximum")));
    }

    #[test]
    fn zeroes_are_corrupt() {
        // A file extended with zeroes (some filesystems after a crash) must
        // not read as an empty record with seq 0.
        assert!(matches!(decode(&[0; 64]), Decoded::Corrupt(_)));
    }

    proptest! {
        #[test]
        fn every_prefix_is_torn(payload in proptest::collection::vec(any::<u8>(), 0..200), cut in 0usize..1000) {
            let bytes = frame(9, 1, &payload);
            let cut = cut % bytes.len();
            prop_assert_eq!(decode(&bytes[..cut]), Decoded::Torn);
        }

        #[test]
        fn every_flipped_bit_is_caught(payload in proptest::collection::vec(any::<u8>(), 0..200), bit in 0usize..10_000) {
            let mut bytes = frame(9, 1, &payload);
            let bit = bit % (bytes.len() * 8);
            bytes[bit / 8] ^= 1 << (bit % 8);
            // A flipped length bit may make the frame look longer (torn) or
            // shorter (corrupt); never a valid record.
            prop_assert!(!matches!(decode(&bytes), Decoded::Complete(..)));
        }
    }
}
