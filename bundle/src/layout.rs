//! The bundle layout hosts expect: `TextToVideo.ofx.bundle/Contents/{Info.plist, Resources/…,
//! Linux-x86-64/TextToVideo.ofx}`, plus ONNX Runtime next to the plugin binary and the default model.

use std::fs;
use std::path::{Path, PathBuf};

use crate::{fsutil, icon, ort_fetch, plist};

pub const BUNDLE_NAME: &str = "TextToVideo.ofx.bundle";
pub const PLUGIN_ID: &str = "org.texttovideo.TextToVideo";
/// What cargo names the plugin cdylib on Linux.
pub const PLUGIN_LIBRARY: &str = "libtext_to_video.so";
/// The model folder under `models/` shipped inside the bundle.
pub const DEFAULT_MODEL: &str = "tiny-shapes";
const BINARY_NAME: &str = "TextToVideo.ofx";
pub const ARCH_DIR: &str = "Linux-x86-64";

pub struct Inputs<'a> {
    pub plugin: &'a Path,
    pub onnxruntime: &'a Path,
    pub default_model: Option<&'a Path>,
}

/// Writes a complete bundle into `out_dir/<BUNDLE_NAME>` (built aside, then swapped in) and returns its path.
pub fn assemble(inputs: &Inputs, out_dir: &Path) -> Result<PathBuf, String> {
    let bundle = out_dir.join(BUNDLE_NAME);
    let staging = out_dir.join(format!("{BUNDLE_NAME}.partial"));
    fsutil::remove(&staging)?;
    let contents = staging.join("Contents");
    let arch = contents.join(ARCH_DIR);
    let resources = contents.join("Resources");
    for dir in [&arch, &resources] {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
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
    fsutil::copy_file(inputs.plugin, &arch.join(BINARY_NAME))?;
    fsutil::copy_file(inputs.onnxruntime, &arch.join(ort_fetch::library_name()))?;
    if let Some(model) = inputs.default_model {
        let name = model.file_name().unwrap_or(DEFAULT_MODEL.as_ref());
        fsutil::copy_dir(model, &resources.join("models").join(name))?;
    }
    fsutil::remove(&bundle)?;
    fs::rename(&staging, &bundle)
        .map_err(|e| format!("cannot move {} into place: {e}", staging.display()))?;
    Ok(bundle)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lays_out_every_part() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path();
        fs::write(src.join("libtext_to_video.so"), b"plugin").unwrap();
        fs::write(src.join("libort.so"), b"ort").unwrap();
        fs::create_dir_all(src.join("tiny-shapes/unet")).unwrap();
        fs::write(src.join("tiny-shapes/model_index.json"), b"{}").unwrap();
        fs::write(src.join("tiny-shapes/unet/model.onnx"), b"onnx").unwrap();
        let out = src.join("out");
        let model = src.join("tiny-shapes");
        let inputs = Inputs {
            plugin: &src.join("libtext_to_video.so"),
            onnxruntime: &src.join("libort.so"),
            default_model: Some(&model),
        };

        // Twice: the second build replaces the first.
        assemble(&inputs, &out).unwrap();
        let bundle = assemble(&inputs, &out).unwrap();

        assert_eq!(bundle, out.join("TextToVideo.ofx.bundle"));
        let c = bundle.join("Contents");
        assert_eq!(
            fs::read(c.join("Linux-x86-64/TextToVideo.ofx")).unwrap(),
            b"plugin"
        );
        assert_eq!(
            fs::read(c.join("Linux-x86-64/libonnxruntime.so.1.31.1")).unwrap(),
            b"ort"
        );
        assert_eq!(
            fs::read(c.join("Resources/models/tiny-shapes/unet/model.onnx")).unwrap(),
            b"onnx"
        );
        let icon = fs::read(c.join("Resources/org.texttovideo.TextToVideo.png")).unwrap();
        assert_eq!(&icon[..8], b"\x89PNG\r\n\x1a\n");
        let plist = fs::read_to_string(c.join("Info.plist")).unwrap();
        assert!(plist.contains("<string>TextToVideo.ofx</string>"));
        assert!(!out.join("TextToVideo.ofx.bundle.partial").exists());
    }

    #[test]
    fn names_the_missing_input() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("nope.so");
        let inputs = Inputs {
            plugin: &missing,
            onnxruntime: &missing,
            default_model: None,
        };
        let err = assemble(&inputs, &tmp.path().join("out")).unwrap_err();
        assert!(
            err.starts_with(&format!("cannot copy {}", missing.display())),
            "{err}"
        );
    }
}
