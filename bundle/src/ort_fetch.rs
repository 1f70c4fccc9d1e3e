//! ONNX Runtime for the bundle: downloaded once as the `onnxruntime` PyPI wheel with the ordinary pip
//! client, and the shared library extracted from it with Python's `zipfile`.

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
    run_python(
        &extract_args(
            &wheel,
            &format!("onnxruntime/capi/{}", library_name()),
            &partial,
        ),
        "extracting the ONNX Runtime library",
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

/// `python3` arguments that copy one member of a zip file to `out`.
fn extract_args(wheel: &Path, member: &str, out: &Path) -> Vec<String> {
    const SCRIPT: &str = "import shutil,sys,zipfile\n\
        with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], 'wb') as dst:\n\
        \x20   shutil.copyfileobj(src, dst)";
    vec![
        "-c".into(),
        SCRIPT.into(),
        wheel.display().to_string(),
        member.into(),
        out.display().to_string(),
    ]
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
    fn extracts_one_member_with_python() {
        let tmp = tempfile::tempdir().unwrap();
        let zip = tmp.path().join("w.whl");
        let out = tmp.path().join("lib.so");
        let make = "import sys,zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z: z.writestr('onnxruntime/capi/lib.so', b'ELF!')";
        let made = Command::new("python3")
            .args(["-c", make, zip.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(made.success());
        run_python(
            &extract_args(&zip, "onnxruntime/capi/lib.so", &out),
            "extract",
        )
        .unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"ELF!");
        let err = run_python(&extract_args(&zip, "missing", &out), "extract").unwrap_err();
        assert!(err.starts_with("extract failed"), "{err}");
    }
}
