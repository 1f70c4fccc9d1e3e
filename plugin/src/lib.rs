//! OpenFX plugin.
