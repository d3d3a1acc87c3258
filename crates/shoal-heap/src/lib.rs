//! A heap walk that counts every object once: the engine behind `shoal.sizeof`.
//!
//! The walk knows nothing about Python: a [`Heap`] describes each object (its size, split into
//! buckets, and its referents), and the walk keeps the explicit stack (so a linked list a
//! million deep needs no recursion), the set of objects already counted, and the totals.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A fast hasher for addresses (which are already well spread apart from their low bits):
/// one multiply, no per-call state. The default SipHash cost a third of a walk.
#[derive(Default, Clone, Copy)]
pub struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (self.0.rotate_left(5) ^ n as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

pub type AddrMap<K, V> = HashMap<K, V, BuildHasherDefault<AddrHasher>>;
pub type AddrSet<K> = HashSet<K, BuildHasherDefault<AddrHasher>>;

/// Where an object's bytes go in a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bucket {
    /// The objects themselves: GC pre-header, header and fixed fields.
    ObjectHeaders,
    /// `__dict__` objects of instances, with their key tables.
    InstanceDicts,
    /// Attribute value arrays stored outside a dict (CPython 3.11+).
    InlineValues,
    /// Scalars (float, int, str, bytes ...) reached from objects or containers.
    AttributeValues,
    /// Lists, tuples, dicts, sets and their item arrays.
    Containers,
    /// Large data buffers: NumPy data, bytes payloads, shoal columns.
    Buffers,
}

/// How an object was reached, which decides how some objects are categorised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Root,
    /// An attribute value of an instance of the class (type id) given.
    Attribute(usize),
    /// The `__dict__` of an instance of the class given.
    InstanceDict(usize),
    /// An element of a container.
    Element,
}

impl Role {
    /// The class an object belongs to as an attribute value or instance dict.
    pub fn owner(self) -> Option<usize> {
        match self {
            Role::Attribute(t) | Role::InstanceDict(t) => Some(t),
            _ => None,
        }
    }
}

/// One object as the heap describes it.
#[derive(Debug, Default)]
pub struct Node {
    /// Identity of the object's type (for the by-type table); 0 for none.
    pub type_id: usize,
    /// Bytes requested from the allocator, split by category.
    pub pieces: Vec<(Bucket, u64)>,
    /// The same with the allocator's rounding.
    pub allocated: u64,
    /// Objects this one owns a reference to, with the role they play.
    pub referents: Vec<(usize, Role)>,
    /// Shared objects (types, modules, interned strings ...) are reported apart and not walked.
    pub shared: bool,
    /// Buffers counted by this object that others may share: counted once, by identity.
    pub shared_buffers: Vec<(usize, u64)>,
    /// Memory-mapped file pages this object reads (not heap): reported apart, counted once
    /// by identity, never in the total.
    pub mapped_buffers: Vec<(usize, u64)>,
    /// For a large container: give its children one at a time through
    /// [`Heap::next_child`] (with this role) instead of listing them in `referents`, so the
    /// walk's stack does not hold a million entries for a list of a million items.
    pub lazy_children: Option<Role>,
    /// For an instance: how many attribute values it holds ...
    pub attributes: u64,
    /// ... how many of them a shoal column could hold (numbers, bools, text, bytes) ...
    pub storable_attributes: u64,
    /// ... and the raw data they stand for (8 bytes per float ...).
    pub payload: u64,
    /// ... of which text: how many attribute values are str, and their raw data.
    pub text_refs: u64,
    pub text_ref_payload: u64,
    /// For a str: its raw data (UTF-8 and an offset) and a hash of its text, to count
    /// distinct texts per class.
    pub text_payload: u64,
    pub text_hash: u64,
}

impl Node {
    fn clear(&mut self) {
        self.type_id = 0;
        self.pieces.clear();
        self.allocated = 0;
        self.referents.clear();
        self.shared = false;
        self.shared_buffers.clear();
        self.mapped_buffers.clear();
        self.payload = 0;
        self.attributes = 0;
        self.storable_attributes = 0;
        self.text_refs = 0;
        self.text_ref_payload = 0;
        self.text_payload = 0;
        self.text_hash = 0;
        self.lazy_children = None;
    }
}

/// A set of addresses as a bitmap in 8 KB pages: objects of one heap sit close together, so
/// pages stay few and hot, where a hash set of millions of addresses misses the cache on every
/// probe (it was two thirds of a walk).
struct SeenSet {
    shift: u32,
    index: AddrMap<usize, usize>,
    pages: Vec<Box<[u64; PAGE_WORDS]>>,
    /// The last page used (page number, index): consecutive objects usually share a page.
    last: (usize, usize),
}

const PAGE_WORDS: usize = 1024;
const PAGE_BITS: usize = PAGE_WORDS * 64;

impl SeenSet {
    fn new(shift: u32) -> SeenSet {
        SeenSet {
            shift,
            index: AddrMap::default(),
            pages: Vec::new(),
            last: (usize::MAX, 0),
        }
    }

    fn split(&self, addr: usize) -> (usize, usize, u64) {
        let bit = addr >> self.shift;
        let within = bit % PAGE_BITS;
        (bit / PAGE_BITS, within / 64, 1u64 << (within % 64))
    }

    fn page(&mut self, page: usize) -> usize {
        if self.last.0 == page {
            return self.last.1;
        }
        let next = self.pages.len();
        let i = *self.index.entry(page).or_insert(next);
        if i == next {
            self.pages.push(Box::new([0; PAGE_WORDS]));
        }
        self.last = (page, i);
        i
    }

    /// Inserts `addr`; false if it was already there.
    fn insert(&mut self, addr: usize) -> bool {
        let (page, word, mask) = self.split(addr);
        let i = self.page(page);
        let w = &mut self.pages[i][word];
        let fresh = *w & mask == 0;
        *w |= mask;
        fresh
    }

    fn contains(&self, addr: usize) -> bool {
        let (page, word, mask) = self.split(addr);
        let i = if self.last.0 == page {
            Some(self.last.1)
        } else {
            self.index.get(&page).copied()
        };
        i.is_some_and(|i| self.pages[i][word] & mask != 0)
    }

    fn bytes(&self) -> usize {
        self.pages.len() * PAGE_WORDS * 8
    }
}

pub trait Heap {
    /// log2 of the smallest distance between two objects' addresses (4 for CPython, where
    /// every object takes at least 16 bytes); 0 when "addresses" are plain ids.
    const ADDRESS_SHIFT: u32 = 0;

    /// Describes `obj`, reached as `role`, into `node` (which arrives cleared; its buffers are
    /// reused from object to object).
    fn describe(&mut self, obj: usize, role: Role, node: &mut Node);

    /// The child of `obj` at `cursor`, advancing the cursor; `None` when there are no more.
    /// Called only for objects described with `lazy_children`.
    fn next_child(&mut self, obj: usize, cursor: &mut usize) -> Option<usize> {
        let _ = (obj, cursor);
        None
    }
}

/// Work left on the walk's stack.
#[derive(Clone, Copy, Debug)]
enum Frame {
    Visit(usize, Role),
    /// The remaining children of a lazily expanded container.
    Children {
        obj: usize,
        cursor: usize,
        role: Role,
    },
    /// The remaining roots, `roots[cursor..]`.
    Roots {
        cursor: usize,
    },
}

/// What the instances of one class own besides themselves: attribute values, dicts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Owned {
    /// Bytes of attribute values reached from the class's instances.
    pub bytes: u64,
    /// Bytes of the instances' `__dict__`s.
    pub dicts: u64,
    /// Attribute values that a shoal column could hold (floats, ints, bools, str, bytes).
    pub storable: u64,
    /// Raw data those values stand for (8 per float ...).
    pub payload: u64,
    /// Attribute values held by the instances (summed over instances).
    pub attributes: u64,
    /// Attribute values that are str (summed over instances), and their raw data.
    pub text_refs: u64,
    pub text_ref_payload: u64,
    /// Distinct texts among them (by content, counted up to [`DISTINCT_TEXTS_COUNTED`]), and
    /// their raw data: few distinct texts behind many references is what a category column
    /// stores compactly.
    pub distinct_texts: u64,
    pub distinct_text_payload: u64,
}

/// Distinct texts are counted per class up to this many: past it, the text is not a category.
pub const DISTINCT_TEXTS_COUNTED: usize = 1 << 16;

/// Per-type totals: objects counted and their bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TypeTotal {
    pub count: u64,
    pub bytes: u64,
}

#[derive(Debug, Default)]
pub struct WalkReport {
    pub total: u64,
    pub allocated: u64,
    pub objects: u64,
    pub buckets: HashMap<Bucket, u64>,
    /// Bytes per (category, type): e.g. attribute values that are floats.
    pub by_bucket_type: AddrMap<(Bucket, usize), u64>,
    pub by_type: AddrMap<usize, TypeTotal>,
    /// Per class: what its instances own (see [`Owned`]).
    pub by_owner: AddrMap<usize, Owned>,
    pub shared_bytes: u64,
    /// Bytes of memory-mapped files the structure reads in place (not in `total`).
    pub mapped_bytes: u64,
    pub shared_objects: u64,
    /// Bytes the walk itself used for its visited set and stack.
    pub bookkeeping: usize,
    /// The first object whose size was impossible (type id, bytes): the walk stopped there,
    /// and its totals must not be reported.
    pub impossible: Option<(usize, u64)>,
}

/// More than any object can take: the whole 47-bit user address space of x86-64 and AArch64
/// Linux. A size above it is a misread layout, never a real object.
pub const MAX_OBJECT_BYTES: u64 = 1 << 47;

/// Walks everything reachable from `roots`, counting each object (and each shared buffer) once.
pub fn walk<H: Heap>(heap: &mut H, roots: &[usize]) -> WalkReport {
    let mut walker = Walker::new(H::ADDRESS_SHIFT);
    walker.push_roots(roots.iter().copied());
    walker.run(heap);
    walker.finish()
}

/// A walk that can be fed roots in batches (a census walks from every GC object in turn) and
/// polled for progress.
pub struct Walker {
    report: WalkReport,
    seen: SeenSet,
    buffers: AddrSet<usize>,
    stack: Vec<Frame>,
    roots: Vec<usize>,
    node: Node,
    /// Per class: the hashes of the texts its instances hold (see [`Owned::distinct_texts`]).
    texts: AddrMap<usize, HashSet<u64, BuildHasherDefault<AddrHasher>>>,
}

impl Walker {
    pub fn new(address_shift: u32) -> Walker {
        Walker {
            report: WalkReport::default(),
            seen: SeenSet::new(address_shift),
            buffers: AddrSet::default(),
            stack: Vec::new(),
            roots: Vec::new(),
            node: Node::default(),
            texts: AddrMap::default(),
        }
    }

    /// Adds roots, to be walked in the order given (each one's graph before the next root),
    /// so an instance met before its `__dict__` claims it as its instance dict.
    pub fn push_roots(&mut self, roots: impl Iterator<Item = usize>) {
        let cursor = self.roots.len();
        self.roots.extend(roots);
        self.stack.push(Frame::Roots { cursor });
    }

    /// Excludes an object from the walk (e.g. the caller's own list of roots).
    pub fn exclude(&mut self, addr: usize) {
        self.seen.insert(addr);
    }

    /// Objects counted so far.
    pub fn objects(&self) -> u64 {
        self.report.objects
    }

    /// Walks until the stack is empty.
    pub fn run<H: Heap>(&mut self, heap: &mut H) {
        while self.step(heap) {}
    }

    /// Walks up to `budget` objects; false once the stack is empty.
    pub fn run_for<H: Heap>(&mut self, heap: &mut H, budget: u64) -> bool {
        for _ in 0..budget {
            if !self.step(heap) {
                return false;
            }
        }
        true
    }

    fn step<H: Heap>(&mut self, heap: &mut H) -> bool {
        let (obj, role) = match self.stack.pop() {
            None => return false,
            Some(Frame::Visit(obj, role)) => (obj, role),
            Some(Frame::Roots { cursor }) => {
                if let Some(&root) = self.roots.get(cursor) {
                    self.stack.push(Frame::Roots { cursor: cursor + 1 });
                    self.stack.push(Frame::Visit(root, Role::Root));
                }
                return true;
            }
            Some(Frame::Children {
                obj,
                mut cursor,
                role,
            }) => {
                // Skip children already counted; describe the next new one right away.
                loop {
                    match heap.next_child(obj, &mut cursor) {
                        None => return true,
                        Some(child) if self.seen.contains(child) => continue,
                        Some(child) => {
                            self.stack.push(Frame::Children { obj, cursor, role });
                            break (child, role);
                        }
                    }
                }
            }
        };
        if !self.seen.insert(obj) {
            return true;
        }
        let node = &mut self.node;
        let report = &mut self.report;
        node.clear();
        heap.describe(obj, role, node);
        let sizes = node.pieces.iter().map(|&(_, b)| b);
        let buffers = node.shared_buffers.iter().map(|&(_, b)| b);
        let claimed = sizes
            .clone()
            .chain(buffers)
            .fold(0u64, |sum, b| sum.saturating_add(b));
        if claimed > MAX_OBJECT_BYTES {
            report.impossible = Some((node.type_id, claimed));
            self.stack.clear();
            return false;
        }
        // Each object is below 2^47 bytes, and there cannot be 2^17 of those: no sum wraps.
        let own: u64 = sizes.sum();
        if let (Role::Attribute(owner), true) = (role, node.text_payload > 0) {
            let texts = self.texts.entry(owner).or_default();
            if texts.len() <= DISTINCT_TEXTS_COUNTED && texts.insert(node.text_hash) {
                let o = report.by_owner.entry(owner).or_default();
                o.distinct_texts += 1;
                o.distinct_text_payload += node.text_payload;
            }
        }
        if node.shared {
            report.shared_bytes += own;
            report.shared_objects += 1;
            self.push_referents();
            return true;
        }
        let mut bytes = own;
        for &(category, b) in &node.pieces {
            *report.buckets.entry(category).or_default() += b;
            *report
                .by_bucket_type
                .entry((category, node.type_id))
                .or_default() += b;
        }
        for &(id, b) in &node.shared_buffers {
            if self.buffers.insert(id) {
                bytes += b;
                *report.buckets.entry(Bucket::Buffers).or_default() += b;
                *report
                    .by_bucket_type
                    .entry((Bucket::Buffers, node.type_id))
                    .or_default() += b;
            }
        }
        for &(id, b) in &node.mapped_buffers {
            if self.buffers.insert(id) {
                report.mapped_bytes = report.mapped_bytes.saturating_add(b);
            }
        }
        report.total = report.total.saturating_add(bytes);
        if report.total > MAX_OBJECT_BYTES {
            report.impossible = Some((node.type_id, bytes)); // distinct objects cannot sum so high
            self.stack.clear();
            return false;
        }
        report.allocated += node.allocated + (bytes - own);
        report.objects += 1;
        let t = report.by_type.entry(node.type_id).or_default();
        t.count += 1;
        t.bytes += bytes;
        match role {
            Role::InstanceDict(owner) => report.by_owner.entry(owner).or_default().dicts += bytes,
            Role::Attribute(owner) => report.by_owner.entry(owner).or_default().bytes += bytes,
            _ => {}
        }
        if node.attributes > 0 {
            let o = report.by_owner.entry(node.type_id).or_default();
            o.attributes += node.attributes;
            o.storable += node.storable_attributes;
            o.payload += node.payload;
            o.text_refs += node.text_refs;
            o.text_ref_payload += node.text_ref_payload;
        }
        if let Some(role) = node.lazy_children {
            self.stack.push(Frame::Children {
                obj,
                cursor: 0,
                role,
            });
        }
        self.push_referents();
        true
    }

    /// Queues the referents of the node just described that are not counted yet.
    fn push_referents(&mut self) {
        let seen = &self.seen;
        self.stack.extend(
            self.node
                .referents
                .drain(..)
                .filter(|&(r, _)| !seen.contains(r))
                .map(|(r, role)| Frame::Visit(r, role)),
        );
    }

    pub fn finish(mut self) -> WalkReport {
        self.report.bookkeeping = self.seen.bytes()
            + self.stack.capacity() * std::mem::size_of::<Frame>()
            + self.roots.capacity() * std::mem::size_of::<usize>();
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A heap of `n` objects of 10 bytes each, with arbitrary edges.
    struct Graph {
        edges: Vec<Vec<usize>>,
        described: Vec<usize>,
    }

    impl Heap for Graph {
        fn describe(&mut self, obj: usize, _role: Role, node: &mut Node) {
            self.described.push(obj);
            node.type_id = obj % 3;
            node.pieces.push((Bucket::ObjectHeaders, 10));
            node.allocated = 16;
            if obj % 2 == 0 {
                node.lazy_children = Some(Role::Element); // exercise both ways
            } else {
                node.referents
                    .extend(self.edges[obj].iter().map(|&r| (r, Role::Element)));
            }
        }

        fn next_child(&mut self, obj: usize, cursor: &mut usize) -> Option<usize> {
            let child = self.edges[obj].get(*cursor).copied();
            *cursor += 1;
            child
        }
    }

    fn reachable(edges: &[Vec<usize>], root: usize) -> HashSet<usize> {
        let mut seen = HashSet::from([root]);
        let mut todo = vec![root];
        while let Some(n) = todo.pop() {
            for &m in &edges[n] {
                if seen.insert(m) {
                    todo.push(m);
                }
            }
        }
        seen
    }

    proptest! {
        #[test]
        fn counts_each_reachable_object_once(
            edges in (1usize..40).prop_flat_map(|n| prop::collection::vec(
                prop::collection::vec(0..n, 0..4), n))
        ) {
            let expected = reachable(&edges, 0);
            let mut heap = Graph { edges, described: Vec::new() };
            let r = walk(&mut heap, &[0]);
            prop_assert_eq!(r.objects as usize, expected.len());
            prop_assert_eq!(r.total, 10 * expected.len() as u64);
            prop_assert_eq!(r.allocated, 16 * expected.len() as u64);
            let described: HashSet<usize> = heap.described.iter().copied().collect();
            prop_assert_eq!(described.len(), heap.described.len(), "described twice");
            prop_assert_eq!(described, expected);
        }
    }

    #[test]
    fn a_chain_a_million_deep_needs_no_recursion() {
        let n = 1_000_000;
        let edges: Vec<Vec<usize>> = (0..n)
            .map(|i| if i + 1 < n { vec![i + 1] } else { vec![] })
            .collect();
        let r = walk(
            &mut Graph {
                edges,
                described: Vec::new(),
            },
            &[0],
        );
        assert_eq!(r.objects, n as u64);
    }

    #[test]
    fn shared_objects_and_buffers_are_counted_apart_and_once() {
        struct H;
        impl Heap for H {
            fn describe(&mut self, obj: usize, _: Role, node: &mut Node) {
                *node = match obj {
                    0 => Node {
                        pieces: vec![(Bucket::Containers, 8)],
                        referents: vec![(1, Role::Element), (2, Role::Element), (3, Role::Element)],
                        ..Node::default()
                    },
                    1 | 2 => Node {
                        pieces: vec![(Bucket::ObjectHeaders, 100)],
                        shared_buffers: vec![(77, 1000)],
                        ..Node::default()
                    },
                    _ => Node {
                        pieces: vec![(Bucket::ObjectHeaders, 5)],
                        shared: true,
                        ..Node::default()
                    },
                }
            }
        }
        let r = walk(&mut H, &[0]);
        assert_eq!(r.total, 8 + 100 + 100 + 1000);
        assert_eq!(r.buckets[&Bucket::Buffers], 1000);
        assert_eq!((r.shared_objects, r.shared_bytes), (1, 5));
    }
}
