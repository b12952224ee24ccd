//! The event journal: where a durable `record` puts its event before the response may end.
//!
//! A durable event used to wait for its own SQLite transaction on the writer thread: a
//! hand-off to that thread and back (two wake-ups), a B-tree insert and a commit (six
//! `fcntl` locks, two `pwrite`s) on every request's critical path. Now `record` appends
//! one checksummed frame to a journal segment file with a single `write(2)` on the
//! caller's own thread and returns; the writer thread ingests the journalled events into
//! SQLite every [`INGEST_EVERY`] (and on `flush()` and close) in large transactions.
//!
//! Durability is the WAL's with `synchronous=NORMAL`: once `write` returned, the bytes are
//! in the kernel's page cache and survive `kill -9` of the process (not a power loss; the
//! ledger's `fsync` option turns the journal off and fsyncs every group commit instead).
//! Exactly once: an event is stored under its primary key (request id, attempt) with
//! `INSERT OR IGNORE`, and rolled up only when inserted, so ingesting a frame twice (a
//! crash between the SQLite commit and the segment's deletion) changes nothing.
//!
//! Files: `<ledger>.evlog/` holds, per process, a lock file `<owner>.lock` (an exclusive
//! `flock` held for the process's life) and segments `<owner>.<shard>.<seq>.log`. Shards
//! (a mutex and a segment each) are picked by the calling thread, so the gateway's server
//! threads never contend. A segment is deleted once every event in it is committed to
//! SQLite. Opening the ledger for writing replays the segments of owners whose lock is
//! free (a process that died), then deletes them.
//!
//! Frame: `len: u32 LE`, `check: u64 LE` (FNV-1a of the payload), payload (the event in a
//! compact binary form, [`encode`]). Replay stops at the first frame that is short or fails its check (a torn tail).

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use jevons_core::{Attribution, Money, RequestId, Usage};

use crate::error::LedgerError;
use crate::event::{LedgerEvent, Status};

/// Longest time a journalled event waits before the writer stores it in SQLite.
pub(crate) const INGEST_EVERY: Duration = Duration::from_millis(10);

/// A segment is closed (and later deleted) once it holds this many bytes.
const SEGMENT_BYTES: u64 = 4 << 20;

/// Largest frame payload accepted on replay (an event is well under 4 KiB).
const MAX_FRAME: usize = 1 << 20;

const HEADER: usize = 12;

/// The journal of one open ledger.
#[derive(Debug)]
pub(crate) struct Journal {
    dir: PathBuf,
    owner: String,
    /// Holds the owner's `flock` (released when the process dies).
    _lock: File,
    shards: Box<[Mutex<Shard>]>,
    /// Events appended and not yet taken by the writer.
    pending: AtomicUsize,
}

#[derive(Debug)]
struct Shard {
    index: usize,
    seq: u64,
    /// The open segment, if any (opened on the first append after a rotation).
    file: Option<(File, PathBuf)>,
    bytes: u64,
    events: Vec<LedgerEvent>,
    /// Closed segments (after a failed append) whose events are in `events`: deleted with
    /// the next take's batch.
    retired: Vec<PathBuf>,
}

/// Events taken from the journal, and the segments that may be deleted once they are
/// committed.
#[derive(Debug, Default)]
pub(crate) struct Taken {
    pub(crate) events: Vec<LedgerEvent>,
    pub(crate) retire: Vec<PathBuf>,
}

impl Taken {
    /// Adds `other` (events after ours).
    pub(crate) fn extend(&mut self, other: Taken) {
        self.events.extend(other.events);
        self.retire.extend(other.retire);
    }

    /// Deletes the retired segments (after their events were committed).
    pub(crate) fn retire(&mut self) {
        delete_segments(self.retire.drain(..));
    }
}

/// Deletes segments whose events are stored (one already gone is fine).
fn delete_segments(paths: impl IntoIterator<Item = PathBuf>) {
    for p in paths {
        if let Err(e) = fs::remove_file(&p) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(path = %p.display(), error = %e, "ledger journal: could not delete a stored segment");
            }
        }
    }
}

/// The journal directory of a ledger file.
pub fn dir_of(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".evlog");
    db.with_file_name(name)
}

/// Segments left by processes that died (their lock is free), to replay.
#[derive(Debug, Default)]
pub(crate) struct Orphans {
    pub(crate) segments: Vec<PathBuf>,
    /// Lock files of dead owners (held by us until deleted).
    pub(crate) locks: Vec<(PathBuf, File)>,
}

impl Orphans {
    /// Deletes the `replayed` segments and the dead owners' lock files (a segment kept
    /// without its lock file is a dead owner's to the next open too).
    pub(crate) fn remove(self, replayed: Vec<PathBuf>) {
        delete_segments(replayed);
        for (p, f) in self.locks {
            let _ = fs::remove_file(&p);
            drop(f);
        }
    }
}

fn io_err(path: &Path, source: io::Error) -> LedgerError {
    LedgerError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Journal {
    /// Creates this process's journal for the ledger at `db`.
    pub(crate) fn open(db: &Path, shards: usize) -> Result<Journal, LedgerError> {
        let dir = dir_of(db);
        fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
        let owner = format!("{}-{:016x}", std::process::id(), rand::random::<u64>());
        let lock_path = dir.join(format!("{owner}.lock"));
        // Locked under a name no scan looks at, then renamed into place: another process
        // never sees this owner's lock file unlocked.
        let tmp = dir.join(format!("{owner}.lock-new"));
        let lock = OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(&tmp)
            .map_err(|e| io_err(&tmp, e))?;
        lock.try_lock().map_err(|e| {
            io_err(
                &tmp,
                match e {
                    TryLockError::Error(e) => e,
                    TryLockError::WouldBlock => io::Error::other("journal lock is held"),
                },
            )
        })?;
        fs::rename(&tmp, &lock_path).map_err(|e| io_err(&lock_path, e))?;
        let shards = (0..shards.max(1))
            .map(|index| {
                Mutex::new(Shard {
                    index,
                    seq: 0,
                    file: None,
                    bytes: 0,
                    events: Vec::new(),
                    retired: Vec::new(),
                })
            })
            .collect();
        Ok(Journal {
            dir,
            owner,
            _lock: lock,
            shards,
            pending: AtomicUsize::new(0),
        })
    }

    /// Appends `event` durably (one `write`); returns whether the journal was empty before
    /// (the writer then needs a nudge). On error the event is handed back untouched.
    pub(crate) fn append(&self, event: LedgerEvent) -> Result<bool, Box<(io::Error, LedgerEvent)>> {
        let frame = match encode(&event) {
            Ok(f) => f,
            Err(e) => return Err(Box::new((e, event))),
        };
        let i = thread_slot() % self.shards.len();
        let mut s = self.shards[i].lock();
        if let Err(e) = s.write(&self.dir, &self.owner, &frame) {
            // A partial frame must never sit before later frames: start a new segment.
            if let Some((_, path)) = s.file.take() {
                s.retired.push(path);
            }
            s.bytes = 0;
            return Err(Box::new((e, event)));
        }
        s.events.push(event);
        let before = self.pending.fetch_add(1, Ordering::AcqRel);
        Ok(before == 0)
    }

    /// Events appended and not yet taken.
    pub(crate) fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }

    /// Takes every appended event; full segments (every open one when `rotate`) are closed
    /// and listed for deletion.
    pub(crate) fn take(&self, rotate: bool) -> Taken {
        let mut t = Taken::default();
        for shard in self.shards.iter() {
            let mut s = shard.lock();
            t.retire.append(&mut s.retired);
            if s.bytes >= SEGMENT_BYTES || (rotate && s.bytes > 0) {
                if let Some((_, path)) = s.file.take() {
                    t.retire.push(path);
                }
                s.bytes = 0;
            }
            if s.events.is_empty() {
                continue;
            }
            let n = s.events.len();
            if t.events.is_empty() {
                // The shard keeps room for as many as it just held: pushing into a fresh
                // empty vector regrew (and moved) it many times per tick under load.
                t.events = std::mem::replace(&mut s.events, Vec::with_capacity(n));
            } else {
                t.events.append(&mut s.events);
            }
            self.pending.fetch_sub(n, Ordering::AcqRel);
        }
        t
    }

    /// On close, once the last take (which closed every segment) was committed and its
    /// segments deleted: the lock file goes too, so nothing is left for a later open.
    pub(crate) fn remove_lock(&self) {
        let _ = fs::remove_file(self.dir.join(format!("{}.lock", self.owner)));
    }
}

impl Shard {
    fn write(&mut self, dir: &Path, owner: &str, frame: &[u8]) -> io::Result<()> {
        if self.file.is_none() {
            self.seq += 1;
            let path = dir.join(format!("{owner}.{}.{}.log", self.index, self.seq));
            let f = OpenOptions::new()
                .create_new(true)
                .append(true)
                .open(&path)?;
            self.file = Some((f, path));
        }
        let Some((f, _)) = self.file.as_mut() else {
            return Err(io::Error::other("no segment"));
        };
        f.write_all(frame)?;
        self.bytes += frame.len() as u64;
        Ok(())
    }
}

/// A small per-thread number, so each server thread keeps to its own shard.
fn thread_slot() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local!(static SLOT: usize = NEXT.fetch_add(1, Ordering::Relaxed));
    SLOT.with(|s| *s)
}

/// FNV-1a, 64 bits: catches torn and garbled frames (not an adversary).
fn check(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// One frame for `event`.
pub fn encode(event: &LedgerEvent) -> io::Result<Vec<u8>> {
    let mut w = Enc(Vec::with_capacity(HEADER + 256));
    w.0.resize(HEADER, 0);
    w.event(event);
    let mut out = w.0;
    if out.len() - HEADER > MAX_FRAME {
        // Replay would stop at it; the caller stores this event through the writer instead.
        return Err(io::Error::other("event too large for a journal frame"));
    }
    let len = u32::try_from(out.len() - HEADER).map_err(io::Error::other)?;
    let sum = check(&out[HEADER..]);
    out[..4].copy_from_slice(&len.to_le_bytes());
    out[4..HEADER].copy_from_slice(&sum.to_le_bytes());
    Ok(out)
}

/// The payload's format version (first byte).
const V1: u8 = 1;

/// The binary payload: LEB128 varints (signed ones zigzagged), strings as length + UTF-8,
/// options as 0 (none) or length + 1. Every field is named in `event` and `Dec::event`
/// (exhaustive destructuring and construction), so a field added to the event and not to
/// the codec does not compile.
struct Enc(Vec<u8>);

impl Enc {
    fn u(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn i(&mut self, v: i64) {
        self.u(((v << 1) ^ (v >> 63)) as u64);
    }

    fn s(&mut self, v: &str) {
        self.u(v.len() as u64);
        self.0.extend_from_slice(v.as_bytes());
    }

    fn os(&mut self, v: &Option<String>) {
        match v {
            None => self.u(0),
            Some(v) => {
                self.u(v.len() as u64 + 1);
                self.0.extend_from_slice(v.as_bytes());
            }
        }
    }

    fn event(&mut self, e: &LedgerEvent) {
        let LedgerEvent {
            request_id,
            attempt,
            ts_ms,
            latency_us,
            ttft_us,
            attribution,
            requested_model,
            served_model,
            provider,
            deployment,
            route_reason,
            status,
            http_status,
            error_kind,
            stream,
            usage,
            cost,
            list_cost,
            cache_savings,
            service_tier,
        } = e;
        let Attribution {
            key_id,
            team,
            org,
            user,
            customer,
            feature,
            task,
            parent_task,
            tags,
        } = attribution;
        let Usage {
            input,
            cache_read,
            cache_write_5m,
            cache_write_1h,
            output,
            reasoning,
            input_audio,
            output_audio,
            input_image,
            output_image,
            web_search_calls,
            estimated,
        } = usage;
        self.0.push(V1);
        self.0.extend_from_slice(&request_id.0.to_le_bytes());
        self.u(u64::from(*attempt));
        self.i(*ts_ms);
        self.u(*latency_us);
        match ttft_us {
            None => self.u(0),
            Some(t) => {
                self.u(1);
                self.u(*t);
            }
        }
        for v in [key_id, team, org] {
            self.s(v);
        }
        for v in [user, customer, feature, task, parent_task] {
            self.os(v);
        }
        self.u(tags.len() as u64);
        for (k, v) in tags {
            self.s(k);
            self.s(v);
        }
        self.s(requested_model);
        for v in [served_model, provider, deployment, route_reason] {
            self.os(v);
        }
        self.i(status.code());
        self.u(u64::from(*http_status));
        self.os(error_kind);
        self.u(u64::from(*stream) | u64::from(*estimated) << 1);
        for v in [
            input,
            cache_read,
            cache_write_5m,
            cache_write_1h,
            output,
            reasoning,
            input_audio,
            output_audio,
            input_image,
            output_image,
        ] {
            self.u(*v);
        }
        self.u(u64::from(*web_search_calls));
        for m in [cost, list_cost, cache_savings] {
            self.i(m.pico());
        }
        self.os(service_tier);
    }
}

struct Dec<'a> {
    b: &'a [u8],
    at: usize,
}

impl Dec<'_> {
    fn byte(&mut self) -> Option<u8> {
        let v = *self.b.get(self.at)?;
        self.at += 1;
        Some(v)
    }

    fn u(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }

    fn i(&mut self) -> Option<i64> {
        let v = self.u()?;
        Some((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn bytes(&mut self, n: u64) -> Option<String> {
        let n = usize::try_from(n).ok()?;
        let end = self.at.checked_add(n)?;
        let v = std::str::from_utf8(self.b.get(self.at..end)?).ok()?;
        self.at = end;
        Some(v.to_owned())
    }

    fn s(&mut self) -> Option<String> {
        let n = self.u()?;
        self.bytes(n)
    }

    fn os(&mut self) -> Option<Option<String>> {
        match self.u()? {
            0 => Some(None),
            n => self.bytes(n - 1).map(Some),
        }
    }

    fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.u()?).ok()
    }

    fn event(&mut self) -> Option<LedgerEvent> {
        if self.byte()? != V1 {
            return None;
        }
        let mut id = [0u8; 16];
        id.copy_from_slice(self.b.get(self.at..self.at + 16)?);
        self.at += 16;
        let request_id = RequestId(u128::from_le_bytes(id));
        let attempt = self.u32()?;
        let ts_ms = self.i()?;
        let latency_us = self.u()?;
        let ttft_us = match self.u()? {
            0 => None,
            1 => Some(self.u()?),
            _ => return None,
        };
        let (key_id, team, org) = (self.s()?, self.s()?, self.s()?);
        let (user, customer, feature, task, parent_task) =
            (self.os()?, self.os()?, self.os()?, self.os()?, self.os()?);
        let n = usize::try_from(self.u()?).ok()?;
        let mut tags = Vec::with_capacity(n.min(64));
        for _ in 0..n {
            tags.push((self.s()?, self.s()?));
        }
        let requested_model = self.s()?;
        let (served_model, provider, deployment, route_reason) =
            (self.os()?, self.os()?, self.os()?, self.os()?);
        let status = Status::from_code(self.i()?);
        let http_status = u16::try_from(self.u()?).ok()?;
        let error_kind = self.os()?;
        let flags = self.u()?;
        let mut n = [0u64; 10];
        for v in &mut n {
            *v = self.u()?;
        }
        let web_search_calls = self.u32()?;
        let (cost, list_cost, cache_savings) = (
            Money::from_pico(self.i()?),
            Money::from_pico(self.i()?),
            Money::from_pico(self.i()?),
        );
        let service_tier = self.os()?;
        let [input, cache_read, cache_write_5m, cache_write_1h, output, reasoning, input_audio, output_audio, input_image, output_image] =
            n;
        Some(LedgerEvent {
            request_id,
            attempt,
            ts_ms,
            latency_us,
            ttft_us,
            attribution: Attribution {
                key_id,
                team,
                org,
                user,
                customer,
                feature,
                task,
                parent_task,
                tags,
            },
            requested_model,
            served_model,
            provider,
            deployment,
            route_reason,
            status,
            http_status,
            error_kind,
            stream: flags & 1 != 0,
            usage: Usage {
                input,
                cache_read,
                cache_write_5m,
                cache_write_1h,
                output,
                reasoning,
                input_audio,
                output_audio,
                input_image,
                output_image,
                web_search_calls,
                estimated: flags & 2 != 0,
            },
            cost,
            list_cost,
            cache_savings,
            service_tier,
        })
    }
}

/// The event in one frame's payload (`None`: not a valid payload).
fn decode_payload(payload: &[u8]) -> Option<LedgerEvent> {
    let mut d = Dec { b: payload, at: 0 };
    let e = d.event()?;
    (d.at == payload.len()).then_some(e)
}

/// The events of a segment's bytes, up to the first bad or short frame; and how many
/// bytes after it were not readable (0 for a clean segment).
pub fn decode_all(bytes: &[u8]) -> (Vec<LedgerEvent>, usize) {
    let mut events = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let Some(head) = bytes.get(at..at + HEADER) else {
            break;
        };
        let mut l = [0u8; 4];
        l.copy_from_slice(&head[..4]);
        let len = u32::from_le_bytes(l) as usize;
        let mut c = [0u8; 8];
        c.copy_from_slice(&head[4..]);
        if len > MAX_FRAME {
            break;
        }
        let Some(payload) = bytes.get(at + HEADER..at + HEADER + len) else {
            break;
        };
        if check(payload) != u64::from_le_bytes(c) {
            break;
        }
        match decode_payload(payload) {
            Some(e) => events.push(e),
            None => break,
        }
        at += HEADER + len;
    }
    (events, bytes.len() - at)
}

/// Reads an orphaned segment (a torn tail is reported and skipped).
pub(crate) fn read_segment(path: &Path) -> Result<Vec<LedgerEvent>, LedgerError> {
    let bytes = fs::read(path).map_err(|e| io_err(path, e))?;
    let (events, bad) = decode_all(&bytes);
    if bad > 0 {
        tracing::warn!(
            path = %path.display(),
            events = events.len(),
            unreadable_bytes = bad,
            "ledger journal: segment ends in a torn or damaged frame; replaying the events before it"
        );
    }
    Ok(events)
}

/// The segments of dead processes in the journal of the ledger at `db` (`None` when there
/// is no journal directory).
pub(crate) fn orphans(db: &Path) -> Result<Option<Orphans>, LedgerError> {
    let dir = dir_of(db);
    if !dir.is_dir() {
        return Ok(None);
    }
    find_orphans(&dir).map(Some)
}

/// Segments whose owner is dead: its lock file is missing or its `flock` is free. An owner
/// renames its locked lock file into place before it writes a segment and deletes it only
/// after its segments, so a segment without a lock file is a dead owner's.
fn find_orphans(dir: &Path) -> Result<Orphans, LedgerError> {
    let mut out = Orphans::default();
    let mut segments = Vec::new();
    let mut owners = std::collections::BTreeSet::new();
    let entries = fs::read_dir(dir).map_err(|e| io_err(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_err(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(owner) = name.strip_suffix(".lock") {
            owners.insert(owner.to_string());
        } else if let Some(stem) = name.strip_suffix(".log") {
            let mut parts = stem.split('.');
            let (Some(owner), Some(shard), Some(seq), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let (Ok(shard), Ok(seq)) = (shard.parse::<u64>(), seq.parse::<u64>()) else {
                continue;
            };
            owners.insert(owner.to_string());
            segments.push((owner.to_string(), shard, seq, entry.path()));
        }
    }
    let mut dead = std::collections::BTreeSet::new();
    for owner in owners {
        let path = dir.join(format!("{owner}.lock"));
        match OpenOptions::new().write(true).open(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                dead.insert(owner);
            }
            // Cannot tell: leave it to a later open.
            Err(_) => {}
            Ok(f) => {
                if f.try_lock().is_ok() {
                    out.locks.push((path, f));
                    dead.insert(owner);
                }
            }
        }
    }
    segments.retain(|(o, ..)| dead.contains(o));
    segments.sort();
    out.segments = segments.into_iter().map(|(.., p)| p).collect();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::RefusalKind;
    use proptest::prelude::*;

    fn ev(i: u64) -> LedgerEvent {
        let mut e = LedgerEvent::new(
            RequestId(u128::from(i) << 64 | 7),
            1_700_000_000_000 + i as i64,
            "gpt-4o-mini",
            crate::event::Status::Ok,
        );
        e.usage = Usage {
            input: i,
            output: 2 * i,
            ..Usage::default()
        };
        e.cost = Money::from_pico(i as i64 * 1_234_567);
        e
    }

    #[test]
    fn frames_round_trip_and_a_torn_tail_is_cut() {
        let mut bytes = Vec::new();
        for i in 0..5 {
            bytes.extend(encode(&ev(i)).unwrap());
        }
        let (all, bad) = decode_all(&bytes);
        assert_eq!(bad, 0);
        assert_eq!(all, (0..5).map(ev).collect::<Vec<_>>());
        for cut in 1..bytes.len() {
            let (some, bad) = decode_all(&bytes[..cut]);
            assert!(some.len() < 5);
            assert_eq!(some, (0..some.len() as u64).map(ev).collect::<Vec<_>>());
            let whole: usize = some.iter().map(|e| encode(e).unwrap().len()).sum();
            assert_eq!(
                cut - bad,
                whole,
                "replay stops right after the last whole frame"
            );
        }
        // A flipped byte stops replay at that frame.
        let mut garbled = bytes.clone();
        let second = encode(&ev(0)).unwrap().len() + HEADER + 3;
        garbled[second] ^= 0x40;
        let (some, bad) = decode_all(&garbled);
        assert_eq!(some.len(), 1);
        assert!(bad > 0);
    }

    fn opt() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(".{0,40}")
    }

    fn status() -> impl Strategy<Value = Status> {
        prop_oneof![
            Just(Status::Ok),
            Just(Status::CacheHit),
            Just(Status::ClientError),
            Just(Status::UpstreamError),
            Just(Status::Timeout),
            Just(Status::ClientDisconnected),
            (0..RefusalKind::ALL.len()).prop_map(|i| Status::Refused(RefusalKind::ALL[i])),
        ]
    }

    prop_compose! {
        fn any_event()(
            id in any::<u128>(), attempt in any::<u32>(), ts in any::<i64>(), lat in any::<u64>(),
            ttft in proptest::option::of(any::<u64>()),
            names in proptest::collection::vec(".{0,30}", 4),
            opts in proptest::collection::vec(opt(), 10),
            tags in proptest::collection::vec((".{0,10}", ".{0,10}"), 0..4),
            status in status(), http in any::<u16>(), flags in 0u8..4,
            n in proptest::collection::vec(any::<u64>(), 10), web in any::<u32>(),
            money in proptest::collection::vec(any::<i64>(), 3),
        ) -> LedgerEvent {
            LedgerEvent {
                request_id: RequestId(id),
                attempt,
                ts_ms: ts,
                latency_us: lat,
                ttft_us: ttft,
                attribution: Attribution {
                    key_id: names[0].clone(),
                    team: names[1].clone(),
                    org: names[2].clone(),
                    user: opts[0].clone(),
                    customer: opts[1].clone(),
                    feature: opts[2].clone(),
                    task: opts[3].clone(),
                    parent_task: opts[4].clone(),
                    tags,
                },
                requested_model: names[3].clone(),
                served_model: opts[5].clone(),
                provider: opts[6].clone(),
                deployment: opts[7].clone(),
                route_reason: opts[8].clone(),
                status,
                http_status: http,
                error_kind: opts[9].clone(),
                stream: flags & 1 != 0,
                usage: Usage {
                    input: n[0], cache_read: n[1], cache_write_5m: n[2], cache_write_1h: n[3],
                    output: n[4], reasoning: n[5], input_audio: n[6], output_audio: n[7],
                    input_image: n[8], output_image: n[9], web_search_calls: web,
                    estimated: flags & 2 != 0,
                },
                cost: Money::from_pico(money[0]),
                list_cost: Money::from_pico(money[1]),
                cache_savings: Money::from_pico(money[2]),
                service_tier: opts[9].clone().map(|t| format!("{t}-tier")),
            }
        }
    }

    proptest! {
        /// Every event comes back exactly; a frame cut anywhere or with any byte changed
        /// never yields a different event.
        #[test]
        fn any_event_round_trips_and_damage_is_caught(e in any_event(), cut in any::<usize>(), flip in any::<usize>(), bit in 0u8..8) {
            let frame = encode(&e).unwrap();
            let (back, bad) = decode_all(&frame);
            prop_assert_eq!(bad, 0);
            prop_assert_eq!(&back, &vec![e.clone()]);
            let cut = cut % frame.len();
            let (none, bad) = decode_all(&frame[..cut]);
            prop_assert!(none.is_empty());
            prop_assert_eq!(bad, cut);
            let mut damaged = frame.clone();
            let at = flip % damaged.len();
            damaged[at] ^= 1 << bit;
            let (maybe, _) = decode_all(&damaged);
            prop_assert!(maybe.is_empty() || maybe == vec![e.clone()], "damage gave another event");
        }

        /// Garbage never panics the replay, and whatever it yields ends at a frame boundary.
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let (events, bad) = decode_all(&bytes);
            prop_assert!(bad <= bytes.len());
            prop_assert!(events.len() <= bytes.len() / HEADER);
        }
    }
}
