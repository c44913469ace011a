//! `verify_audit`: recomputes every record hash from its canonical bytes and the chain, checks seq
//! continuity, checks the plain search columns against the hashed event, recomputes the Merkle root at
//! every checkpoint size and checks every checkpoint signature.
//!
//! What it can and cannot see:
//! * a record modified, removed, inserted or moved inside the chain breaks it at that point and is
//!   reported with the first bad seq and a kind ([`ProblemKind`]), classified from how the stored hashes
//!   still link;
//! * a rewrite of the whole chain after some record (the chain is not keyed) keeps the chain consistent,
//!   but not the Merkle root of any checkpoint covering it: [`ProblemKind::CheckpointRootMismatch`];
//! * records removed from the end are seen when a checkpoint covers more records than remain
//!   ([`ProblemKind::Deleted`]);
//! * [`ProblemKind::MissingCheckpoint`]: the trail has records but the checkpoint table is empty. Galien
//!   signs a checkpoint at start-up (size 0 on a new installation) and periodically, so an empty table
//!   beside records means checkpoints were removed (or never made: a deployment that skips them loses
//!   tamper evidence for rewrites, which is worth failing loudly). Records newer than the newest
//!   checkpoint are not a problem; the report counts them in [`VerifyReport::uncovered`].
//! * What is beyond any database check: removing the newest records *and* every checkpoint covering them,
//!   or forging checkpoints without the key. Copies of signed tree heads held outside
//!   (`galien audit checkpoint --export`) answer the first; the key file's protection, the second.

use galien_core::audit::{decode_canonical, to_micros};
use galien_crypto::audit::{CompactRange, GENESIS, Hash, VerifyingKey, record_hash};

use super::dialect::RecordRow;
use super::{Checkpoint, PAGE_SIZE, to_hash};
use crate::{Store, StoreError};

/// How far ahead (and how many seq offsets) the classifier looks.
const WINDOW: usize = 64;

/// What is wrong with the trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemKind {
    /// A record's content, hash or search columns were changed.
    Modified,
    /// A record is missing (a gap in seq, records renumbered to close one, or the end of the trail cut
    /// below a checkpoint).
    Deleted,
    /// A record was added inside the chain.
    Inserted,
    /// Records were moved relative to each other.
    Reordered,
    /// A checkpoint's signature does not verify with the key (or names another key).
    BadCheckpointSignature,
    /// The records' Merkle root at a checkpoint's size is not the signed root (or its stored frontier
    /// does not match its root).
    CheckpointRootMismatch,
    /// Records exist but no checkpoint does.
    MissingCheckpoint,
}

impl ProblemKind {
    /// A stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Modified => "modified",
            ProblemKind::Deleted => "deleted",
            ProblemKind::Inserted => "inserted",
            ProblemKind::Reordered => "reordered",
            ProblemKind::BadCheckpointSignature => "bad-checkpoint-signature",
            ProblemKind::CheckpointRootMismatch => "checkpoint-root-mismatch",
            ProblemKind::MissingCheckpoint => "missing-checkpoint",
        }
    }
}

impl std::fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditProblem {
    /// The first bad seq (for checkpoint problems: the checkpoint's size).
    pub seq: u64,
    /// What kind of tampering it looks like.
    pub kind: ProblemKind,
    /// One line for the operator.
    pub detail: String,
}

impl std::fmt::Display for AuditProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at seq {}: {}", self.kind, self.seq, self.detail)
    }
}

/// The outcome of [`Store::verify_audit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// The first seq whose hash was recomputed.
    pub first_seq: u64,
    /// Records checked (up to the first problem).
    pub records: u64,
    /// Checkpoints whose signature verified.
    pub checkpoints: u64,
    /// The stored head (newest seq and hash).
    pub head: Option<(u64, Hash)>,
    /// Records newer than the newest checkpoint.
    pub uncovered: u64,
    /// The last seq removed by a retention purge (0 if never purged): verification starts after it.
    pub purged_through: u64,
    /// The first problem, if any.
    pub problem: Option<AuditProblem>,
}

impl VerifyReport {
    /// No problem found.
    pub fn is_ok(&self) -> bool {
        self.problem.is_none()
    }
}

fn problem(seq: u64, kind: ProblemKind, detail: impl Into<String>) -> AuditProblem {
    AuditProblem {
        seq,
        kind,
        detail: detail.into(),
    }
}

/// The record hash of `row` if it is record `expected`, intact and chained to `prev`.
fn check_row(expected: u64, row: &RecordRow, prev: &Hash) -> Option<Hash> {
    let (seq, _, _, _, _, _, _, canonical, prev_hash, hash) = row;
    let ok = u64::try_from(*seq).ok() == Some(expected)
        && prev_hash == prev
        && *hash == record_hash(prev, expected, canonical)
        && columns_problem(row).is_none();
    ok.then(|| to_hash(hash, *seq).ok()).flatten()
}

/// Which stored column disagrees with the hashed event, if any.
fn columns_problem(row: &RecordRow) -> Option<String> {
    let (_, id, at, actor_user, action, outcome, patient, canonical, _, _) = row;
    let e = match decode_canonical(canonical) {
        Ok(e) => e,
        Err(err) => return Some(format!("its hashed bytes do not decode ({err})")),
    };
    let differs = if *id != e.id.as_uuid() {
        "id"
    } else if *at != to_micros(e.at) {
        "at"
    } else if *actor_user != e.actor.user.map(|u| u.as_uuid()) {
        "actor_user"
    } else if action != e.action.as_str() {
        "action"
    } else if outcome != e.outcome.as_str() {
        "outcome"
    } else if *patient != e.patient.map(|p| p.as_uuid()) {
        "patient"
    } else {
        return None;
    };
    Some(format!(
        "its stored column `{differs}` differs from the hashed record"
    ))
}

/// Explains why record `expected` failed [`check_row`], from how the stored hashes still link.
fn classify(
    expected: u64,
    row: &RecordRow,
    prev: &Hash,
    prev_prev: Option<&Hash>,
    later: &[RecordRow],
) -> AuditProblem {
    use ProblemKind::*;
    let (seq, _, _, _, _, _, _, canonical, prev_hash, hash) = row;
    if u64::try_from(*seq).ok() != Some(expected) {
        return problem(
            expected,
            Deleted,
            format!("record {expected} is missing (the next stored record is {seq})"),
        );
    }
    if let Some(why) = columns_problem(row) {
        return problem(expected, Modified, format!("record {expected}: {why}"));
    }
    let stored_prev: Option<Hash> = prev_hash.as_slice().try_into().ok();
    let hashed_as = |s: u64| stored_prev.is_some_and(|p| *hash == record_hash(&p, s, canonical));
    let link_ok = prev_hash == prev;
    if later.iter().any(|r| r.9 == *prev_hash) {
        return problem(
            expected,
            Reordered,
            format!("record {expected} is chained after a record stored later in the trail"),
        );
    }
    let next_skips = later
        .first()
        .is_some_and(|n| n.8 == *prev && u64::try_from(n.0).ok() == Some(expected + 1));
    let before = expected.saturating_sub(1);
    if link_ok {
        return if next_skips {
            problem(
                expected,
                Inserted,
                format!(
                    "records {expected} and {} both follow record {before}",
                    expected + 1
                ),
            )
        } else {
            problem(
                expected,
                Modified,
                format!("record {expected} does not match its hash"),
            )
        };
    }
    if prev_prev.is_some_and(|pp| prev_hash.as_slice() == pp) {
        return problem(
            before,
            Inserted,
            format!(
                "records {before} and {expected} both follow record {}",
                before.saturating_sub(1)
            ),
        );
    }
    if next_skips {
        return problem(
            expected,
            Inserted,
            format!("record {} follows record {before} directly", expected + 1),
        );
    }
    for d in 1..=WINDOW as u64 {
        if hashed_as(expected + d) {
            return problem(
                expected,
                Deleted,
                format!(
                    "record {expected} was chained as record {}: {d} record(s) before it were removed and the rest renumbered",
                    expected + d
                ),
            );
        }
        if d < expected && hashed_as(expected - d) {
            return problem(
                expected,
                Inserted,
                format!(
                    "record {expected} was chained as record {}: records were inserted before it",
                    expected - d
                ),
            );
        }
    }
    if hashed_as(expected) && expected > 1 {
        return problem(
            before,
            Modified,
            format!("record {before} changed after record {expected} was chained to it"),
        );
    }
    problem(
        expected,
        Modified,
        format!("record {expected} does not match its hash or its predecessor"),
    )
}

/// Compares the root at every checkpoint size reached so far.
fn check_due(
    range: &CompactRange,
    due: &[(u64, Hash)],
    next: &mut usize,
    problems: &mut Vec<AuditProblem>,
) {
    while let Some((size, root)) = due.get(*next).filter(|(size, _)| *size <= range.size()) {
        *next += 1;
        if *size == range.size() && *root != range.root() {
            problems.push(problem(
                *size,
                ProblemKind::CheckpointRootMismatch,
                format!(
                    "the records' Merkle root at size {size} is not the signed one: records up to it were rewritten"
                ),
            ));
        }
    }
}

impl Store {
    /// Verifies the audit trail with the checkpoint signing key's public half (see the module
    /// documentation for what is checked). `from_seq`: start at the newest valid checkpoint below it
    /// instead of the first record (its frontier and the hash of its last record are taken as they are;
    /// records after it are fully checked); `None` checks everything.
    pub async fn verify_audit(
        &self,
        key: &VerifyingKey,
        from_seq: Option<u64>,
    ) -> Result<VerifyReport, StoreError> {
        let checkpoints = self.audit_checkpoints_raw().await?;
        let head = self.audit_head().await?;
        let mut problems: Vec<AuditProblem> = Vec::new();
        let mut good = 0u64;
        for c in &checkpoints {
            let size = c.signed.head.size;
            if !c.signed.verify(key) {
                problems.push(problem(
                    size,
                    ProblemKind::BadCheckpointSignature,
                    format!(
                        "the checkpoint of size {size} is not signed by this key (key id {})",
                        galien_crypto::audit::key_id(key)
                    ),
                ));
            } else {
                good += 1;
                if c.frontier.is_none() {
                    problems.push(problem(
                        size,
                        ProblemKind::CheckpointRootMismatch,
                        format!(
                            "the stored frontier of checkpoint {size} does not give its signed root"
                        ),
                    ));
                }
            }
        }
        // Checkpoints that can be trusted: signed by this key, with a frontier that gives their root.
        let valid: Vec<&Checkpoint> = checkpoints
            .iter()
            .filter(|c| c.signed.verify(key) && c.frontier.is_some())
            .collect();

        // A retention purge removed records 1..=floor: its signed marker holds the hash of the last
        // one, and a signed checkpoint at exactly that size holds the frontier.
        let purge = self.audit_purge_marker().await?;
        let floor = purge.as_ref().map_or(0, |p| p.marker.through);
        if let Some(p) = &purge
            && !p.verify(key)
        {
            problems.push(problem(
                floor,
                ProblemKind::BadCheckpointSignature,
                format!("the purge marker through record {floor} is not signed by this key"),
            ));
        }

        // Where to start.
        let start = from_seq
            .filter(|s| *s > 1)
            .and_then(|s| {
                valid
                    .iter()
                    .rfind(|c| c.signed.head.size >= 1.max(floor) && c.signed.head.size < s)
                    .copied()
            })
            .or_else(|| {
                (floor > 0)
                    .then(|| valid.iter().find(|c| c.signed.head.size == floor).copied())
                    .flatten()
            });
        if floor > 0 && start.is_none() {
            problems.push(problem(
                floor,
                ProblemKind::CheckpointRootMismatch,
                format!("no valid signed checkpoint at the purge boundary (record {floor})"),
            ));
        }
        let (mut range, mut prev) = (CompactRange::new(), GENESIS);
        if let Some(Checkpoint {
            frontier: Some(frontier),
            signed,
        }) = start
        {
            let size = signed.head.size;
            match &purge {
                Some(p) if size == floor => {
                    range = frontier.clone();
                    prev = p.marker.last_hash;
                }
                _ => {
                    let rows = self.audit_page(size - 1, 1).await?;
                    match rows.first() {
                        Some(row) if u64::try_from(row.0).ok() == Some(size) => {
                            range = frontier.clone();
                            prev = to_hash(&row.9, row.0)?;
                        }
                        _ => problems.push(problem(
                            size,
                            ProblemKind::Deleted,
                            format!("record {size}, the last covered by a checkpoint, is missing"),
                        )),
                    }
                }
            }
        }
        let first_seq = range.size() + 1;
        let mut prev_prev: Option<Hash> = None;
        let mut records = 0u64;
        // (size, signed root) of the checkpoints still to meet, smallest first.
        let due: Vec<(u64, Hash)> = valid
            .iter()
            .map(|c| (c.signed.head.size, c.signed.head.root))
            .filter(|(size, _)| *size >= range.size())
            .collect();
        let mut next_due = 0usize;
        check_due(&range, &due, &mut next_due, &mut problems);

        'scan: while problems.iter().all(|p| p.seq > range.size()) {
            let rows = self.audit_page(range.size(), PAGE_SIZE).await?;
            if rows.is_empty() {
                break;
            }
            for (i, row) in rows.iter().enumerate() {
                let expected = range.size() + 1;
                match check_row(expected, row, &prev) {
                    Some(hash) => {
                        prev_prev = Some(prev);
                        prev = hash;
                        range.push(&hash);
                        records += 1;
                        check_due(&range, &due, &mut next_due, &mut problems);
                    }
                    None => {
                        let mut later: Vec<RecordRow> =
                            rows.get(i + 1..).unwrap_or_default().to_vec();
                        if later.len() < WINDOW
                            && let Some(last) = rows.last()
                        {
                            let after = u64::try_from(last.0).unwrap_or(0);
                            later.extend(self.audit_page(after, WINDOW as i64).await?);
                        }
                        problems.push(classify(expected, row, &prev, prev_prev.as_ref(), &later));
                        break 'scan;
                    }
                }
            }
        }

        let last = range.size();
        let scanned_to_end = problems.iter().all(|p| p.seq > last);
        if scanned_to_end && let Some(c) = valid.iter().find(|c| c.signed.head.size > last) {
            problems.push(problem(
                last + 1,
                ProblemKind::Deleted,
                format!(
                    "a checkpoint covers {} records but the trail ends at {last}",
                    c.signed.head.size
                ),
            ));
        }
        if checkpoints.is_empty() && head.is_some() {
            problems.push(problem(
                1,
                ProblemKind::MissingCheckpoint,
                "the trail has records but no signed checkpoint (Galien signs one at start-up)",
            ));
        }
        let covered = valid.iter().map(|c| c.signed.head.size).max().unwrap_or(0);
        let head_seq = head.map_or(0, |(s, _)| s);
        Ok(VerifyReport {
            first_seq,
            records,
            checkpoints: good,
            head,
            uncovered: head_seq.saturating_sub(covered),
            purged_through: floor,
            problem: problems.into_iter().min_by_key(|p| p.seq),
        })
    }
}
