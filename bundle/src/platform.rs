//! The platforms one bundle ships for: where each binary goes in `Contents/`, which Rust target builds
//! it, how cargo names the library, and which ONNX Runtime wheel carries its runtime.
//!
//! macOS (`Contents/MacOS`, a universal `TextToVideo.ofx`) is not built: these machines have no macOS
//! SDK. It would be one more entry here.

/// How cargo is asked to build the plugin for a platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builder {
    /// `cargo build --target TRIPLE`.
    Cargo,
    /// `cargo zigbuild --target TRIPLE.GLIBC`: linked against that glibc's symbol versions, so the
    /// plugin loads on every distribution with that glibc or newer (Rocky/RHEL 8 has 2.28).
    Zig { glibc: &'static str },
}

#[derive(Debug, PartialEq, Eq)]
pub struct Platform {
    /// The folder under `Contents/` hosts look in (OpenFX names it).
    pub dir: &'static str,
    pub triple: &'static str,
    pub builder: Builder,
    /// What cargo names the plugin's cdylib for this target.
    pub cdylib: &'static str,
    /// pip's `--platform` for the ONNX Runtime wheel.
    pub wheel_platform: &'static str,
    /// ONNX Runtime's library, as the wheel (`onnxruntime/capi/`) and the bundle name it.
    pub onnxruntime: &'static str,
}

/// The glibc every Linux host we support has (Rocky/RHEL 8; ONNX Runtime's wheel needs it too).
pub const GLIBC_FLOOR: &str = "2.28";

pub const LINUX: Platform = Platform {
    dir: "Linux-x86-64",
    triple: "x86_64-unknown-linux-gnu",
    builder: Builder::Zig { glibc: GLIBC_FLOOR },
    cdylib: "libtext_to_video.so",
    wheel_platform: "manylinux_2_28_x86_64",
    onnxruntime: "libonnxruntime.so.1.31.1",
};

pub const WINDOWS: Platform = Platform {
    dir: "Win64",
    triple: "x86_64-pc-windows-gnu",
    builder: Builder::Cargo,
    cdylib: "text_to_video.dll",
    wheel_platform: "win_amd64",
    onnxruntime: "onnxruntime.dll",
};

/// Every platform `bundle build` builds.
pub const SHIPPED: [&Platform; 2] = [&LINUX, &WINDOWS];

impl Platform {
    /// The `--target` value cargo (or cargo-zigbuild) is given.
    pub fn target_arg(&self) -> String {
        match self.builder {
            Builder::Cargo => self.triple.to_string(),
            Builder::Zig { glibc } => format!("{}.{glibc}", self.triple),
        }
    }

    /// The cargo subcommand that builds for this platform.
    pub fn cargo_subcommand(&self) -> &'static str {
        match self.builder {
            Builder::Cargo => "build",
            Builder::Zig { .. } => "zigbuild",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_targets_the_glibc_floor_and_windows_the_gnu_toolchain() {
        assert_eq!(LINUX.target_arg(), "x86_64-unknown-linux-gnu.2.28");
        assert_eq!(LINUX.cargo_subcommand(), "zigbuild");
        assert_eq!(WINDOWS.target_arg(), "x86_64-pc-windows-gnu");
        assert_eq!(WINDOWS.cargo_subcommand(), "build");
    }
}
