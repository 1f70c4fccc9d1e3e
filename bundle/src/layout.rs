//! The bundle layout hosts expect: `TextToVideo.ofx.bundle/Contents/{Info.plist, Resources/…,
//! <platform dir>/TextToVideo.ofx}` for each platform, with that platform's ONNX Runtime next to the
//! plugin binary, the default model, and the licences under `Resources/Licenses`.

use std::fs;
use std::path::{Path, PathBuf};

use crate::platform::Platform;
use crate::{fsutil, icon, ort_fetch::Runtime, plist};

pub const BUNDLE_NAME: &str = "TextToVideo.ofx.bundle";
pub const PLUGIN_ID: &str = "org.texttovideo.TextToVideo";
/// The model folder under `models/` shipped inside the bundle.
pub const DEFAULT_MODEL: &str = "tiny-shapes";
const BINARY_NAME: &str = "TextToVideo.ofx";
/// Under `Contents/Resources`: our licence, the Rust crates' notices, ONNX Runtime's per platform.
const LICENSES_DIR: &str = "Licenses";
const CRATE_NOTICES: &str = "rust-crates.txt";

/// One platform's binaries.
pub struct Binaries<'a> {
    pub platform: &'a Platform,
    pub plugin: &'a Path,
    pub onnxruntime: &'a Runtime,
}

pub struct Inputs<'a> {
    pub binaries: &'a [Binaries<'a>],
    pub default_model: Option<&'a Path>,
    /// The repository's LICENSE.
    pub license: &'a Path,
    /// The text of the Rust crates' notices (see `notices.rs`).
    pub crate_notices: &'a str,
}

/// Writes a complete bundle into `out_dir/<BUNDLE_NAME>` (built aside, then swapped in) and returns its path.
pub fn assemble(inputs: &Inputs, out_dir: &Path) -> Result<PathBuf, String> {
    let bundle = out_dir.join(BUNDLE_NAME);
    let staging = out_dir.join(format!("{BUNDLE_NAME}.partial"));
    fsutil::remove(&staging)?;
    let contents = staging.join("Contents");
    let resources = contents.join("Resources");
    let licenses = resources.join(LICENSES_DIR);
    create_dir(&licenses)?;
    let plist = plist::info_plist(
        BINARY_NAME,
        PLUGIN_ID,
        "Text to Video",
        env!("CARGO_PKG_VERSION"),
    );
    write(&contents.join("Info.plist"), plist.as_bytes())?;
    write(
        &resources.join(format!("{PLUGIN_ID}.png")),
        &icon::png_bytes()?,
    )?;
    fsutil::copy_file(inputs.license, &licenses.join("LICENSE"))?;
    write(
        &licenses.join(CRATE_NOTICES),
        inputs.crate_notices.as_bytes(),
    )?;
    for binaries in inputs.binaries {
        let platform = binaries.platform;
        let arch = contents.join(platform.dir);
        let ort_texts = licenses.join("onnxruntime").join(platform.dir);
        create_dir(&arch)?;
        create_dir(&ort_texts)?;
        fsutil::copy_file(binaries.plugin, &arch.join(BINARY_NAME))?;
        let runtime = binaries.onnxruntime;
        fsutil::copy_file(&runtime.library, &arch.join(platform.onnxruntime))?;
        fsutil::copy_file(&runtime.license, &ort_texts.join("LICENSE"))?;
        fsutil::copy_file(&runtime.notices, &ort_texts.join("ThirdPartyNotices.txt"))?;
    }
    if let Some(model) = inputs.default_model {
        let name = model.file_name().unwrap_or(DEFAULT_MODEL.as_ref());
        fsutil::copy_dir(model, &resources.join("models").join(name))?;
    }
    fsutil::remove(&bundle)?;
    fs::rename(&staging, &bundle)
        .map_err(|e| format!("cannot move {} into place: {e}", staging.display()))?;
    Ok(bundle)
}

fn create_dir(dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::{LINUX, WINDOWS};

    /// A runtime whose three files hold `tag`-prefixed text, under `dir`.
    fn runtime(dir: &Path, tag: &str) -> Runtime {
        let runtime = Runtime {
            library: dir.join(format!("{tag}-lib")),
            license: dir.join(format!("{tag}-license")),
            notices: dir.join(format!("{tag}-notices")),
        };
        for path in [&runtime.library, &runtime.license, &runtime.notices] {
            fs::write(path, path.file_name().unwrap().as_encoded_bytes()).unwrap();
        }
        runtime
    }

    #[test]
    fn lays_out_every_part_of_each_platform() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path();
        fs::write(src.join("libtext_to_video.so"), b"linux plugin").unwrap();
        fs::write(src.join("text_to_video.dll"), b"windows plugin").unwrap();
        fs::write(src.join("LICENSE"), b"Apache").unwrap();
        fs::create_dir_all(src.join("tiny-shapes/unet")).unwrap();
        fs::write(src.join("tiny-shapes/model_index.json"), b"{}").unwrap();
        fs::write(src.join("tiny-shapes/unet/model.onnx"), b"onnx").unwrap();
        let (linux_ort, windows_ort) = (runtime(src, "linux"), runtime(src, "windows"));
        let out = src.join("out");
        let model = src.join("tiny-shapes");
        let binaries = [
            Binaries {
                platform: &LINUX,
                plugin: &src.join("libtext_to_video.so"),
                onnxruntime: &linux_ort,
            },
            Binaries {
                platform: &WINDOWS,
                plugin: &src.join("text_to_video.dll"),
                onnxruntime: &windows_ort,
            },
        ];
        let inputs = Inputs {
            binaries: &binaries,
            default_model: Some(&model),
            license: &src.join("LICENSE"),
            crate_notices: "crates",
        };

        // Twice: the second build replaces the first.
        assemble(&inputs, &out).unwrap();
        let bundle = assemble(&inputs, &out).unwrap();

        assert_eq!(bundle, out.join("TextToVideo.ofx.bundle"));
        let c = bundle.join("Contents");
        let read = |path: &str| String::from_utf8(fs::read(c.join(path)).unwrap()).unwrap();
        assert_eq!(read("Linux-x86-64/TextToVideo.ofx"), "linux plugin");
        assert_eq!(read("Linux-x86-64/libonnxruntime.so.1.31.1"), "linux-lib");
        assert_eq!(read("Win64/TextToVideo.ofx"), "windows plugin");
        assert_eq!(read("Win64/onnxruntime.dll"), "windows-lib");
        assert_eq!(read("Resources/Licenses/LICENSE"), "Apache");
        assert_eq!(read("Resources/Licenses/rust-crates.txt"), "crates");
        assert_eq!(
            read("Resources/Licenses/onnxruntime/Linux-x86-64/LICENSE"),
            "linux-license"
        );
        assert_eq!(
            read("Resources/Licenses/onnxruntime/Win64/ThirdPartyNotices.txt"),
            "windows-notices"
        );
        assert_eq!(read("Resources/models/tiny-shapes/unet/model.onnx"), "onnx");
        let icon = fs::read(c.join("Resources/org.texttovideo.TextToVideo.png")).unwrap();
        assert_eq!(&icon[..8], b"\x89PNG\r\n\x1a\n");
        assert!(read("Info.plist").contains("<string>TextToVideo.ofx</string>"));
        assert!(!out.join("TextToVideo.ofx.bundle.partial").exists());
    }

    #[test]
    fn names_the_missing_input() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("nope.so");
        fs::write(tmp.path().join("LICENSE"), b"Apache").unwrap();
        let ort = runtime(tmp.path(), "linux");
        let binaries = [Binaries {
            platform: &LINUX,
            plugin: &missing,
            onnxruntime: &ort,
        }];
        let inputs = Inputs {
            binaries: &binaries,
            default_model: None,
            license: &tmp.path().join("LICENSE"),
            crate_notices: "",
        };
        let err = assemble(&inputs, &tmp.path().join("out")).unwrap_err();
        assert!(
            err.starts_with(&format!("cannot copy {}", missing.display())),
            "{err}"
        );
    }
}
