//! Raw OpenFX bindings (see build.rs).
