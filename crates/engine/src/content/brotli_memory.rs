//! The memory rust-brotli's encoder works in, with its large blocks kept between calls.
//!
//! rust-brotli allocates every block zeroed, per call. At quality 5 that includes the hasher's
//! 2^18 `u32` buckets (1 MiB) for a page of a few KB; brotli's C encoder mallocs them without
//! zeroing: its counts (a separate 32 KB table, zeroed per call) say which buckets hold
//! something. Measured, one thread, 3 rounds of 3,000 calls at quality 5, window 2^18 (release
//! build, this 2-core VM), on the bench's 4.65 KB post and its 1.5 KB page-data: 79–83 → 61–63
//! µs and 43 → 26.5 µs, with byte-identical output — 29 % less of the brotli CPU every generated
//! page pays for (36 of 124 µs). In a profile of first requests that zeroing was the store
//! threads' `memset`, 12 % of their CPU.
//!
//! [`Reused`] hands out blocks of at least [`REUSED_FROM_BYTES`] from a process-wide free list
//! as they were left (no zeroing) and puts them back when the encoder frees them; smaller blocks
//! are allocated zeroed as before. Invariants:
//! - the encoder's output does not depend on what a reused block held: the tests compress
//!   bodies of every window size after blocks were filled with garbage and compare every byte
//!   with the output of rust-brotli's own allocator;
//! - at most [`MAX_KEPT_BYTES`] are kept, whatever the number of threads compressing; a block
//!   the list has no room for is freed;
//! - no `unsafe`: a kept block is a `Box<[T]>` behind `dyn Any`, taken back by its type and
//!   length.

use std::any::Any;
use std::io::Write;

use brotli::enc::combined_alloc::BrotliAlloc;
use brotli::enc::writer::CompressorWriterCustomAlloc;
use brotli::enc::{Allocator, SliceWrapper, SliceWrapperMut};
use parking_lot::Mutex;

/// Blocks this large or larger are kept: the hasher's tables (1 MiB at quality 5) and, for
/// bodies past 2^18 bytes, the window's ring buffer. Everything smaller is a few KB, cheap to
/// zero.
pub const REUSED_FROM_BYTES: usize = 64 * 1024;
/// What the free list may hold: the blocks of ~8 encoders at quality 5 (one per store thread
/// with room to spare) — a bound, not a reservation.
pub const MAX_KEPT_BYTES: usize = 8 * 1024 * 1024;

struct Kept {
    block: Box<dyn Any + Send>,
    bytes: usize,
}

/// Blocks the encoders freed, for the next encoder to take.
struct FreeList(Mutex<Vec<Kept>>);

impl FreeList {
    const fn new() -> Self {
        FreeList(Mutex::new(Vec::new()))
    }

    /// Bytes held now.
    #[cfg(test)]
    fn kept(&self) -> usize {
        self.0.lock().iter().map(|k| k.bytes).sum()
    }

    fn take<T: 'static>(&self, len: usize) -> Option<Box<[T]>> {
        let mut free = self.0.lock();
        let at = free.iter().position(|kept| {
            kept.block
                .downcast_ref::<Box<[T]>>()
                .is_some_and(|block| block.len() == len)
        })?;
        free.swap_remove(at)
            .block
            .downcast::<Box<[T]>>()
            .ok()
            .map(|b| *b)
    }

    fn keep<T: Send + 'static>(&self, block: Box<[T]>, bytes: usize) {
        let mut free = self.0.lock();
        if free.iter().map(|k| k.bytes).sum::<usize>() + bytes <= MAX_KEPT_BYTES {
            free.push(Kept {
                block: Box::new(block),
                bytes,
            });
        }
    }
}

/// The process's free list, shared by every thread that compresses.
static FREE: FreeList = FreeList::new();

/// A block the encoder works in.
#[derive(Default)]
pub struct Block<T>(Box<[T]>);

impl<T> SliceWrapper<T> for Block<T> {
    fn slice(&self) -> &[T] {
        &self.0
    }
}

impl<T> SliceWrapperMut<T> for Block<T> {
    fn slice_mut(&mut self) -> &mut [T] {
        &mut self.0
    }
}

/// The encoder's allocator: large blocks from a free list, the rest zeroed.
#[derive(Clone, Copy)]
pub struct Reused(&'static FreeList);

impl Default for Reused {
    /// Over the process's free list.
    fn default() -> Self {
        Reused(&FREE)
    }
}

impl<T: Clone + Default + Send + 'static> Allocator<T> for Reused {
    type AllocatedMemory = Block<T>;

    fn alloc_cell(&mut self, len: usize) -> Block<T> {
        if len * size_of::<T>() >= REUSED_FROM_BYTES {
            if let Some(block) = self.0.take(len) {
                return Block(block);
            }
        }
        Block(vec![T::default(); len].into_boxed_slice())
    }

    fn free_cell(&mut self, block: Block<T>) {
        let bytes = block.0.len() * size_of::<T>();
        if bytes >= REUSED_FROM_BYTES {
            #[cfg(test)]
            let block = tests::spoiled(block);
            self.0.keep(block.0, bytes);
        }
    }
}

impl BrotliAlloc for Reused {}

/// `body` compressed at `quality` with a window of 2^`window` bytes, the encoder working in
/// `memory` ([`Reused::default`] in the server; rust-brotli's own allocator in the tests).
pub fn encode<A: BrotliAlloc>(mut memory: A, body: &[u8], quality: u32, window: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() / 3);
    {
        let buffer = <A as Allocator<u8>>::alloc_cell(&mut memory, 4096);
        let mut writer =
            CompressorWriterCustomAlloc::new(&mut out, buffer, memory, quality, window);
        writer
            .write_all(body)
            .expect("writing to a Vec cannot fail");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In tests a block goes back to the list filled with garbage, so that any read of what it
    /// held shows in the output.
    pub(super) fn spoiled<T: Clone + Default + 'static>(mut block: Block<T>) -> Block<T> {
        // The encoder's large blocks are of these three types (its hasher's and its window's).
        let any: &mut dyn Any = &mut block.0;
        if let Some(b) = any.downcast_mut::<Box<[u32]>>() {
            b.iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v = (i as u32).wrapping_mul(2_654_435_761));
        } else if let Some(b) = any.downcast_mut::<Box<[u16]>>() {
            b.iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v = (i as u16).wrapping_mul(40_503));
        } else if let Some(b) = any.downcast_mut::<Box<[u8]>>() {
            b.iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v = (i as u8).wrapping_mul(151));
        }
        block
    }

    fn compress(memory: impl BrotliAlloc, body: &[u8], window: u32) -> Vec<u8> {
        encode(memory, body, super::super::BROTLI_QUALITY, window)
    }

    /// Text-like bodies of a page: repeated markup with varying words, so that the hasher
    /// finds matches at every distance.
    fn page(len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed.wrapping_mul(6_364_136_223_846_793_005) | 1;
        let words = [
            "<div class=\"post\">",
            "Gatsby ",
            "deferred ",
            "static ",
            "generation ",
            "</p><p>",
            "{\"componentChunkName\":",
            "page-data ",
        ];
        let mut body = Vec::with_capacity(len + 32);
        while body.len() < len {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let word = words[(state >> 59) as usize % words.len()];
            body.extend_from_slice(word.as_bytes());
            body.extend_from_slice(format!("{} ", state >> 50).as_bytes());
        }
        body.truncate(len);
        body
    }

    /// A free list of the test's own, so that tests running beside it cannot take its blocks.
    fn own_list() -> Reused {
        Reused(Box::leak(Box::new(FreeList::new())))
    }

    #[test]
    fn reused_blocks_give_the_same_bytes_as_brotli_s_own_allocator_at_every_window() {
        let reused = own_list();
        let sizes = [
            1_024,
            1_500,
            4_600,
            40_000,
            (1 << 18) + 1,
            600_000,
            (1 << 21) + 5,
        ];
        // Twice over every size, so that each size runs on blocks another size spoiled.
        for round in 0..2u64 {
            for (i, &len) in sizes.iter().enumerate() {
                let body = page(len, round * 100 + i as u64);
                let window = super::super::brotli_window(len);
                let expected = compress(brotli::enc::StandardAlloc::default(), &body, window);
                assert_eq!(
                    compress(reused, &body, window),
                    expected,
                    "{len} bytes, window 2^{window}, round {round}"
                );
            }
        }
        assert!(reused.0.kept() > 0, "blocks were reused");
    }

    #[test]
    fn the_free_list_keeps_the_hasher_s_block_and_never_more_than_its_bound() {
        let reused = own_list();
        let body = page(4_600, 7);
        compress(reused, &body, 18);
        let after_one = reused.0.kept();
        assert!(
            after_one >= 1 << 20,
            "the 1 MiB hasher block is kept: {after_one}"
        );
        compress(reused, &body, 18);
        assert_eq!(
            reused.0.kept(),
            after_one,
            "the next encoder took it and gave it back"
        );
        // More blocks freed than the list has room for (as by many encoders at once): the
        // ones past the bound are dropped.
        let mut alloc = reused;
        for _ in 0..(MAX_KEPT_BYTES >> 20) + 4 {
            let block = <Reused as Allocator<u32>>::alloc_cell(&mut alloc, 1 << 18);
            <Reused as Allocator<u8>>::free_cell(&mut alloc, Block(vec![0u8; 1 << 20].into()));
            <Reused as Allocator<u32>>::free_cell(&mut alloc, block);
        }
        let kept = reused.0.kept();
        assert!(kept <= MAX_KEPT_BYTES, "{kept} bytes kept");
    }
}
