//! The bundle carries the licences of what it ships: ours, ONNX Runtime's (licence and third-party
//! notices from each platform's wheel), and those of the Rust crates compiled into the plugin.

mod common;

use std::path::Path;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_bundle_carries_every_licence() {
    let licenses = common::bundle().join("Contents/Resources/Licenses");
    let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("../LICENSE");
    assert_eq!(read(&licenses.join("LICENSE")), read(&ours));
    assert!(read(&ours).contains("Apache License\n                           Version 2.0"));

    for arch in ["Linux-x86-64", "Win64"] {
        let ort = licenses.join("onnxruntime").join(arch);
        let license = read(&ort.join("LICENSE"));
        assert!(
            license.contains("MIT License") && license.contains("Microsoft Corporation"),
            "{arch}: {license}"
        );
        let notices = read(&ort.join("ThirdPartyNotices.txt"));
        assert!(
            notices.contains("THIRD PARTY SOFTWARE NOTICES AND INFORMATION"),
            "{arch}: {}",
            &notices[..notices.len().min(200)]
        );
    }

    let crates = read(&licenses.join("rust-crates.txt"));
    let listed = |name: &str| crates.lines().any(|l| l.starts_with(&format!("{name} ")));
    // the plugin's own dependencies, a Windows-only one among them
    for name in ["ort", "tokenizers", "serde", "flexi_logger", "windows-sys"] {
        assert!(listed(name), "{name} missing from rust-crates.txt");
    }
    // build tools and test-only crates are not compiled into the plugin; our own crates are ours
    for name in [
        "bindgen",
        "cc",
        "tempfile",
        "clap",
        "t2v-engine",
        "clip-cache",
    ] {
        assert!(!listed(name), "{name} listed in rust-crates.txt");
    }
    assert!(
        crates.contains("Permission is hereby granted, free of charge"),
        "the MIT licence texts are carried"
    );
}
