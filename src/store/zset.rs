//! The sorted-set value: a member → score table for O(1) score lookups beside an ordered
//! index ([`super::ordered`]) for ranks and ranges in O(log n), as Redis's `zset` pairs a
//! dict with a zskiplist. Redis keeps small sorted sets in a
//! listpack instead; we keep one representation and report the encoding Redis would have
//! chosen (`listpack` until `zset-max-listpack-entries` or `-value` is exceeded, then
//! `skiplist` for good), so OBJECT ENCODING answers as stock.

use super::encoding::{EncodingLimits, limit};
use super::ordered::OrderedIndex;
use super::value::StrBytes;
use std::collections::HashMap;

/// A score interval as ZRANGEBYSCORE takes it (`(` marks an open end).
#[derive(Debug, Clone, Copy)]
pub struct ScoreRange {
    /// Lower end.
    pub min: f64,
    /// Upper end.
    pub max: f64,
    /// Lower end excluded.
    pub min_ex: bool,
    /// Upper end excluded.
    pub max_ex: bool,
}

impl ScoreRange {
    fn above_min(&self, s: f64) -> bool {
        if self.min_ex {
            s > self.min
        } else {
            s >= self.min
        }
    }
    fn below_max(&self, s: f64) -> bool {
        if self.max_ex {
            s < self.max
        } else {
            s <= self.max
        }
    }
}

/// One end of a lexicographic interval as ZRANGEBYLEX takes it.
#[derive(Debug, Clone)]
pub enum LexBound {
    /// `-`: below every member.
    Min,
    /// `+`: above every member.
    Max,
    /// `[m`.
    Incl(bytes::Bytes),
    /// `(m`.
    Excl(bytes::Bytes),
}

/// A lexicographic interval.
#[derive(Debug, Clone)]
pub struct LexRange {
    /// Lower end.
    pub min: LexBound,
    /// Upper end.
    pub max: LexBound,
}

impl LexRange {
    fn above_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::Incl(b) => m >= &b[..],
            LexBound::Excl(b) => m > &b[..],
        }
    }
    fn below_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Incl(b) => m <= &b[..],
            LexBound::Excl(b) => m < &b[..],
        }
    }
}

/// ZADD's conditions.
#[derive(Debug, Clone, Copy, Default)]
pub struct AddFlags {
    /// Only add new members.
    pub nx: bool,
    /// Only update existing members.
    pub xx: bool,
    /// Only update when the new score is greater.
    pub gt: bool,
    /// Only update when the new score is less.
    pub lt: bool,
    /// The score is an increment.
    pub incr: bool,
}

/// What one ZADD element did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AddOutcome {
    /// A new member, with its score.
    Added(f64),
    /// An existing member got a new score.
    Updated(f64),
    /// An existing member kept its score (same score given).
    Unchanged(f64),
    /// Nothing done because of NX/XX/GT/LT.
    Skipped,
    /// The increment made the score NaN (nothing done).
    Nan,
}

/// The score as Redis would store it: a listpack keeps a zero score as the integer 0, so
/// -0 reads back as 0 there (and stays -0 in a skiplist).
fn stored(packed: bool, score: f64) -> f64 {
    if packed && score == 0.0 { 0.0 } else { score }
}

/// Members with scores, ordered by (score, member).
#[derive(Debug, Clone)]
pub struct ZSetValue {
    scores: HashMap<StrBytes, f64, ahash::RandomState>,
    order: OrderedIndex,
    /// Whether Redis would still hold this set as a listpack.
    packed: bool,
}

impl Default for ZSetValue {
    fn default() -> Self {
        ZSetValue {
            scores: HashMap::default(),
            order: OrderedIndex::default(),
            packed: true,
        }
    }
}

impl PartialEq for ZSetValue {
    fn eq(&self, other: &Self) -> bool {
        self.scores == other.scores
    }
}

impl ZSetValue {
    /// Number of members.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// True when empty (the key is then deleted).
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// The score of a member.
    pub fn score(&self, m: &[u8]) -> Option<f64> {
        self.scores.get(m).copied()
    }

    /// Adds or updates one member under ZADD's conditions (Redis's `zsetAdd`).
    pub fn add(
        &mut self,
        score: f64,
        m: &[u8],
        f: AddFlags,
        limits: &EncodingLimits,
    ) -> AddOutcome {
        let packed = self.packed;
        match self.scores.get_mut(m) {
            Some(slot) => {
                let cur = *slot;
                if f.nx {
                    return AddOutcome::Skipped;
                }
                let new = if f.incr { score + cur } else { score };
                if new.is_nan() {
                    return AddOutcome::Nan;
                }
                if (f.lt && new >= cur) || (f.gt && new <= cur) {
                    return AddOutcome::Skipped;
                }
                let new = stored(packed, new);
                if new == cur {
                    return AddOutcome::Unchanged(new);
                }
                *slot = new;
                self.order.update_score(cur, m, new);
                AddOutcome::Updated(new)
            }
            None if f.xx => AddOutcome::Skipped,
            None => AddOutcome::Added(self.insert_new(score, m, limits)),
        }
    }

    fn insert_new(&mut self, score: f64, m: &[u8], limits: &EncodingLimits) -> f64 {
        if self.packed
            && (self.len() + 1 > limit(&limits.zset_max_listpack_entries)
                || m.len() > limit(&limits.zset_max_listpack_value))
        {
            self.packed = false;
        }
        let score = stored(self.packed, score);
        let m = StrBytes::from_slice(m);
        self.scores.insert(m.clone(), score);
        self.order.insert(score, m);
        score
    }

    /// Removes a member; true when it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self.scores.remove(m) {
            Some(s) => {
                self.order.remove(s, m);
                true
            }
            None => false,
        }
    }

    /// 0-based rank of a member, from the lowest score (or the highest when `rev`).
    pub fn rank(&self, m: &[u8], rev: bool) -> Option<usize> {
        let s = self.score(m)?;
        let r = self.order.rank(s, m);
        Some(if rev { self.len() - 1 - r } else { r })
    }

    /// Ranks `[from, to)` of the members inside a score range.
    pub fn score_bounds(&self, r: &ScoreRange) -> (usize, usize) {
        let from = self.order.count_while(|s, _| !r.above_min(s));
        let to = self.order.count_while(|s, _| r.below_max(s));
        (from, to.max(from))
    }

    /// Ranks `[from, to)` of the members inside a lexicographic range (meaningful when
    /// all scores are equal, as in Redis; with mixed scores, the first and last members
    /// are checked first as Redis's `zslIsInLexRange` does, so answers match stock).
    pub fn lex_bounds(&self, r: &LexRange) -> (usize, usize) {
        let (Some((first, _)), Some((last, _))) = (self.at(0), self.at(self.len().max(1) - 1))
        else {
            return (0, 0);
        };
        if !r.above_min(last) || !r.below_max(first) {
            return (0, 0);
        }
        let from = self.order.count_while(|_, m| !r.above_min(m));
        let to = self.order.count_while(|_, m| r.below_max(m));
        (from, to.max(from))
    }

    /// Up to `limit` members with ranks in `[from, to)`, from `from` upwards, or from
    /// `to - 1` downwards when `rev`.
    pub fn range(&self, from: usize, to: usize, rev: bool, limit: usize) -> Vec<(StrBytes, f64)> {
        let n = to.saturating_sub(from).min(limit);
        if n == 0 {
            return Vec::new();
        }
        let start = if rev { to - 1 } else { from };
        self.order
            .walk(start, rev, n)
            .map(|(m, s)| (m.clone(), s))
            .collect()
    }

    /// The members with ranks in `[from, to)`, lowest first, borrowed (GEOSEARCH keeps
    /// few of the members it looks at).
    pub fn range_iter(
        &self,
        from: usize,
        to: usize,
    ) -> impl Iterator<Item = (&StrBytes, f64)> + '_ {
        let n = to.saturating_sub(from);
        self.order.walk(from.min(self.len()), false, n)
    }

    /// Removes the members with ranks in `[from, to)`; returns how many.
    pub fn remove_range(&mut self, from: usize, to: usize) -> usize {
        let doomed = self.range(from, to, false, usize::MAX);
        for (m, _) in &doomed {
            self.remove(m);
        }
        doomed.len()
    }

    /// Removes and returns up to `count` members with the lowest scores (or highest).
    pub fn pop(&mut self, lowest: bool, count: usize) -> Vec<(StrBytes, f64)> {
        let len = self.len();
        let popped = if lowest {
            self.range(0, len, false, count)
        } else {
            self.range(0, len, true, count)
        };
        for (m, _) in &popped {
            self.remove(m);
        }
        popped
    }

    /// Members in order with their scores.
    pub fn iter(&self) -> impl Iterator<Item = (&StrBytes, f64)> + '_ {
        self.order.iter()
    }

    /// The member at a 0-based rank.
    pub fn at(&self, rank: usize) -> Option<(&StrBytes, f64)> {
        self.order.at(rank)
    }

    /// "listpack" or "skiplist", as Redis would hold this set.
    pub fn encoding(&self) -> &'static str {
        if self.packed { "listpack" } else { "skiplist" }
    }

    /// Heap bytes held (approximate).
    pub fn heap_size(&self) -> usize {
        self.order.heap_size() + self.scores.capacity() * (std::mem::size_of::<StrBytes>() + 16)
    }

    /// A sorted set from (member, score) pairs (RDB load, STORE results; a repeated member
    /// keeps its last score), in the encoding Redis would pick for a new set of this size.
    pub fn from_pairs<M: AsRef<[u8]>>(
        pairs: impl IntoIterator<Item = (M, f64)>,
        limits: &EncodingLimits,
    ) -> Self {
        let mut z = ZSetValue {
            packed: false,
            ..Default::default()
        };
        for (m, s) in pairs {
            z.add(s, m.as_ref(), AddFlags::default(), limits);
        }
        let max_value = limit(&limits.zset_max_listpack_value);
        let packed = z.len() <= limit(&limits.zset_max_listpack_entries)
            && z.scores.keys().all(|m| m.len() <= max_value);
        if packed && z.scores.values().any(|s| *s == 0.0 && s.is_sign_negative()) {
            // Rebuilt as stored in a listpack (-0 becomes 0).
            let items: Vec<(StrBytes, f64)> = z.iter().map(|(m, s)| (m.clone(), s)).collect();
            z = ZSetValue::default();
            for (m, s) in items {
                z.add(s, &m, AddFlags::default(), limits);
            }
        }
        z.packed = packed;
        z
    }
}
