//! Compiles the host's variadic suite functions (src/variadic.c) against ofx-sys's header.

fn main() {
    println!("cargo:rerun-if-changed=src/variadic.c");
    println!("cargo:rerun-if-changed=src/variadic.h");
    println!("cargo:rerun-if-changed=../ofx-sys/include/ofx.h");
    cc::Build::new()
        .file("src/variadic.c")
        .include("../ofx-sys/include")
        .include("src")
        .warnings(true)
        .compile("ofx_host_variadic");
}
