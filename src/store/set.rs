//! The set value: a sorted vector of integers (what Redis calls an intset) while every
//! member is a canonical integer and there are at most `set-max-intset-entries` of them,
//! a hash set beyond; OBJECT ENCODING reports which.

use super::encoding::{EncodingLimits, limit};
use super::value::StrBytes;
use std::collections::HashSet;

/// Members of one set.
#[derive(Debug, Clone, PartialEq)]
pub enum SetValue {
    /// Sorted integers.
    Ints(Vec<i64>),
    /// Any members.
    Table(HashSet<StrBytes, ahash::RandomState>),
}

impl Default for SetValue {
    fn default() -> Self {
        SetValue::Ints(Vec::new())
    }
}

/// The integer a member stands for, when it is written the canonical way.
fn as_int(m: &[u8]) -> Option<i64> {
    let v = crate::protocol::parse_i64(m)?;
    (itoa::Buffer::new().format(v).as_bytes() == m).then_some(v)
}

impl SetValue {
    /// Number of members.
    pub fn len(&self) -> usize {
        match self {
            SetValue::Ints(v) => v.len(),
            SetValue::Table(s) => s.len(),
        }
    }

    /// True when empty (the key is then deleted).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Membership.
    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            SetValue::Ints(v) => as_int(m).is_some_and(|i| v.binary_search(&i).is_ok()),
            SetValue::Table(s) => s.contains(m),
        }
    }

    /// Adds a member; true when new.
    pub fn add(&mut self, m: &[u8], limits: &EncodingLimits) -> bool {
        if let SetValue::Ints(v) = self {
            if let Some(i) = as_int(m) {
                return match v.binary_search(&i) {
                    Ok(_) => false,
                    Err(pos) => {
                        v.insert(pos, i);
                        if v.len() > limit(&limits.set_max_intset_entries) {
                            self.convert_to_table();
                        }
                        true
                    }
                };
            }
            self.convert_to_table();
        }
        let SetValue::Table(s) = self else {
            unreachable!("converted above")
        };
        s.insert(StrBytes::from_slice(m))
    }

    /// Removes a member; true when it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            SetValue::Ints(v) => match as_int(m).map(|i| v.binary_search(&i)) {
                Some(Ok(pos)) => {
                    v.remove(pos);
                    true
                }
                _ => false,
            },
            SetValue::Table(s) => s.remove(m),
        }
    }

    /// Every member (ascending for integer sets).
    pub fn members(&self) -> Vec<StrBytes> {
        match self {
            SetValue::Ints(v) => v
                .iter()
                .map(|i| StrBytes::from_slice(itoa::Buffer::new().format(*i).as_bytes()))
                .collect(),
            SetValue::Table(s) => s.iter().cloned().collect(),
        }
    }

    /// "intset" or "hashtable".
    pub fn encoding(&self) -> &'static str {
        match self {
            SetValue::Ints(_) => "intset",
            SetValue::Table(_) => "hashtable",
        }
    }

    /// Heap bytes held (approximate).
    pub fn heap_size(&self) -> usize {
        match self {
            SetValue::Ints(v) => v.len() * 8,
            SetValue::Table(s) => s.iter().map(|m| m.len() + 32).sum(),
        }
    }

    /// A set from members (RDB load, STORE results).
    pub fn from_members<M: AsRef<[u8]>>(
        members: impl IntoIterator<Item = M>,
        limits: &EncodingLimits,
    ) -> Self {
        let mut s = SetValue::default();
        for m in members {
            s.add(m.as_ref(), limits);
        }
        s
    }

    fn convert_to_table(&mut self) {
        if let SetValue::Ints(_) = self {
            let members = self.members().into_iter().collect();
            *self = SetValue::Table(members);
        }
    }
}
