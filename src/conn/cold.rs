//! Storage for state a connection holds rarely: a client's mask source and
//! the control-frame slots (see [`ControlState`](super::control::ControlState)).
//!
//! A server with 10 000 connections pays for every byte of `Connection`
//! 10 000 times, but most of those bytes would sit unused: servers never
//! mask, and a connection needs its control slots only between a ping and
//! the next `poll_transmit`. With `alloc`, [`Cold`] keeps such a value on
//! the heap, allocated when first stored and kept from then on (so a
//! connection that is pinged a million times allocates once), and an empty
//! `Cold` is one null pointer. Without `alloc` it is an inline `Option`:
//! the same behaviour, in the connection's own bytes.

#[cfg(feature = "alloc")]
use alloc::boxed::Box;

/// An optional value kept out of line when the crate can allocate.
#[derive(Debug, Clone)]
pub(super) struct Cold<T> {
    #[cfg(feature = "alloc")]
    value: Option<Box<T>>,
    #[cfg(not(feature = "alloc"))]
    value: Option<T>,
}

impl<T> Cold<T> {
    /// Nothing stored; no allocation.
    pub(super) const fn empty() -> Self {
        Cold { value: None }
    }

    /// `value` stored (on the heap with `alloc`).
    pub(super) fn new(value: T) -> Self {
        #[cfg(feature = "alloc")]
        let value = Box::new(value);
        Cold { value: Some(value) }
    }

    /// The value, if one was stored.
    #[inline]
    pub(super) fn get(&self) -> Option<&T> {
        #[cfg(feature = "alloc")]
        return self.value.as_deref();
        #[cfg(not(feature = "alloc"))]
        return self.value.as_ref();
    }

    /// The value, if one was stored.
    #[inline]
    pub(super) fn get_mut(&mut self) -> Option<&mut T> {
        #[cfg(feature = "alloc")]
        return self.value.as_deref_mut();
        #[cfg(not(feature = "alloc"))]
        return self.value.as_mut();
    }

    /// The value, storing `make()` first if there is none.
    #[inline]
    pub(super) fn get_or_insert_with(&mut self, make: impl FnOnce() -> T) -> &mut T {
        #[cfg(feature = "alloc")]
        return self.value.get_or_insert_with(|| Box::new(make()));
        #[cfg(not(feature = "alloc"))]
        return self.value.get_or_insert_with(make);
    }

    /// Whether a value is stored.
    #[inline]
    pub(super) fn is_some(&self) -> bool {
        self.value.is_some()
    }
}
