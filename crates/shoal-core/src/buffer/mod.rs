//! Growable, shareable, copy-on-write buffers of fixed-width values.
//!
//! A [`Buffer`] is the mutable side of a column; a [`Snapshot`] is an immutable, reference-counted
//! view of its first `len` elements that outlives any later change to the buffer. Sharing follows
//! one rule: elements a live snapshot can read are never written again. Appends write past every
//! snapshot's end, so they go into spare capacity in place; any write below a snapshot's end (a
//! cell write, a removal, a truncation below it) first copies the buffer, leaving the old
//! allocation to the snapshots. This is what lets NumPy and Arrow borrow our memory without the
//! table ever raising `BufferError` or handing them a dangling pointer.

pub mod bitmap;

pub use bitmap::Bitmap;

use std::alloc::{self, Layout};
use std::marker::PhantomData;
use std::mem::size_of;
use std::ptr::NonNull;
use std::sync::Arc;

/// Element types a buffer can hold: plain, fixed-width, valid for every bit pattern we write.
pub trait Native: Copy + Default + PartialEq + std::fmt::Debug + Send + Sync + 'static {}

macro_rules! native {
    ($($t:ty),*) => { $(impl Native for $t {})* };
}
native!(f64, f32, i8, i16, i32, i64, u8, u16, u32, u64, bool);

/// What keeps foreign memory alive while buffers read it in place (an Arrow producer's array,
/// a Python buffer): dropped with the last buffer or snapshot using it.
pub type KeepAlive = Arc<dyn Send + Sync>;

/// One allocation, freed when the last buffer or snapshot using it goes away: ours (from the
/// global allocator), or memory another library owns (an Arrow producer's buffer), which
/// `owner` keeps alive and which is never written, resized or freed here.
struct Alloc {
    ptr: NonNull<u8>,
    layout: Layout,
    owner: Option<KeepAlive>,
}

// SAFETY: `Alloc` is plain memory. It is written only through the single `Buffer` that owns it
// mutably, and only at indices no `Snapshot` can read (see the module comment), so sharing the
// pointer between threads cannot create a data race.
unsafe impl Send for Alloc {}
// SAFETY: as above; `&Alloc` gives no write access.
unsafe impl Sync for Alloc {}

/// An allocation the allocator refused (or a size past `isize::MAX`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllocError;

impl Alloc {
    fn new<T>(cap: usize) -> Alloc {
        Alloc::try_new::<T>(cap).unwrap_or_else(|_| out_of_memory::<T>(cap))
    }

    fn try_new<T>(cap: usize) -> Result<Alloc, AllocError> {
        let layout = Layout::array::<T>(cap).map_err(|_| AllocError)?;
        if layout.size() == 0 {
            return Ok(Alloc {
                ptr: NonNull::<T>::dangling().cast(),
                layout,
                owner: None,
            });
        }
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { alloc::alloc(layout) };
        let ptr = NonNull::new(raw).ok_or(AllocError)?;
        Ok(Alloc {
            ptr,
            layout,
            owner: None,
        })
    }

    /// Grows in place where the allocator can (for large blocks glibc remaps pages instead of
    /// copying them, so a growing column never holds two copies at once). On failure the
    /// allocation is unchanged.
    fn try_resize<T>(&mut self, cap: usize) -> Result<(), AllocError> {
        let new_layout = Layout::array::<T>(cap).map_err(|_| AllocError)?;
        if self.layout.size() == 0 {
            *self = Alloc::try_new::<T>(cap)?;
            return Ok(());
        }
        // SAFETY: `ptr` was allocated with `self.layout`, the new size is non-zero and does not
        // overflow `isize` (checked by `Layout::array`), and the alignment is unchanged.
        let raw = unsafe { alloc::realloc(self.ptr.as_ptr(), self.layout, new_layout.size()) };
        self.ptr = NonNull::new(raw).ok_or(AllocError)?;
        self.layout = new_layout;
        Ok(())
    }
}

/// What an infallible growth does when the allocator refuses: what `Vec` does.
#[cold]
fn out_of_memory<T>(cap: usize) -> ! {
    match Layout::array::<T>(cap) {
        Ok(layout) => alloc::handle_alloc_error(layout),
        Err(_) => panic!("capacity overflow"),
    }
}

impl Drop for Alloc {
    fn drop(&mut self) {
        // Foreign memory is its owner's to free (dropping `owner` does it).
        if self.layout.size() != 0 && self.owner.is_none() {
            // SAFETY: allocated by `alloc::alloc`/`realloc` with exactly this layout.
            unsafe { alloc::dealloc(self.ptr.as_ptr(), self.layout) }
        }
    }
}

/// A growable vector of `T` whose prefix can be shared with immutable [`Snapshot`]s.
pub struct Buffer<T: Native> {
    alloc: Arc<Alloc>,
    len: usize,
    cap: usize,
    /// Elements `[0, shared_len)` may be read by snapshots of the current allocation.
    /// Invariant: `shared_len <= len`.
    shared_len: usize,
    _t: PhantomData<T>,
}

impl<T: Native> Default for Buffer<T> {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl<T: Native> Clone for Buffer<T> {
    /// A deep copy: the clone never shares memory with `self`.
    fn clone(&self) -> Self {
        let mut out = Self::with_capacity(self.len);
        out.extend_from_slice(self.as_slice());
        out
    }
}

impl<T: Native> std::fmt::Debug for Buffer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl<T: Native> Buffer<T> {
    /// An empty buffer (no allocation yet).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty buffer with room for `cap` elements.
    pub fn with_capacity(cap: usize) -> Self {
        Buffer {
            alloc: Arc::new(Alloc::new::<T>(cap)),
            len: 0,
            cap,
            shared_len: 0,
            _t: PhantomData,
        }
    }

    /// A buffer reading the `len` elements at `ptr`, memory another library owns and `owner`
    /// keeps alive (an Arrow producer's buffer): adopted without copying. It is never written,
    /// resized or freed here — the first write below its end or growth past it copies, as for
    /// memory a snapshot shares — and `owner` is dropped with the last buffer or snapshot
    /// using it. An error if `len` elements are more than any allocation holds.
    ///
    /// # Safety
    /// `ptr` must be aligned for `T` and point to `len` initialised elements that stay valid,
    /// and unwritten by anyone, as long as `owner` lives.
    pub unsafe fn adopt(ptr: NonNull<T>, len: usize, owner: KeepAlive) -> Result<Self, AllocError> {
        let layout = Layout::array::<T>(len).map_err(|_| AllocError)?;
        Ok(Buffer {
            alloc: Arc::new(Alloc {
                ptr: ptr.cast(),
                layout,
                owner: Some(owner),
            }),
            len,
            cap: len,
            shared_len: len,
            _t: PhantomData,
        })
    }

    /// Whether the elements are foreign memory adopted by [`Buffer::adopt`] (not yet copied).
    pub fn is_adopted(&self) -> bool {
        self.alloc.owner.is_some()
    }

    /// Number of initialised elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Elements the allocation has room for.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Bytes allocated for this buffer (capacity, not length).
    pub fn nbytes(&self) -> usize {
        self.cap * size_of::<T>()
    }

    fn ptr(&self) -> *mut T {
        self.alloc.ptr.as_ptr().cast()
    }

    /// Identifies the allocation, which snapshots may share: memory accounting counts each
    /// allocation once.
    pub fn allocation_id(&self) -> usize {
        Arc::as_ptr(&self.alloc) as usize
    }

    /// The initialised elements `[0, len)`.
    pub fn as_slice(&self) -> &[T] {
        // SAFETY: `[0, len)` is initialised, and writes need `&mut self`.
        unsafe { std::slice::from_raw_parts(self.ptr(), self.len) }
    }

    /// Element `i`, or `None` past the end.
    pub fn get(&self, i: usize) -> Option<T> {
        self.as_slice().get(i).copied()
    }

    /// Whether anyone else can read the allocation: a live snapshot, or the owner of foreign
    /// memory (which is never written here: as if a snapshot held it forever).
    fn shared(&self) -> bool {
        Arc::strong_count(&self.alloc) > 1 || self.alloc.owner.is_some()
    }

    /// Moves to a private allocation before a write at `start` or beyond, if a snapshot can
    /// see any of it.
    fn unshare_from(&mut self, start: usize) {
        if start < self.shared_len && self.shared() {
            self.reallocate(self.cap);
        } else if !self.shared() {
            self.shared_len = 0;
        }
    }

    /// Makes writes at `start` and after copy-free: if a snapshot can see them, copies now; a
    /// refused allocation is an error, the buffer unchanged (a later write would abort).
    pub fn try_unshare_from(&mut self, start: usize) -> Result<(), AllocError> {
        if start < self.shared_len && self.shared() {
            self.try_reallocate(self.cap)?;
        }
        Ok(())
    }

    /// Copies `[0, len)` into a fresh allocation of `cap` elements; snapshots keep the old one.
    fn reallocate(&mut self, cap: usize) {
        self.try_reallocate(cap)
            .unwrap_or_else(|_| out_of_memory::<T>(cap));
    }

    fn try_reallocate(&mut self, cap: usize) -> Result<(), AllocError> {
        let fresh = Alloc::try_new::<T>(cap)?;
        // SAFETY: both regions hold at least `len` elements and are distinct allocations.
        unsafe {
            std::ptr::copy_nonoverlapping(self.ptr(), fresh.ptr.as_ptr().cast::<T>(), self.len)
        };
        self.alloc = Arc::new(fresh);
        self.cap = cap;
        self.shared_len = 0;
        Ok(())
    }

    /// Makes room for `additional` more elements, doubling so appends are amortised O(1).
    pub fn reserve(&mut self, additional: usize) {
        if self.try_reserve(additional).is_err() {
            out_of_memory::<T>(self.len.saturating_add(additional));
        }
    }

    /// As [`Buffer::reserve`], but an allocation failure (or a size no allocation can have) is
    /// an error, leaving the buffer unchanged: for sizes that come from outside.
    #[inline]
    pub fn try_reserve(&mut self, additional: usize) -> Result<(), AllocError> {
        match self.len.checked_add(additional) {
            Some(needed) if needed <= self.cap => Ok(()),
            needed => self.try_grow(needed.ok_or(AllocError)?),
        }
    }

    /// Room for `needed` elements in all, doubling so appends are amortised O(1).
    #[cold]
    fn try_grow(&mut self, needed: usize) -> Result<(), AllocError> {
        let cap = needed.max(self.cap.saturating_mul(2)).max(8);
        match Arc::get_mut(&mut self.alloc) {
            Some(alloc) if alloc.owner.is_none() => {
                alloc.try_resize::<T>(cap)?;
                self.cap = cap;
                self.shared_len = 0;
                Ok(())
            }
            _ => self.try_reallocate(cap),
        }
    }

    /// Appends one element (in place: past every snapshot's end).
    #[inline]
    pub fn push(&mut self, value: T) {
        if self.len == self.cap {
            self.reserve(1);
        }
        self.push_within_capacity(value);
    }

    /// As [`Buffer::push`], but a refused allocation is an error, the buffer unchanged.
    #[inline]
    pub fn try_push(&mut self, value: T) -> Result<(), AllocError> {
        if self.len == self.cap {
            self.try_reserve(1)?;
        }
        self.push_within_capacity(value);
        Ok(())
    }

    #[inline]
    fn push_within_capacity(&mut self, value: T) {
        debug_assert!(self.len < self.cap);
        // SAFETY: `len < cap`, so the slot is inside the allocation.
        let slot = unsafe { self.ptr().add(self.len) };
        // SAFETY: index `len` is at or past every snapshot's end: nobody reads it.
        unsafe { slot.write(value) };
        self.len += 1;
    }

    /// Appends elements (in place: past every snapshot's end).
    #[inline]
    pub fn extend_from_slice(&mut self, values: &[T]) {
        if self.cap - self.len < values.len() {
            self.reserve(values.len());
        }
        // SAFETY: `len <= cap`, so the end is inside (or one past) the allocation.
        let end = unsafe { self.ptr().add(self.len) };
        // SAFETY: capacity reserved above; the destination lies past every snapshot's end and
        // cannot overlap `values`, which the caller borrows from elsewhere.
        unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), end, values.len()) };
        self.len += values.len();
    }

    /// Appends the items of `values` (at most as many as it reports), reserving room for all
    /// of them first: a refused allocation is an error, the buffer unchanged.
    pub fn try_extend(
        &mut self,
        values: impl ExactSizeIterator<Item = T>,
    ) -> Result<(), AllocError> {
        let n = values.len();
        self.try_reserve(n)?;
        // SAFETY: `len + n <= cap` (reserved above), so the end is inside (or one past) the
        // allocation.
        let end = unsafe { self.ptr().add(self.len) };
        let mut written = 0;
        for v in values.take(n) {
            // SAFETY: `written < n`, so the slot is inside the reserved room.
            let slot = unsafe { end.add(written) };
            // SAFETY: the reserved room lies past every snapshot's end: nobody reads it.
            unsafe { slot.write(v) };
            written += 1;
        }
        self.len += written;
        Ok(())
    }

    /// Writable access to `[0, len)`, copying first if a snapshot can see it.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        self.unshare_from(0);
        // SAFETY: `[0, len)` is initialised and no snapshot reads it any more.
        unsafe { std::slice::from_raw_parts_mut(self.ptr(), self.len) }
    }

    /// Overwrites element `i`. Panics if `i >= len` (callers check bounds with a better message).
    pub fn set(&mut self, i: usize, value: T) {
        assert!(
            i < self.len,
            "index {i} out of range for length {}",
            self.len
        );
        self.unshare_from(i);
        // SAFETY: `i < len`, so the slot is inside the allocation.
        let slot = unsafe { self.ptr().add(i) };
        // SAFETY: no snapshot reads index `i` of this allocation (unshared above).
        unsafe { slot.write(value) };
    }

    /// Overwrites element `i` if it exists and no snapshot can see it; `false` (nothing
    /// changed) otherwise, for [`Buffer::set`]'s copying path.
    #[inline]
    pub fn set_if_private(&mut self, i: usize, value: T) -> bool {
        if i >= self.len || (i < self.shared_len && self.shared()) {
            return false;
        }
        // SAFETY: `i < len`, so the slot is inside the allocation.
        let slot = unsafe { self.ptr().add(i) };
        // SAFETY: no snapshot reads index `i` of this allocation (checked above).
        unsafe { slot.write(value) };
        true
    }

    /// Inserts at `i`, moving the later elements up (copying first if a snapshot can see them).
    /// Panics if `i > len`.
    pub fn insert(&mut self, i: usize, value: T) {
        assert!(
            i <= self.len,
            "index {i} out of range for length {}",
            self.len
        );
        self.reserve(1);
        self.unshare_from(i);
        // SAFETY: `i <= len < cap`: inside the allocation.
        let p = unsafe { self.ptr().add(i) };
        // SAFETY: `i + 1 <= len + 1 <= cap`: inside (or one past) the allocation.
        let next = unsafe { p.add(1) };
        // SAFETY: capacity for one more element; `[i, len)` moves up by one within it.
        unsafe { std::ptr::copy(p, next, self.len - i) };
        // SAFETY: slot `i` is inside the allocation and its old value was moved up.
        unsafe { p.write(value) };
        self.len += 1;
    }

    /// Removes and returns element `i` (copying first if a snapshot can see it). Panics if `i >=
    /// len`.
    pub fn remove(&mut self, i: usize) -> T {
        assert!(
            i < self.len,
            "index {i} out of range for length {}",
            self.len
        );
        self.unshare_from(i);
        // SAFETY: `i < len`: inside the allocation.
        let p = unsafe { self.ptr().add(i) };
        // SAFETY: slot `i` is initialised; its value is moved out and overwritten below.
        let value = unsafe { p.read() };
        // SAFETY: `i + 1 <= len`: inside (or one past) the allocation.
        let next = unsafe { p.add(1) };
        // SAFETY: `[i + 1, len)` moves down by one inside the initialised region.
        unsafe { std::ptr::copy(next, p, self.len - i - 1) };
        self.len -= 1;
        value
    }

    /// Shortens to `len` elements; a no-op if already shorter.
    pub fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        if len < self.shared_len && self.shared() {
            // Snapshots still read past `len`: keep their memory and copy only what stays.
            self.len = len;
            self.reallocate(self.cap);
        } else {
            self.len = len;
            self.shared_len = self.shared_len.min(len);
        }
    }

    /// Removes every element (a new allocation if snapshots hold the old one).
    pub fn clear(&mut self) {
        if self.shared() {
            *self = Self::new();
        } else {
            self.len = 0;
            self.shared_len = 0;
        }
    }

    /// An immutable view of the current contents that stays valid whatever happens to `self`.
    pub fn snapshot(&mut self) -> Snapshot<T> {
        self.shared_len = self.len;
        Snapshot {
            alloc: Arc::clone(&self.alloc),
            len: self.len,
            _t: PhantomData,
        }
    }
}

/// An immutable, cheaply clonable view of a buffer's first `len` elements.
#[derive(Clone)]
pub struct Snapshot<T: Native> {
    alloc: Arc<Alloc>,
    len: usize,
    _t: PhantomData<T>,
}

impl<T: Native> Snapshot<T> {
    /// The snapshot's elements, immutable while it lives.
    pub fn as_slice(&self) -> &[T] {
        // SAFETY: the buffer never writes `[0, len)` of this allocation again (module comment),
        // and the `Arc` keeps the allocation alive as long as `self`.
        unsafe { std::slice::from_raw_parts(self.alloc.ptr.as_ptr().cast(), self.len) }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// See [`Buffer::allocation_id`].
    pub fn allocation_id(&self) -> usize {
        Arc::as_ptr(&self.alloc) as usize
    }

    /// Bytes of the whole allocation this snapshot keeps alive (it may extend past `len`).
    pub fn allocation_bytes(&self) -> usize {
        self.alloc.layout.size()
    }
}

impl<T: Native> std::fmt::Debug for Snapshot<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_survives_growth_and_writes() {
        let mut b = Buffer::<f64>::new();
        b.extend_from_slice(&[1.0, 2.0, 3.0]);
        let snap = b.snapshot();
        for i in 0..1000 {
            b.push(i as f64);
        }
        b.set(0, 42.0);
        b.remove(1);
        b.truncate(1);
        assert_eq!(snap.as_slice(), &[1.0, 2.0, 3.0]);
        assert_eq!(b.as_slice(), &[42.0]);
    }

    #[test]
    fn appends_into_spare_capacity_do_not_copy() {
        let mut b = Buffer::<i32>::with_capacity(16);
        b.push(1);
        let before = b.ptr();
        let snap = b.snapshot();
        b.push(2);
        assert_eq!(
            b.ptr(),
            before,
            "an append below capacity must not reallocate"
        );
        assert_eq!(snap.as_slice(), &[1]);
        b.set(1, 5); // past the snapshot's end: still in place
        assert_eq!(b.ptr(), before);
        b.set(0, 7); // inside it: copy first
        assert_ne!(b.ptr(), before);
        assert_eq!(snap.as_slice(), &[1]);
        assert_eq!(b.as_slice(), &[7, 5]);
    }

    #[test]
    fn dropped_snapshot_releases_sharing() {
        let mut b = Buffer::<u8>::with_capacity(4);
        b.push(1);
        let before = b.ptr();
        drop(b.snapshot());
        b.set(0, 2);
        assert_eq!(b.ptr(), before, "no snapshot alive: write in place");
    }

    /// Foreign memory: a Vec owned elsewhere, with a flag set when its owner is dropped.
    struct Owner(Vec<f64>, Arc<std::sync::atomic::AtomicBool>);

    impl Drop for Owner {
        fn drop(&mut self) {
            self.1.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn adopted(values: &[f64]) -> (Buffer<f64>, Arc<std::sync::atomic::AtomicBool>) {
        let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let owner = Owner(values.to_vec(), Arc::clone(&dropped));
        let ptr = NonNull::new(owner.0.as_ptr().cast_mut()).unwrap();
        // SAFETY: the Vec's elements stay where they are while the owner holds the Vec, and
        // nothing else writes them.
        let b = unsafe { Buffer::adopt(ptr, values.len(), Arc::new(owner)) }.unwrap();
        (b, dropped)
    }

    #[test]
    fn adopted_memory_is_never_written_and_its_owner_outlives_every_reader() {
        use std::sync::atomic::Ordering::SeqCst;
        // Each write path copies first; the foreign values are untouched (checked through a
        // snapshot taken before the write, which reads the foreign memory itself).
        type Write = fn(&mut Buffer<f64>);
        let writes: [Write; 7] = [
            |b| b.set(0, 9.0),
            |b| b.push(9.0),
            |b| b.insert(1, 9.0),
            |b| {
                b.remove(0);
            },
            |b| b.truncate(1),
            |b| b.clear(),
            |b| b.as_mut_slice()[2] = 9.0,
        ];
        for write in writes {
            let (mut b, dropped) = adopted(&[1.0, 2.0, 3.0]);
            assert!(b.is_adopted());
            let foreign = b.snapshot();
            write(&mut b);
            assert!(!b.is_adopted() || b.is_empty());
            assert_eq!(foreign.as_slice(), &[1.0, 2.0, 3.0]);
            drop(b);
            assert!(!dropped.load(SeqCst), "a snapshot still reads it");
            drop(foreign);
            assert!(dropped.load(SeqCst));
        }
        let (mut b, _) = adopted(&[1.0, 2.0]);
        assert!(!b.set_if_private(0, 5.0));
        assert_eq!(b.as_slice(), &[1.0, 2.0]);
        b.push(3.0);
        b.set(0, 5.0);
        assert_eq!(b.as_slice(), &[5.0, 2.0, 3.0]);
    }
}
