//! shoal's Rust allocations (column buffers, standalone record values) are reported to
//! tracemalloc, as NumPy reports its array data, so `tracemalloc` and `shoal.sizeof` see the
//! same memory. When tracemalloc is not tracing, each report is a call and a flag check.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::{c_int, c_uint};

extern "C" {
    fn PyTraceMalloc_Track(domain: c_uint, ptr: usize, size: usize) -> c_int;
    fn PyTraceMalloc_Untrack(domain: c_uint, ptr: usize) -> c_int;
}

/// tracemalloc domain of shoal's allocations (NumPy uses 389047).
pub const DOMAIN: c_uint = 0x5_4041;

pub struct Traced;

// SAFETY: every method forwards to `System` with the same arguments and only adds bookkeeping
// calls that neither allocate through this allocator nor touch the returned memory.
unsafe impl GlobalAlloc for Traced {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { System.alloc(layout) };
        track(p, layout.size());
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { System.alloc_zeroed(layout) };
        track(p, layout.size());
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        untrack(ptr);
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            untrack(ptr);
            track(p, new_size);
        }
        p
    }
}

fn track(p: *mut u8, size: usize) {
    if !p.is_null() {
        // SAFETY: a plain C call; it returns -2 at once when tracemalloc is not tracing, and
        // otherwise takes the GIL itself.
        unsafe { PyTraceMalloc_Track(DOMAIN, p as usize, size) };
    }
}

fn untrack(p: *mut u8) {
    // SAFETY: as in `track`; untracking an unknown pointer is a no-op.
    unsafe { PyTraceMalloc_Untrack(DOMAIN, p as usize) };
}

#[global_allocator]
static GLOBAL: Traced = Traced;
