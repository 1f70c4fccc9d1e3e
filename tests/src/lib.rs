//! Headless OFX host.
