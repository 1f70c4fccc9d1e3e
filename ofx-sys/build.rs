//! Generates the raw OpenFX bindings from `include/ofx.h` with bindgen.
//!
//! String macros become `&'static CStr` constants (they go straight to C as `*const c_char`), integer
//! macros `i32` (status codes compare with `OfxStatus`). bindgen's layout tests stay on so a struct that
//! drifts from the C layout fails `cargo test -p ofx-sys`.

use std::env;
use std::path::PathBuf;

fn main() {
    let header = "include/ofx.h";
    println!("cargo:rerun-if-changed={header}");
    ignore_zig_include_paths();

    let bindings = bindgen::Builder::default()
        .header(header)
        .allowlist_type("Ofx.*")
        .allowlist_var("k(Ofx|Natron).*")
        .generate_cstr(true)
        .default_macro_constant_type(bindgen::MacroTypeVariation::Signed)
        .derive_default(true)
        .derive_debug(true)
        .derive_partialeq(true)
        // Structs of function pointers: comparing those is meaningless.
        .no_partialeq("Ofx.*Suite.*|OfxHost|OfxPlugin")
        .derive_copy(true)
        .layout_tests(true)
        .generate_comments(true)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .expect("bindgen could not parse include/ofx.h");

    let out =
        PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("ofx_bindings.rs");
    bindings
        .write_to_file(&out)
        .expect("could not write the OpenFX bindings");
}

/// cargo-zigbuild (the glibc 2.28 build) hands bindgen zig's C include folders with `-nostdinc`, as paths
/// relative to the folder it was started in, which do not resolve from this crate's folder: `<stddef.h>`
/// is then missing. The header needs nothing but `<stddef.h>` (`size_t`), the same on every x86_64 Linux,
/// so libclang's own headers serve; the zig flags are dropped for this build script only.
fn ignore_zig_include_paths() {
    let Ok(target) = env::var("TARGET") else {
        return;
    };
    // bindgen reads both spellings of the target in the name; cargo-zigbuild sets both.
    for key in
        [target.clone(), target.replace('-', "_")].map(|t| format!("BINDGEN_EXTRA_CLANG_ARGS_{t}"))
    {
        println!("cargo:rerun-if-env-changed={key}");
        if env::var(&key).is_ok_and(|args| args.contains("ziglang")) {
            env::remove_var(&key);
        }
    }
}
