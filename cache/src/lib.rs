//! Clip cache.
