//! ONNX Runtime for the bundle: for each platform, the `onnxruntime` PyPI wheel downloaded once with the
//! ordinary pip client (pinned by hash in `bundle/onnxruntime-wheels.txt`), and its shared library,
//! licence and third-party notices extracted from it with the `zip` crate.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::platform::Platform;

pub const VERSION: &str = "1.31.1";
/// The Python the wheels are for (pip picks the wheel by it; the hashes pin that file).
const PYTHON_VERSION: &str = "3.11";

/// What the bundle takes from one platform's wheel.
#[derive(Debug, PartialEq, Eq)]
pub struct Runtime {
    pub library: PathBuf,
    pub license: PathBuf,
    pub notices: PathBuf,
}

impl Runtime {
    /// Where `fetch` keeps them: the library at `target/onnxruntime/<library>` (where
    /// `ORT_DYLIB_PATH` points in tests), the texts in `target/onnxruntime/<platform dir>/`.
    fn under(target: &Path, platform: &Platform) -> Runtime {
        let dir = target.join("onnxruntime");
        let texts = dir.join(platform.dir);
        Runtime {
            library: dir.join(platform.onnxruntime),
            license: texts.join("LICENSE"),
            notices: texts.join("ThirdPartyNotices.txt"),
        }
    }

    /// Each file with the wheel member it comes from.
    fn members(&self, platform: &Platform) -> [(String, &Path); 3] {
        [
            (
                format!("onnxruntime/capi/{}", platform.onnxruntime),
                &self.library,
            ),
            ("onnxruntime/LICENSE".into(), &self.license),
            ("onnxruntime/ThirdPartyNotices.txt".into(), &self.notices),
        ]
    }
}

/// Ensures `platform`'s ONNX Runtime files exist under `target/onnxruntime` (cached) and returns them.
pub fn fetch(target: &Path, platform: &Platform) -> Result<Runtime, String> {
    let runtime = Runtime::under(target, platform);
    let members = runtime.members(platform);
    if members.iter().all(|(_, path)| path.is_file()) {
        return Ok(runtime);
    }
    let wheels = target.join("onnxruntime").join("wheel");
    let wheel = wheels.join(wheel_name(platform));
    if !wheel.is_file() {
        run_python(
            &pip_download_args(&requirements(), platform, &wheels),
            "pip download of onnxruntime",
        )?;
        if !wheel.is_file() {
            return Err(format!("pip finished but {} is missing", wheel.display()));
        }
    }
    for (member, path) in &members {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let partial = path.with_extension("partial");
        extract(&wheel, member, &partial)?;
        std::fs::rename(&partial, path)
            .map_err(|e| format!("cannot move {} into place: {e}", partial.display()))?;
    }
    Ok(runtime)
}

/// The pinned requirements file (version and the wheels' hashes).
fn requirements() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("onnxruntime-wheels.txt")
}

/// The wheel pip downloads for `platform` (the one whose hash the requirements file pins).
fn wheel_name(platform: &Platform) -> String {
    let tag = format!("cp{}", PYTHON_VERSION.replace('.', ""));
    format!(
        "onnxruntime-{VERSION}-{tag}-{tag}-{}.whl",
        platform.wheel_platform
    )
}

/// `python3` arguments that download `platform`'s wheel (binary only, no dependencies, hash-checked).
fn pip_download_args(requirements: &Path, platform: &Platform, dest: &Path) -> Vec<String> {
    [
        "-m",
        "pip",
        "download",
        "--require-hashes",
        "-r",
        &requirements.display().to_string(),
        "--no-deps",
        "--only-binary=:all:",
        "--platform",
        platform.wheel_platform,
        "--python-version",
        PYTHON_VERSION,
        "--disable-pip-version-check",
        "-d",
        &dest.display().to_string(),
    ]
    .map(String::from)
    .to_vec()
}

/// Copies the member `member` of the zip file `wheel` to `out` (streamed, so nothing is held in memory).
pub fn extract(wheel: &Path, member: &str, out: &Path) -> Result<(), String> {
    let context =
        |e: &dyn std::fmt::Display| format!("extracting {member} from {}: {e}", wheel.display());
    let file = File::open(wheel).map_err(|e| context(&e))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| context(&e))?;
    let mut src = archive.by_name(member).map_err(|e| context(&e))?;
    let mut dst = File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
    std::io::copy(&mut src, &mut dst).map_err(|e| context(&e))?;
    Ok(())
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
    use crate::platform::{LINUX, WINDOWS};

    #[test]
    fn downloads_the_pinned_binary_wheel_of_each_platform() {
        let args = pip_download_args(Path::new("/r.txt"), &WINDOWS, Path::new("/t/wheel"));
        assert_eq!(
            args.join(" "),
            "-m pip download --require-hashes -r /r.txt --no-deps --only-binary=:all: \
             --platform win_amd64 --python-version 3.11 --disable-pip-version-check -d /t/wheel"
        );
        assert_eq!(
            wheel_name(&LINUX),
            "onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl"
        );
        assert_eq!(
            wheel_name(&WINDOWS),
            "onnxruntime-1.31.1-cp311-cp311-win_amd64.whl"
        );
    }

    #[test]
    fn the_requirements_pin_this_version_by_two_hashes() {
        let text = std::fs::read_to_string(requirements()).unwrap();
        assert!(
            text.contains(&format!("onnxruntime=={VERSION} \\\n")),
            "{text}"
        );
        assert_eq!(text.matches("--hash=sha256:").count(), 2, "{text}");
    }

    #[test]
    fn a_platforms_files_sit_apart_from_the_others() {
        let t = Path::new("/t");
        assert_eq!(
            Runtime::under(t, &WINDOWS),
            Runtime {
                library: "/t/onnxruntime/onnxruntime.dll".into(),
                license: "/t/onnxruntime/Win64/LICENSE".into(),
                notices: "/t/onnxruntime/Win64/ThirdPartyNotices.txt".into(),
            }
        );
        assert_eq!(
            Runtime::under(t, &LINUX).library,
            Path::new("/t/onnxruntime/libonnxruntime.so.1.31.1")
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
