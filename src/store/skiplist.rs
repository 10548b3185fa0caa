//! The ordered index of a sorted set: a skip list ordered by (score, member) whose links
//! carry spans (how many elements each link skips), as Redis's `zskiplist`, so the rank
//! of an element, the element at a rank and the bounds of a score or lexicographic range
//! are all found in O(log n), and ranges are then walked link by link in either
//! direction.
//!
//! Nodes live in one vector and link by index (no unsafe pointers); freed slots are
//! reused, and the vector is compacted when most of it is free.

use super::value::StrBytes;

/// Highest level a node can have (Redis's ZSKIPLIST_MAXLEVEL).
const MAX_LEVEL: usize = 32;
/// "No node".
const NIL: u32 = u32::MAX;
/// Index of the header node, which holds no element.
const HEAD: u32 = 0;

#[derive(Debug, Clone, Copy)]
struct Link {
    next: u32,
    /// Elements passed by following `next` (1 for adjacent nodes).
    span: u32,
}

#[derive(Debug, Clone)]
struct Node {
    member: StrBytes,
    score: f64,
    prev: u32,
    links: Box<[Link]>,
}

/// A rank-indexed ordered list of (score, member).
#[derive(Debug, Clone)]
pub struct SkipList {
    nodes: Vec<Node>,
    free: Vec<u32>,
    level: usize,
    len: usize,
    tail: u32,
}

/// Identifies a node while the list is not modified.
pub type NodeId = u32;

impl Default for SkipList {
    fn default() -> Self {
        SkipList {
            nodes: vec![Node {
                member: StrBytes::new(),
                score: 0.0,
                prev: NIL,
                links: vec![Link { next: NIL, span: 0 }; MAX_LEVEL].into_boxed_slice(),
            }],
            free: Vec::new(),
            level: 1,
            len: 0,
            tail: NIL,
        }
    }
}

/// Level of a new node: each level with probability 1/4, as Redis's ZSKIPLIST_P.
fn random_level() -> usize {
    use rand::RngExt;
    let bits: u64 = rand::rng().random();
    // Two bits per level: all zero (probability 1/4) means "one level more".
    let mut level = 1;
    let mut b = bits;
    while level < MAX_LEVEL && b & 3 == 0 {
        level += 1;
        b >>= 2;
    }
    level
}

/// True when (s1, m1) sorts before (s2, m2).
fn before(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> bool {
    s1 < s2 || (s1 == s2 && m1 < m2)
}

impl SkipList {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn link(&self, id: u32, level: usize) -> Link {
        self.nodes[id as usize].links[level]
    }

    fn link_mut(&mut self, id: u32, level: usize) -> &mut Link {
        &mut self.nodes[id as usize].links[level]
    }

    /// The member and score of a node.
    pub fn get(&self, id: NodeId) -> (&StrBytes, f64) {
        let n = &self.nodes[id as usize];
        (&n.member, n.score)
    }

    /// The node after `id`, if any.
    pub fn next(&self, id: NodeId) -> Option<NodeId> {
        let n = self.link(id, 0).next;
        (n != NIL).then_some(n)
    }

    /// The node before `id`, if any.
    pub fn prev(&self, id: NodeId) -> Option<NodeId> {
        let p = self.nodes[id as usize].prev;
        (p != NIL).then_some(p)
    }

    /// For each level, the last node before (score, member), and its rank.
    fn path_to(&self, score: f64, member: &[u8]) -> ([u32; MAX_LEVEL], [u32; MAX_LEVEL]) {
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0u32; MAX_LEVEL];
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            rank[i] = if i == self.level - 1 { 0 } else { rank[i + 1] };
            loop {
                let l = self.link(x, i);
                if l.next == NIL {
                    break;
                }
                let n = &self.nodes[l.next as usize];
                if !before(n.score, &n.member, score, member) {
                    break;
                }
                rank[i] += l.span;
                x = l.next;
            }
            update[i] = x;
        }
        (update, rank)
    }

    fn alloc(&mut self, node: Node) -> u32 {
        match self.free.pop() {
            Some(id) => {
                self.nodes[id as usize] = node;
                id
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    /// Inserts an element that is not in the list.
    pub fn insert(&mut self, score: f64, member: StrBytes) {
        let (mut update, mut rank) = self.path_to(score, &member);
        let level = random_level();
        if level > self.level {
            for i in self.level..level {
                rank[i] = 0;
                update[i] = HEAD;
                self.link_mut(HEAD, i).span = self.len as u32;
            }
            self.level = level;
        }
        let id = self.alloc(Node {
            member,
            score,
            prev: if update[0] == HEAD { NIL } else { update[0] },
            links: vec![Link { next: NIL, span: 0 }; level].into_boxed_slice(),
        });
        for i in 0..level {
            let u = self.link(update[i], i);
            let passed = rank[0] - rank[i];
            *self.link_mut(id, i) = Link {
                next: u.next,
                span: u.span - passed,
            };
            *self.link_mut(update[i], i) = Link {
                next: id,
                span: passed + 1,
            };
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(level) {
            self.link_mut(u, i).span += 1;
        }
        match self.link(id, 0).next {
            NIL => self.tail = id,
            n => self.nodes[n as usize].prev = id,
        }
        self.len += 1;
    }

    fn unlink(&mut self, x: u32, update: &[u32; MAX_LEVEL]) -> StrBytes {
        for (i, &u) in update.iter().enumerate().take(self.level) {
            let ul = self.link(u, i);
            if ul.next == x {
                let xl = self.link(x, i);
                *self.link_mut(u, i) = Link {
                    next: xl.next,
                    span: ul.span + xl.span - 1,
                };
            } else {
                self.link_mut(u, i).span -= 1;
            }
        }
        let next = self.link(x, 0).next;
        let prev = self.nodes[x as usize].prev;
        match next {
            NIL => self.tail = prev,
            n => self.nodes[n as usize].prev = prev,
        }
        while self.level > 1 && self.link(HEAD, self.level - 1).next == NIL {
            self.level -= 1;
        }
        self.len -= 1;
        let node = &mut self.nodes[x as usize];
        node.links = Box::new([]);
        let member = std::mem::take(&mut node.member);
        self.free.push(x);
        if self.free.len() > 1024 && self.free.len() > 2 * self.len {
            self.compact();
        }
        member
    }

    /// Rebuilds the node vector without free slots (after many removals).
    fn compact(&mut self) {
        let items: Vec<(f64, StrBytes)> = self
            .iter_from(self.first())
            .map(|id| {
                let n = &self.nodes[id as usize];
                (n.score, n.member.clone())
            })
            .collect();
        *self = SkipList::default();
        for (s, m) in items {
            self.insert(s, m);
        }
    }

    /// Removes the element (score, member); returns its member bytes when it was there.
    pub fn remove(&mut self, score: f64, member: &[u8]) -> Option<StrBytes> {
        let (update, _) = self.path_to(score, member);
        let x = self.link(update[0], 0).next;
        if x == NIL {
            return None;
        }
        let n = &self.nodes[x as usize];
        if n.score != score || &n.member[..] != member {
            return None;
        }
        Some(self.unlink(x, &update))
    }

    /// Changes the score of (old, member), which must be in the list: in place when the
    /// order does not change, as Redis's `zslUpdateScore`.
    pub fn update_score(&mut self, old: f64, member: &[u8], new: f64) {
        let (update, _) = self.path_to(old, member);
        let x = self.link(update[0], 0).next;
        debug_assert!(x != NIL, "update_score of a missing element");
        if x == NIL {
            return;
        }
        let prev = self.nodes[x as usize].prev;
        let next = self.link(x, 0).next;
        let prev_ok = prev == NIL || self.nodes[prev as usize].score < new;
        let next_ok = next == NIL || self.nodes[next as usize].score > new;
        if prev_ok && next_ok {
            self.nodes[x as usize].score = new;
            return;
        }
        let m = self.unlink(x, &update);
        self.insert(new, m);
    }

    /// Number of leading elements for which `pred` holds; `pred` must hold for a prefix
    /// of the order (then false for the rest), which the descent relies on.
    pub fn count_while(&self, mut pred: impl FnMut(f64, &[u8]) -> bool) -> usize {
        let mut x = HEAD;
        let mut r = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next == NIL {
                    break;
                }
                let n = &self.nodes[l.next as usize];
                if !pred(n.score, &n.member) {
                    break;
                }
                r += l.span as usize;
                x = l.next;
            }
        }
        r
    }

    /// 0-based rank of (score, member), which must be in the list.
    pub fn rank(&self, score: f64, member: &[u8]) -> usize {
        self.count_while(|s, m| before(s, m, score, member))
    }

    /// The node at 0-based `rank`.
    pub fn at(&self, rank: usize) -> Option<NodeId> {
        if rank >= self.len {
            return None;
        }
        let target = rank + 1;
        let mut x = HEAD;
        let mut traversed = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next == NIL || traversed + l.span as usize > target {
                    break;
                }
                traversed += l.span as usize;
                x = l.next;
            }
            if traversed == target {
                return Some(x);
            }
        }
        None
    }

    /// The first node, if any.
    pub fn first(&self) -> Option<NodeId> {
        self.next(HEAD)
    }

    /// The last node, if any.
    pub fn last(&self) -> Option<NodeId> {
        (self.tail != NIL).then_some(self.tail)
    }

    /// Nodes from `start` onwards.
    pub fn iter_from(&self, start: Option<NodeId>) -> impl Iterator<Item = NodeId> + '_ {
        std::iter::successors(start, move |&id| self.next(id))
    }

    /// Nodes from `start` backwards.
    pub fn iter_back_from(&self, start: Option<NodeId>) -> impl Iterator<Item = NodeId> + '_ {
        std::iter::successors(start, move |&id| self.prev(id))
    }

    /// Approximate heap bytes (nodes, links, member bytes beyond the inline ones).
    pub fn heap_size(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self
                .nodes
                .iter()
                .map(|n| {
                    n.links.len() * std::mem::size_of::<Link>()
                        + if n.member.spilled() {
                            n.member.capacity()
                        } else {
                            0
                        }
                })
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(l: &SkipList) -> Vec<(f64, Vec<u8>)> {
        l.iter_from(l.first())
            .map(|id| {
                let (m, s) = l.get(id);
                (s, m.to_vec())
            })
            .collect()
    }

    #[test]
    fn ranks_and_order_follow_a_sorted_model() {
        use rand::RngExt;
        let mut rng = rand::rng();
        let mut l = SkipList::default();
        let mut model: Vec<(f64, Vec<u8>)> = Vec::new();
        for round in 0..6000 {
            let m = format!("m{}", rng.random_range(0..400)).into_bytes();
            let pos = model.iter().position(|(_, x)| *x == m);
            let action = rng.random_range(0..3);
            match (pos, action) {
                (None, _) => {
                    let s = rng.random_range(0..50) as f64;
                    l.insert(s, StrBytes::from_slice(&m));
                    model.push((s, m));
                }
                (Some(p), 0) => {
                    let (s, m) = model.remove(p);
                    assert_eq!(l.remove(s, &m).as_deref(), Some(&m[..]));
                }
                (Some(p), _) => {
                    let new = rng.random_range(0..50) as f64;
                    l.update_score(model[p].0, &model[p].1, new);
                    model[p].0 = new;
                }
            }
            model.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            assert_eq!(l.len(), model.len());
            if round % 97 == 0 {
                assert_eq!(items(&l), model);
                let back: Vec<NodeId> = l.iter_back_from(l.last()).collect();
                assert_eq!(back.len(), model.len());
                for (r, (s, m)) in model.iter().enumerate() {
                    assert_eq!(l.rank(*s, m), r);
                    let id = l.at(r).expect("node at rank");
                    assert_eq!(l.get(id).0.as_slice(), &m[..]);
                }
                assert_eq!(l.at(model.len()), None);
                let below_10 = model.iter().filter(|(s, _)| *s < 10.0).count();
                assert_eq!(l.count_while(|s, _| s < 10.0), below_10);
            }
        }
        assert_eq!(l.remove(1e9, b"missing"), None);
    }
}
