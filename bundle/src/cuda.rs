//! The CUDA flavours of the bundle (`build --cuda`, `build --cuda=system`), for Linux and Windows like the
//! CPU bundle: ONNX Runtime's GPU build (`onnxruntime-gpu`, CUDA 13) in place of the CPU one and, for
//! `--cuda`, NVIDIA's CUDA 13 runtime libraries from their PyPI wheels in `Contents/<platform>/cuda/`,
//! where the engine preloads them from (no `LD_LIBRARY_PATH` or `PATH`, only the NVIDIA driver needed). `--cuda=system` uses the machine's own
//! CUDA 13 and cuDNN 9. Wheels are pinned by version and sha256; pip checks the hashes as it downloads
//! (`--require-hashes`), once, into `target/onnxruntime-gpu/`.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::platform::{self, Platform};
use crate::{fsutil, layout, ort_fetch};

/// Where the CUDA libraries come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Flavour {
    /// NVIDIA's CUDA 13 runtime wheels inside the bundle.
    Bundled,
    /// The machine's CUDA 13 and cuDNN 9; only ONNX Runtime's CUDA provider is shipped.
    System,
}

impl Flavour {
    /// The folder under `target/` the bundle is assembled in.
    pub fn out_dir(self) -> &'static str {
        match self {
            Flavour::Bundled => "bundle-cuda",
            Flavour::System => "bundle-cuda-system",
        }
    }
}

/// A pinned wheel and the libraries taken from it (members whose file name starts with a prefix and is
/// a library of its platform).
pub struct Wheel {
    pub project: &'static str,
    pub version: &'static str,
    pub file: &'static str,
    pub sha256: &'static str,
    pub libraries: &'static [&'static str],
}

/// One platform's CUDA pieces: ONNX Runtime's GPU build (the runtime, then the providers beside it),
/// NVIDIA's CUDA 13 runtime wheels for `Flavour::Bundled`, and the libraries the bundle's `cuda/` must
/// then hold — what the engine checks and preloads (`t2v_engine::cuda::LINUX` / `WINDOWS`) and ort's
/// `preload_dylibs` lists.
pub struct CudaPlatform {
    pub platform: &'static Platform,
    pub onnxruntime_gpu: Wheel,
    pub cuda_wheels: [Wheel; 7],
    pub required: [&'static str; 15],
}

/// Linux: CPython 3.12 builds (the libraries are the same in every Python tag).
pub const LINUX_CUDA: CudaPlatform = CudaPlatform {
    platform: &platform::LINUX,
    onnxruntime_gpu: Wheel {
        project: "onnxruntime-gpu",
        version: ort_fetch::VERSION,
        file: "onnxruntime_gpu-1.31.1-cp312-cp312-manylinux_2_28_x86_64.whl",
        sha256: "05d548956197b9d01f59b625de740e0d6be3593f874e241a12dc0362650ecdf7",
        libraries: &[
            "libonnxruntime.so.",
            "libonnxruntime_providers_cuda.so",
            "libonnxruntime_providers_shared.so",
        ],
    },
    cuda_wheels: [
        Wheel {
            project: "nvidia-cuda-runtime",
            version: "13.5.37",
            file: "nvidia_cuda_runtime-13.5.37-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
            sha256: "df2b79a8852f10d1fef8c848489c49eebb5754051bf870202a862831412b179d",
            libraries: &["libcudart.so"],
        },
        Wheel {
            project: "nvidia-cublas",
            version: "13.10.0.20",
            file: "nvidia_cublas-13.10.0.20-py3-none-manylinux1_x86_64.manylinux_2_5_x86_64.whl",
            sha256: "dcc6d63884c53d07e267ce7e6feac17b2538cebaafec5db865736c3e28e4dc84",
            libraries: &["libcublas.so", "libcublasLt.so"],
        },
        Wheel {
            project: "nvidia-curand",
            version: "10.4.5.25",
            file: "nvidia_curand-10.4.5.25-py3-none-manylinux_2_27_x86_64.whl",
            sha256: "22bb226a857e5888fe6b54ae465fc4371296bcff13a35f79e19691bcf454f529",
            libraries: &["libcurand.so"],
        },
        Wheel {
            project: "nvidia-cufft",
            version: "12.5.0.14",
            file: "nvidia_cufft-12.5.0.14-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
            sha256: "b8be26837a5abad2b5b74f3e92dd29f622a42934b355be0961a48712cbba23ad",
            libraries: &["libcufft.so"],
        },
        Wheel {
            project: "nvidia-cuda-nvrtc",
            version: "13.5.37",
            file: "nvidia_cuda_nvrtc-13.5.37-py3-none-manylinux2010_x86_64.manylinux_2_12_x86_64.whl",
            sha256: "86b4d68058807988b7d9af5b44917a0601e9c337f35ccd657bfb3c759ff8d8bc",
            libraries: &["libnvrtc.so", "libnvrtc-builtins.so"],
        },
        Wheel {
            project: "nvidia-cudnn-cu13",
            version: "9.28.1.4",
            file: "nvidia_cudnn_cu13-9.28.1.4-py3-none-manylinux_2_27_x86_64.whl",
            sha256: "a54f205b1db1f2895d99f398754db1369816f0569dd459731f925635cf7b65ec",
            libraries: &["libcudnn"],
        },
        Wheel {
            project: "nvidia-nvjitlink",
            version: "13.5.37",
            file: "nvidia_nvjitlink-13.5.37-py3-none-manylinux2010_x86_64.manylinux_2_12_x86_64.whl",
            sha256: "280d7cb9649704145f074b8dbde500de04ce02d0872e066e20a83c17bcaa93eb",
            libraries: &["libnvJitLink.so"],
        },
    ],
    required: [
        "libcudart.so.13",
        "libcublasLt.so.13",
        "libcublas.so.13",
        "libcurand.so.10",
        "libcufft.so.12",
        "libnvrtc.so.13",
        "libnvJitLink.so.13",
        "libcudnn.so.9",
        "libcudnn_graph.so.9",
        "libcudnn_ops.so.9",
        "libcudnn_heuristic.so.9",
        "libcudnn_adv.so.9",
        "libcudnn_cnn.so.9",
        "libcudnn_engines_precompiled.so.9",
        "libcudnn_engines_runtime_compiled.so.9",
    ],
};

/// Windows: the same versions' win_amd64 wheels.
pub const WINDOWS_CUDA: CudaPlatform = CudaPlatform {
    platform: &platform::WINDOWS,
    onnxruntime_gpu: Wheel {
        project: "onnxruntime-gpu",
        version: ort_fetch::VERSION,
        file: "onnxruntime_gpu-1.31.1-cp312-cp312-win_amd64.whl",
        sha256: "2bb1e9373baba88f6415257f5b6a589d23e23c16004f7d89adf4344eada5749e",
        libraries: &[
            "onnxruntime.dll",
            "onnxruntime_providers_cuda.dll",
            "onnxruntime_providers_shared.dll",
        ],
    },
    cuda_wheels: [
        Wheel {
            project: "nvidia-cuda-runtime",
            version: "13.5.37",
            file: "nvidia_cuda_runtime-13.5.37-py3-none-win_amd64.whl",
            sha256: "f225d3fa5ea6bfbb58fc4979ef72375cbe661d9107f0d8a4ff22cc151525e4a9",
            libraries: &["cudart64_"],
        },
        Wheel {
            project: "nvidia-cublas",
            version: "13.10.0.20",
            file: "nvidia_cublas-13.10.0.20-py3-none-win_amd64.whl",
            sha256: "c310b749eea855b88fafb906de08d6819b87216c6711640771764fea5dcd8546",
            libraries: &["cublas64_", "cublasLt64_"],
        },
        Wheel {
            project: "nvidia-curand",
            version: "10.4.5.25",
            file: "nvidia_curand-10.4.5.25-py3-none-win_amd64.whl",
            sha256: "f6a02a70f5b9715235df31a164a4bf3237a45be1600a5f435f5e4a0d8682eb22",
            libraries: &["curand64_"],
        },
        Wheel {
            project: "nvidia-cufft",
            version: "12.5.0.14",
            file: "nvidia_cufft-12.5.0.14-py3-none-win_amd64.whl",
            sha256: "78e7585159ecf37d73af1ce43a5dea7fd3360e1af71cde08f070c07966a336bc",
            libraries: &["cufft64_"],
        },
        Wheel {
            project: "nvidia-cuda-nvrtc",
            version: "13.5.37",
            file: "nvidia_cuda_nvrtc-13.5.37-py3-none-win_amd64.whl",
            sha256: "e8e6c10b251385707ae3abd7b4ee118de6736fd7678d0f0f4eab4d759f679c21",
            libraries: &["nvrtc64_", "nvrtc-builtins64_"],
        },
        Wheel {
            project: "nvidia-cudnn-cu13",
            version: "9.28.1.4",
            file: "nvidia_cudnn_cu13-9.28.1.4-py3-none-win_amd64.whl",
            sha256: "73d874c6bd8a1c75ca040228f77c4e163efe9bab3b65bd85914e2b7334ac68ee",
            libraries: &["cudnn"],
        },
        Wheel {
            project: "nvidia-nvjitlink",
            version: "13.5.37",
            file: "nvidia_nvjitlink-13.5.37-py3-none-win_amd64.whl",
            sha256: "4465d4e8f2212118220b580c82523c5654f93a62906bd51d29d79bdfc12376c1",
            libraries: &["nvJitLink_"],
        },
    ],
    required: [
        "cudart64_13.dll",
        "cublasLt64_13.dll",
        "cublas64_13.dll",
        "curand64_10.dll",
        "cufft64_12.dll",
        "nvrtc64_130_0.dll",
        "nvJitLink_130_0.dll",
        "cudnn64_9.dll",
        "cudnn_graph64_9.dll",
        "cudnn_ops64_9.dll",
        "cudnn_heuristic64_9.dll",
        "cudnn_adv64_9.dll",
        "cudnn_cnn64_9.dll",
        "cudnn_engines_precompiled64_9.dll",
        "cudnn_engines_runtime_compiled64_9.dll",
    ],
};

/// Every platform a CUDA bundle is built for, in `platform::SHIPPED` order.
pub const PLATFORMS: [&CudaPlatform; 2] = [&LINUX_CUDA, &WINDOWS_CUDA];

/// The folder of the bundled CUDA libraries, beside ONNX Runtime (the engine's `cuda::BUNDLED_DIR`).
pub const CUDA_DIR: &str = "cuda";

impl CudaPlatform {
    /// The wheels a flavour needs on this platform.
    pub fn wheels(&self, flavour: Flavour) -> Vec<&Wheel> {
        let mut all = vec![&self.onnxruntime_gpu];
        if flavour == Flavour::Bundled {
            all.extend(self.cuda_wheels.iter());
        }
        all
    }

    /// Whether a wheel member named `name` is one of this platform's libraries.
    fn is_library(&self, name: &str) -> bool {
        if self.platform.dir == platform::WINDOWS.dir {
            name.ends_with(".dll")
        } else {
            name.contains(".so")
        }
    }

    /// The pip platform tags of this platform's wheels.
    fn platform_tags(&self) -> Vec<String> {
        if self.platform.dir == platform::WINDOWS.dir {
            vec![self.platform.wheel_platform.to_string()]
        } else {
            linux_platform_tags()
        }
    }
}

/// A pip requirements file pinning `wheels` by version and hash.
pub fn requirements(wheels: &[&Wheel]) -> String {
    wheels
        .iter()
        .map(|w| format!("{}=={} --hash=sha256:{}\n", w.project, w.version, w.sha256))
        .collect()
}

/// The glibc the Linux bundle runs on (Rocky 8's): a wheel tagged for it or an older one is usable.
const GLIBC_FLOOR_MINOR: u32 = 28;

/// The pip platform tags of Linux x86-64 wheels that run on glibc 2.[`GLIBC_FLOOR_MINOR`]: every
/// `manylinux_2_N` up to it and the legacy aliases (manylinux2014 = 2.17, manylinux2010 = 2.12,
/// manylinux1 = 2.5). pip matches `--platform` exactly, so each must be listed (NVIDIA tags its wheels
/// 2.5 to 2.27).
fn linux_platform_tags() -> Vec<String> {
    (5..=GLIBC_FLOOR_MINOR)
        .rev()
        .map(|minor| format!("manylinux_2_{minor}_x86_64"))
        .chain(
            [
                "manylinux2014_x86_64",
                "manylinux2010_x86_64",
                "manylinux1_x86_64",
            ]
            .map(String::from),
        )
        .collect()
}

/// `python3` arguments that download the wheels of `requirements` for the platform `tags` name,
/// CPython 3.12, with their hashes checked.
fn pip_download_args(tags: &[String], requirements: &Path, dest: &Path) -> Vec<String> {
    let mut args: Vec<String> = [
        "-m",
        "pip",
        "download",
        "--require-hashes",
        "--no-deps",
        "--only-binary=:all:",
    ]
    .map(String::from)
    .into();
    for tag in tags {
        args.extend(["--platform".into(), tag.clone()]);
    }
    args.extend(
        [
            "--python-version",
            "3.12",
            "--disable-pip-version-check",
            "-r",
        ]
        .map(String::from),
    );
    args.extend([
        requirements.display().to_string(),
        "-d".into(),
        dest.display().to_string(),
    ]);
    args
}

/// Downloads (once) the wheels of `flavour` for every platform into `target/onnxruntime-gpu/wheels` and
/// returns the folder.
pub fn fetch(target: &Path, flavour: Flavour) -> Result<PathBuf, String> {
    let dir = target.join("onnxruntime-gpu");
    let wheels_dir = dir.join("wheels");
    for cuda in PLATFORMS {
        let wanted = cuda.wheels(flavour);
        if wanted.iter().all(|w| wheels_dir.join(w.file).is_file()) {
            continue;
        }
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let list = dir.join(format!(
            "requirements-{}-{}.txt",
            flavour.out_dir(),
            cuda.platform.dir
        ));
        fs::write(&list, requirements(&wanted))
            .map_err(|e| format!("cannot write {}: {e}", list.display()))?;
        let status = Command::new("python3")
            .args(pip_download_args(&cuda.platform_tags(), &list, &wheels_dir))
            .status()
            .map_err(|e| format!("pip download of the CUDA wheels: cannot run python3: {e}"))?;
        if !status.success() {
            return Err(format!(
                "pip download of the {} CUDA wheels failed ({status})",
                cuda.platform.dir
            ));
        }
        if let Some(w) = wanted.iter().find(|w| !wheels_dir.join(w.file).is_file()) {
            return Err(format!(
                "pip finished but {} is not in {}",
                w.file,
                wheels_dir.display()
            ));
        }
    }
    Ok(wheels_dir)
}

/// Copies the files of the wheel at `path` whose member path `wanted` accepts into `dest` (flat, by
/// file name); returns their names.
fn extract_where(
    path: &Path,
    dest: &Path,
    wanted: &dyn Fn(&Path) -> bool,
) -> Result<Vec<String>, String> {
    let context = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let mut archive = zip::ZipArchive::new(File::open(path).map_err(|e| context(&e))?)
        .map_err(|e| context(&e))?;
    let mut taken = Vec::new();
    for index in 0..archive.len() {
        let mut member = archive.by_index(index).map_err(|e| context(&e))?;
        let Some(inner) = member.enclosed_name() else {
            continue;
        };
        let Some(name) = inner
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_owned)
        else {
            continue;
        };
        if !member.is_file() || !wanted(&inner) {
            continue;
        }
        let out = dest.join(&name);
        let mut file = File::create(&out).map_err(|e| format!("{}: {e}", out.display()))?;
        std::io::copy(&mut member, &mut file).map_err(|e| context(&e))?;
        taken.push(name);
    }
    Ok(taken)
}

/// Copies the `cuda` platform's libraries `wheel` lists out of its file in `wheels_dir` into `dest`
/// (flat, by file name); returns their names.
fn extract_libraries(
    cuda: &CudaPlatform,
    wheels_dir: &Path,
    wheel: &Wheel,
    dest: &Path,
) -> Result<Vec<String>, String> {
    let path = wheels_dir.join(wheel.file);
    let taken = extract_where(&path, dest, &|inner| {
        let name = inner.file_name().and_then(|n| n.to_str()).unwrap_or("");
        cuda.is_library(name) && wheel.libraries.iter().any(|p| name.starts_with(p))
    })?;
    if taken.is_empty() {
        return Err(format!(
            "{} holds none of {:?}",
            path.display(),
            wheel.libraries
        ));
    }
    Ok(taken)
}

/// Copies `wheel`'s licence texts (its `*.dist-info/licenses/` files, PEP 639, or `*.dist-info/LICENSE*`)
/// into `dest`. NVIDIA's libraries are redistributed under their licence, so a wheel without one fails
/// the build rather than shipping them bare.
fn extract_licences(wheels_dir: &Path, wheel: &Wheel, dest: &Path) -> Result<(), String> {
    let path = wheels_dir.join(wheel.file);
    fs::create_dir_all(dest).map_err(|e| format!("cannot create {}: {e}", dest.display()))?;
    let taken = extract_where(&path, dest, &|inner| {
        let parts: Vec<&str> = inner.iter().filter_map(|p| p.to_str()).collect();
        let in_dist_info = parts.first().is_some_and(|p| p.ends_with(".dist-info"));
        let name = parts
            .last()
            .map(|n| n.to_ascii_lowercase())
            .unwrap_or_default();
        in_dist_info
            && ((parts.len() == 3 && parts[1] == "licenses")
                || (parts.len() == 2 && name.starts_with("licen")))
    })?;
    if taken.is_empty() {
        return Err(format!(
            "{} carries no licence file; its libraries are not shipped without one",
            path.display()
        ));
    }
    Ok(())
}

/// What the CUDA bundle carries besides ONNX Runtime's GPU build and the CUDA libraries.
pub struct Shipped<'a> {
    /// The plugin binary of each of [`PLATFORMS`], in that order.
    pub plugins: [&'a Path; 2],
    pub default_model: Option<&'a Path>,
    /// The repository's LICENSE and the Rust crates' notices (as the CPU bundle has them).
    pub license: &'a Path,
    pub crate_notices: &'a str,
}

/// Assembles the `flavour` bundle under `out_dir` from the plugins, the downloaded wheels and the default
/// model: for each platform the GPU ONNX Runtime (with its licence texts) and its providers beside the
/// plugin, the CUDA libraries in `cuda/` and NVIDIA's licences in `Resources/Licenses/nvidia/<platform>/`.
pub fn assemble(
    flavour: Flavour,
    shipped: &Shipped,
    wheels_dir: &Path,
    out_dir: &Path,
) -> Result<PathBuf, String> {
    let staging = out_dir.join("partial");
    fsutil::remove(&staging)?;
    let mut runtimes = Vec::new();
    for cuda in PLATFORMS {
        let libs = staging.join("onnxruntime-gpu").join(cuda.platform.dir);
        fs::create_dir_all(&libs).map_err(|e| format!("cannot create {}: {e}", libs.display()))?;
        extract_libraries(cuda, wheels_dir, &cuda.onnxruntime_gpu, &libs)?;
        let runtime = ort_fetch::Runtime {
            library: libs.join(cuda.platform.onnxruntime),
            license: libs.join("LICENSE"),
            notices: libs.join("ThirdPartyNotices.txt"),
        };
        let gpu_wheel = wheels_dir.join(cuda.onnxruntime_gpu.file);
        ort_fetch::extract(&gpu_wheel, "onnxruntime/LICENSE", &runtime.license)?;
        ort_fetch::extract(
            &gpu_wheel,
            "onnxruntime/ThirdPartyNotices.txt",
            &runtime.notices,
        )?;
        runtimes.push((libs, runtime));
    }
    let binaries: Vec<layout::Binaries> = PLATFORMS
        .iter()
        .zip(&shipped.plugins)
        .zip(&runtimes)
        .map(|((cuda, plugin), (_, runtime))| layout::Binaries {
            platform: cuda.platform,
            plugin,
            onnxruntime: runtime,
        })
        .collect();
    let inputs = layout::Inputs {
        binaries: &binaries,
        default_model: shipped.default_model,
        license: shipped.license,
        crate_notices: shipped.crate_notices,
    };
    let bundle = layout::assemble(&inputs, &staging)?;
    for (cuda, (libs, _)) in PLATFORMS.iter().zip(&runtimes) {
        let arch = bundle.join("Contents").join(cuda.platform.dir);
        for provider in &cuda.onnxruntime_gpu.libraries[1..] {
            fsutil::copy_file(&libs.join(provider), &arch.join(provider))?;
        }
        if flavour == Flavour::System {
            continue;
        }
        let dir = arch.join(CUDA_DIR);
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let licences = bundle
            .join("Contents/Resources/Licenses/nvidia")
            .join(cuda.platform.dir);
        for wheel in &cuda.cuda_wheels {
            extract_libraries(cuda, wheels_dir, wheel, &dir)?;
            extract_licences(wheels_dir, wheel, &licences.join(wheel.project))?;
        }
        if let Some(missing) = cuda.required.iter().find(|lib| !dir.join(lib).is_file()) {
            return Err(format!(
                "the {} CUDA wheels gave no {missing}; the pinned versions in bundle/src/cuda.rs need updating",
                cuda.platform.dir
            ));
        }
    }
    let done = out_dir.join(layout::BUNDLE_NAME);
    fsutil::remove(&done)?;
    fs::rename(&bundle, &done)
        .map_err(|e| format!("cannot move {} into place: {e}", bundle.display()))?;
    fsutil::remove(&staging)?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes a fake wheel named like `wheel` holding `members` (each with its own name as content).
    fn fake_wheel(dir: &Path, wheel: &Wheel, members: &[&str]) {
        let mut zip = zip::ZipWriter::new(File::create(dir.join(wheel.file)).unwrap());
        for member in members {
            zip.start_file(*member, zip::write::SimpleFileOptions::default())
                .unwrap();
            std::io::Write::write_all(&mut zip, member.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
    }

    /// Fake wheels for every pin of every platform: the GPU runtime's libraries and the CUDA libraries,
    /// plus headers, Python files and another provider to skip, and the licence texts.
    fn fake_wheels(dir: &Path) {
        for cuda in PLATFORMS {
            let gpu = &cuda.onnxruntime_gpu;
            let mut members: Vec<String> = ["__init__.py", "LICENSE", "ThirdPartyNotices.txt"]
                .map(|f| format!("onnxruntime/{f}"))
                .into();
            let runtime = cuda.platform.onnxruntime;
            members.extend(
                std::iter::once(runtime)
                    .chain(gpu.libraries[1..].iter().copied())
                    .map(|lib| format!("onnxruntime/capi/{lib}")),
            );
            let tensorrt = gpu.libraries[1].replace("cuda", "tensorrt");
            members.push(format!("onnxruntime/capi/{tensorrt}"));
            let members: Vec<&str> = members.iter().map(String::as_str).collect();
            fake_wheel(dir, gpu, &members);
            for wheel in &cuda.cuda_wheels {
                let mut members: Vec<String> = cuda
                    .required
                    .iter()
                    .filter(|r| wheel.libraries.iter().any(|p| r.starts_with(p)))
                    .map(|r| format!("nvidia/cu13/lib/{r}"))
                    .collect();
                members.push("nvidia/cu13/include/header.h".into());
                members.push(format!("{}.dist-info/licenses/License.txt", wheel.project));
                members.push(format!("{}.dist-info/METADATA", wheel.project));
                let members: Vec<&str> = members.iter().map(String::as_str).collect();
                fake_wheel(dir, wheel, &members);
            }
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    /// Fake plugin binaries and a LICENSE in `tmp`, and fake wheels in `tmp/wheels`.
    fn inputs(tmp: &Path) -> PathBuf {
        fs::write(tmp.join("libtext_to_video.so"), b"linux plugin").unwrap();
        fs::write(tmp.join("text_to_video.dll"), b"windows plugin").unwrap();
        fs::write(tmp.join("LICENSE"), b"Apache-2.0").unwrap();
        let wheels = tmp.join("wheels");
        fs::create_dir(&wheels).unwrap();
        fake_wheels(&wheels);
        wheels
    }

    fn assemble_from(flavour: Flavour, tmp: &Path, out: &Path) -> Result<PathBuf, String> {
        let plugins = [
            tmp.join("libtext_to_video.so"),
            tmp.join("text_to_video.dll"),
        ];
        let shipped = Shipped {
            plugins: [&plugins[0], &plugins[1]],
            default_model: None,
            license: &tmp.join("LICENSE"),
            crate_notices: "crates",
        };
        assemble(flavour, &shipped, &tmp.join("wheels"), out)
    }

    #[test]
    fn the_cuda_bundle_carries_the_gpu_runtime_and_the_cuda_libraries_of_each_platform() {
        let tmp = tempfile::tempdir().unwrap();
        inputs(tmp.path());
        let out = tmp.path().join("out");
        let bundle = assemble_from(Flavour::Bundled, tmp.path(), &out).unwrap();
        assert_eq!(bundle, out.join("TextToVideo.ofx.bundle"));
        let contents = bundle.join("Contents");
        assert_eq!(
            names(&contents.join("Linux-x86-64")),
            [
                "TextToVideo.ofx",
                "cuda",
                "libonnxruntime.so.1.31.1",
                "libonnxruntime_providers_cuda.so",
                "libonnxruntime_providers_shared.so"
            ]
        );
        assert_eq!(
            names(&contents.join("Win64")),
            [
                "TextToVideo.ofx",
                "cuda",
                "onnxruntime.dll",
                "onnxruntime_providers_cuda.dll",
                "onnxruntime_providers_shared.dll"
            ]
        );
        assert_eq!(
            fs::read(contents.join("Win64/TextToVideo.ofx")).unwrap(),
            b"windows plugin"
        );
        for cuda in PLATFORMS {
            let arch = contents.join(cuda.platform.dir);
            let mut required: Vec<String> = cuda.required.iter().map(|s| s.to_string()).collect();
            required.sort();
            assert_eq!(names(&arch.join("cuda")), required);
            let first = cuda.required[0];
            assert_eq!(
                fs::read(arch.join("cuda").join(first)).unwrap(),
                format!("nvidia/cu13/lib/{first}").as_bytes()
            );
            let runtime = cuda.platform.onnxruntime;
            assert_eq!(
                fs::read(arch.join(runtime)).unwrap(),
                format!("onnxruntime/capi/{runtime}").as_bytes()
            );
            let notices = contents
                .join("Resources/Licenses/onnxruntime")
                .join(cuda.platform.dir);
            assert_eq!(
                fs::read(notices.join("ThirdPartyNotices.txt")).unwrap(),
                b"onnxruntime/ThirdPartyNotices.txt",
                "the GPU build's own notices"
            );
            // NVIDIA's licence beside its libraries, one folder per wheel.
            let nvidia = contents
                .join("Resources/Licenses/nvidia")
                .join(cuda.platform.dir);
            let mut projects: Vec<&str> = cuda.cuda_wheels.iter().map(|w| w.project).collect();
            projects.sort();
            assert_eq!(names(&nvidia), projects);
            assert_eq!(
                fs::read(nvidia.join("nvidia-cudnn-cu13/License.txt")).unwrap(),
                b"nvidia-cudnn-cu13.dist-info/licenses/License.txt"
            );
            assert_eq!(names(&nvidia.join("nvidia-cudnn-cu13")), ["License.txt"]);
        }
        assert_eq!(names(&out), ["TextToVideo.ofx.bundle"], "no staging left");
    }

    #[test]
    fn the_system_flavour_ships_only_the_cuda_provider() {
        let tmp = tempfile::tempdir().unwrap();
        inputs(tmp.path());
        let bundle = assemble_from(Flavour::System, tmp.path(), &tmp.path().join("out")).unwrap();
        assert_eq!(
            names(&bundle.join("Contents/Linux-x86-64")),
            [
                "TextToVideo.ofx",
                "libonnxruntime.so.1.31.1",
                "libonnxruntime_providers_cuda.so",
                "libonnxruntime_providers_shared.so"
            ]
        );
        assert_eq!(
            names(&bundle.join("Contents/Win64")),
            [
                "TextToVideo.ofx",
                "onnxruntime.dll",
                "onnxruntime_providers_cuda.dll",
                "onnxruntime_providers_shared.dll"
            ]
        );
        assert!(!bundle.join("Contents/Resources/Licenses/nvidia").exists());
    }

    #[test]
    fn a_wheel_lacking_a_library_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let wheels = inputs(tmp.path());
        let out = tmp.path().join("out");
        let cudnn = &WINDOWS_CUDA.cuda_wheels[5];
        let licence = "nvidia_cudnn_cu13-9.28.1.4.dist-info/licenses/LICENSE";
        fake_wheel(&wheels, cudnn, &["nvidia/cudnn/bin/cudnn64_9.dll", licence]);
        assert_eq!(
            assemble_from(Flavour::Bundled, tmp.path(), &out).unwrap_err(),
            "the Win64 CUDA wheels gave no cudnn_graph64_9.dll; the pinned versions in \
             bundle/src/cuda.rs need updating"
        );
        let cudart = &LINUX_CUDA.cuda_wheels[0];
        fake_wheel(&wheels, cudart, &["nvidia/cu13/include/cuda.h"]);
        assert_eq!(
            assemble_from(Flavour::Bundled, tmp.path(), &out).unwrap_err(),
            format!(
                "{} holds none of [\"libcudart.so\"]",
                wheels.join(cudart.file).display()
            )
        );
    }

    #[test]
    fn a_cuda_wheel_without_a_licence_fails_the_build() {
        let tmp = tempfile::tempdir().unwrap();
        let wheels = inputs(tmp.path());
        let cudart = &WINDOWS_CUDA.cuda_wheels[0];
        fake_wheel(&wheels, cudart, &["nvidia/cu13/bin/x86_64/cudart64_13.dll"]);
        let err = assemble_from(Flavour::Bundled, tmp.path(), &tmp.path().join("out")).unwrap_err();
        assert_eq!(
            err,
            format!(
                "{} carries no licence file; its libraries are not shipped without one",
                wheels.join(cudart.file).display()
            )
        );
    }

    #[test]
    fn pins_every_wheel_by_version_and_hash() {
        for cuda in PLATFORMS {
            assert_eq!(cuda.wheels(Flavour::System).len(), 1);
            let text = requirements(&cuda.wheels(Flavour::Bundled));
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 8);
            for (line, wheel) in lines.iter().zip(cuda.wheels(Flavour::Bundled)) {
                assert!(
                    wheel.sha256.len() == 64 && wheel.sha256.bytes().all(|b| b.is_ascii_hexdigit())
                );
                assert!(wheel.file.contains(wheel.version), "{}", wheel.file);
                assert!(line.starts_with(&format!("{}=={} ", wheel.project, wheel.version)));
            }
        }
        assert_eq!(
            requirements(&[&LINUX_CUDA.onnxruntime_gpu]),
            "onnxruntime-gpu==1.31.1 --hash=sha256:05d548956197b9d01f59b625de740e0d6be3593f874e241a12dc0362650ecdf7\n"
        );
        let args = |cuda: &CudaPlatform| {
            pip_download_args(
                &cuda.platform_tags(),
                Path::new("/t/r.txt"),
                Path::new("/t/w"),
            )
            .join(" ")
        };
        let linux = args(&LINUX_CUDA);
        assert!(
            linux.starts_with(
                "-m pip download --require-hashes --no-deps --only-binary=:all: --platform \
                 manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 "
            ),
            "{linux}"
        );
        assert!(
            linux.ends_with(
                "--platform manylinux_2_5_x86_64 --platform manylinux2014_x86_64 --platform \
                 manylinux2010_x86_64 --platform manylinux1_x86_64 --python-version 3.12 \
                 --disable-pip-version-check -r /t/r.txt -d /t/w"
            ),
            "{linux}"
        );
        assert_eq!(
            args(&WINDOWS_CUDA),
            "-m pip download --require-hashes --no-deps --only-binary=:all: --platform win_amd64 \
             --python-version 3.12 --disable-pip-version-check -r /t/r.txt -d /t/w"
        );
    }

    /// pip takes a wheel only when one of its platform tags is asked for: each pinned wheel must have one
    /// (the NVIDIA Linux wheels are tagged 2.5 to 2.27, which a lone manylinux_2_28 refused).
    #[test]
    fn every_pinned_wheel_has_a_platform_tag_pip_is_asked_for() {
        for cuda in PLATFORMS {
            let tags = cuda.platform_tags();
            for wheel in cuda.wheels(Flavour::Bundled) {
                let stem = wheel.file.trim_end_matches(".whl");
                let platforms = stem.rsplit('-').next().unwrap();
                assert!(
                    platforms.split('.').any(|p| tags.iter().any(|t| t == p)),
                    "{} has no tag among {tags:?}",
                    wheel.file
                );
            }
        }
    }

    /// The engine checks and preloads these from `cuda/`: each must be one the bundle requires.
    #[test]
    fn the_engine_finds_every_library_it_checks_in_the_bundle() {
        for (cuda, engine) in [
            (&LINUX_CUDA, &t2v_engine::cuda::LINUX),
            (&WINDOWS_CUDA, &t2v_engine::cuda::WINDOWS),
        ] {
            for lib in engine.runtime {
                assert!(cuda.required.contains(&lib), "{lib}");
            }
            assert_eq!(cuda.onnxruntime_gpu.libraries[1], engine.provider);
        }
    }
}
