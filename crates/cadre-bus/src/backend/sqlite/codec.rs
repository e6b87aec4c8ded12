//! The schema and the segment format.
//!
//! A segment row holds every message one transaction stored for one stream, as records of
//! `offset: u64 LE | published_ms: u64 LE | len: u32 LE | len bytes of envelope JSON`.
//! Storing many messages per row is what lets group commit reach six-figure rates: SQLite's
//! cost is per row and per transaction far more than per byte. Segments and ack ranges live in
//! rowid tables (appends go to the end of the tree without key comparisons against large
//! records); ack ranges may overlap and are merged by compaction.

use cadre_core::{Error, ErrorCode};

/// Bumped on incompatible changes; a database of another version is refused.
pub(super) const SCHEMA_VERSION: i64 = 1;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS streams (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    next_offset INTEGER NOT NULL DEFAULT 0,
    counters TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS segments (
    id INTEGER PRIMARY KEY,
    stream_id INTEGER NOT NULL,
    first_offset INTEGER NOT NULL,
    last_offset INTEGER NOT NULL,
    first_ms INTEGER NOT NULL,
    last_ms INTEGER NOT NULL,
    count INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS segments_by_stream ON segments (stream_id, last_offset);
CREATE TABLE IF NOT EXISTS groups (
    stream_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    start_offset INTEGER NOT NULL,
    floor INTEGER NOT NULL,
    PRIMARY KEY (stream_id, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS acks (
    id INTEGER PRIMARY KEY,
    stream_id INTEGER NOT NULL,
    grp TEXT NOT NULL,
    first INTEGER NOT NULL,
    last INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS retries (
    stream_id INTEGER NOT NULL,
    grp TEXT NOT NULL,
    offset INTEGER NOT NULL,
    not_before INTEGER NOT NULL,
    track TEXT NOT NULL,
    PRIMARY KEY (stream_id, grp, offset)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY,
    stream TEXT NOT NULL,
    grp TEXT NOT NULL,
    offset INTEGER NOT NULL,
    reason TEXT NOT NULL,
    dead_at INTEGER NOT NULL,
    record TEXT NOT NULL
);
";

/// One stored message.
#[derive(Debug, Clone)]
pub(super) struct Record {
    pub(super) offset: u64,
    pub(super) published_ms: u64,
    pub(super) body: Vec<u8>,
}

pub(super) fn encode(records: &[Record], out: &mut Vec<u8>) {
    for r in records {
        out.extend_from_slice(&r.offset.to_le_bytes());
        out.extend_from_slice(&r.published_ms.to_le_bytes());
        out.extend_from_slice(
            &u32::try_from(r.body.len())
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        );
        out.extend_from_slice(&r.body);
    }
}

pub(super) fn decode(data: &[u8]) -> Result<Vec<Record>, Error> {
    let mut records = Vec::new();
    let mut at = 0usize;
    let corrupt = |at: usize| {
        Error::new(
            ErrorCode::Storage,
            format!("segment is corrupt at byte {at} of {}", data.len()),
        )
    };
    while at < data.len() {
        let header = data.get(at..at + 20).ok_or_else(|| corrupt(at))?;
        let offset = u64::from_le_bytes(header[0..8].try_into().map_err(|_| corrupt(at))?);
        let published_ms = u64::from_le_bytes(header[8..16].try_into().map_err(|_| corrupt(at))?);
        let len = u32::from_le_bytes(header[16..20].try_into().map_err(|_| corrupt(at))?) as usize;
        let body = data
            .get(at + 20..at + 20 + len)
            .ok_or_else(|| corrupt(at))?
            .to_vec();
        records.push(Record {
            offset,
            published_ms,
            body,
        });
        at += 20 + len;
    }
    Ok(records)
}

/// Sorted, merged, inclusive ranges from a list of offsets.
pub(super) fn runs(mut offsets: Vec<u64>) -> Vec<(u64, u64)> {
    offsets.sort_unstable();
    offsets.dedup();
    let mut out: Vec<(u64, u64)> = Vec::new();
    for o in offsets {
        match out.last_mut() {
            Some((_, last)) if *last + 1 == o => *last = o,
            _ => out.push((o, o)),
        }
    }
    out
}

/// Merges possibly overlapping ranges and advances `floor` over those that touch it.
pub(super) fn compact(mut ranges: Vec<(u64, u64)>, mut floor: u64) -> (u64, Vec<(u64, u64)>) {
    ranges.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (first, last) in ranges {
        match merged.last_mut() {
            Some((_, l)) if first <= l.saturating_add(1) => *l = (*l).max(last),
            _ => merged.push((first, last)),
        }
    }
    let mut kept = Vec::with_capacity(merged.len());
    for (first, last) in merged {
        if last < floor {
            continue;
        }
        if first <= floor {
            floor = last + 1;
        } else {
            kept.push((first, last));
        }
    }
    (floor, kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_round_trip_and_detect_truncation() {
        let records = vec![
            Record {
                offset: 7,
                published_ms: 1,
                body: b"{\"a\":1}".to_vec(),
            },
            Record {
                offset: 9,
                published_ms: 2,
                body: Vec::new(),
            },
        ];
        let mut data = Vec::new();
        encode(&records, &mut data);
        let back = decode(&data).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].offset, 7);
        assert_eq!(back[0].body, b"{\"a\":1}");
        assert_eq!(back[1].published_ms, 2);
        let err = decode(&data[..data.len() - 1 - 20]).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Storage);
    }

    #[test]
    fn runs_and_compaction() {
        assert_eq!(
            runs(vec![5, 3, 4, 9, 10, 12, 4]),
            vec![(3, 5), (9, 10), (12, 12)]
        );
        let (floor, kept) = compact(vec![(3, 5), (0, 2), (9, 10), (6, 6), (12, 12), (10, 11)], 0);
        assert_eq!(floor, 7);
        assert_eq!(kept, vec![(9, 12)]);
        let (floor, kept) = compact(vec![(0, 1)], 5);
        assert_eq!((floor, kept), (5, vec![]));
    }
}
