//! ONNX Runtime for the bundle: downloaded once as the `onnxruntime` PyPI wheel with the ordinary pip
//! client, and the shared library extracted from it with the `zip` crate.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const VERSION: &str = "1.31.1";

/// The shared library's name, inside the wheel (`onnxruntime/capi/`) and in the bundle.
pub fn library_name() -> String {
    format!("libonnxruntime.so.{VERSION}")
}

/// Ensures `target/onnxruntime/libonnxruntime.so.<VERSION>` exists (cached) and returns its path.
pub fn fetch(target: &Path) -> Result<PathBuf, String> {
    let dir = target.join("onnxruntime");
    let library = dir.join(library_name());
    if library.is_file() {
        return Ok(library);
    }
    let wheels = dir.join("wheel");
    let wheel = match find_wheel(&wheels) {
        Some(wheel) => wheel,
        None => {
            run_python(&pip_download_args(&wheels), "pip download of onnxruntime")?;
            find_wheel(&wheels).ok_or_else(|| {
                format!(
                    "pip finished but no onnxruntime-{VERSION} wheel is in {}",
                    wheels.display()
                )
            })?
        }
    };
    let partial = dir.join(format!("{}.partial", library_name()));
    extract(
        &wheel,
        &format!("onnxruntime/capi/{}", library_name()),
        &partial,
    )?;
    std::fs::rename(&partial, &library)
        .map_err(|e| format!("cannot move {} into place: {e}", partial.display()))?;
    Ok(library)
}

/// `python3` arguments that download the wheel for this platform (binary only, no dependencies).
fn pip_download_args(dest: &Path) -> Vec<String> {
    vec![
        "-m".into(),
        "pip".into(),
        "download".into(),
        format!("onnxruntime=={VERSION}"),
        "--no-deps".into(),
        "--only-binary=:all:".into(),
        "--disable-pip-version-check".into(),
        "-d".into(),
        dest.display().to_string(),
    ]
}

/// Copies the member `member` of the zip file `wheel` to `out` (streamed, so nothing is held in memory).
fn extract(wheel: &Path, member: &str, out: &Path) -> Result<(), String> {
    let context =
        |e: &dyn std::fmt::Display| format!("extracting {member} from {}: {e}", wheel.display());
    let file = File::open(wheel).map_err(|e| context(&e))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| context(&e))?;
    let mut src = archive.by_name(member).map_err(|e| context(&e))?;
    let mut dst = File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
    std::io::copy(&mut src, &mut dst).map_err(|e| context(&e))?;
    Ok(())
}

/// The downloaded wheel of our version in `dir`, if any.
fn find_wheel(dir: &Path) -> Option<PathBuf> {
    let prefix = format!("onnxruntime-{VERSION}-");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".whl"))
        })
        .collect();
    found.sort();
    found.pop()
}

fn run_python(args: &[String], what: &str) -> Result<(), String> {
    let status = Command::new("python3")
        .args(args)
        .status()
        .map_err(|e| format!("{what}: cannot run python3: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downloads_only_the_binary_wheel() {
        let args = pip_download_args(Path::new("/t/wheel"));
        assert_eq!(
            args.join(" "),
            "-m pip download onnxruntime==1.31.1 --no-deps --only-binary=:all: \
             --disable-pip-version-check -d /t/wheel"
        );
    }

    #[test]
    fn finds_only_our_version_of_the_wheel() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(find_wheel(&tmp.path().join("missing")), None);
        for name in [
            "onnxruntime-1.30.0-cp311-cp311-manylinux_2_27_x86_64.whl",
            "onnxruntime_gpu-1.31.1-cp311-cp311-manylinux_2_27_x86_64.whl",
            "onnxruntime-1.31.1-cp311-cp311-manylinux_2_27_x86_64.whl",
        ] {
            std::fs::write(tmp.path().join(name), b"").unwrap();
        }
        assert_eq!(
            find_wheel(tmp.path()).unwrap().file_name().unwrap(),
            "onnxruntime-1.31.1-cp311-cp311-manylinux_2_27_x86_64.whl"
        );
    }

    #[test]
    fn extracts_one_deflated_member() {
        let tmp = tempfile::tempdir().unwrap();
        let wheel = tmp.path().join("w.whl");
        let out = tmp.path().join("lib.so");
        let library: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut zip = zip::ZipWriter::new(File::create(&wheel).unwrap());
        let deflated = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("onnxruntime/__init__.py", deflated).unwrap();
        zip.start_file("onnxruntime/capi/lib.so", deflated).unwrap();
        std::io::Write::write_all(&mut zip, &library).unwrap();
        zip.finish().unwrap();

        extract(&wheel, "onnxruntime/capi/lib.so", &out).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), library);
        assert_eq!(
            extract(&wheel, "missing", &out).unwrap_err(),
            format!(
                "extracting missing from {}: specified file not found in archive",
                wheel.display()
            )
        );
        std::fs::write(&wheel, b"not a zip").unwrap();
        let err = extract(&wheel, "onnxruntime/capi/lib.so", &out).unwrap_err();
        assert!(
            err.starts_with(&format!(
                "extracting onnxruntime/capi/lib.so from {}: ",
                wheel.display()
            )),
            "{err}"
        );
    }
}
