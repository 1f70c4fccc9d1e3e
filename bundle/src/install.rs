//! `install`: copies the bundle into the folder OpenFX hosts scan.

use std::path::{Path, PathBuf};

use crate::fsutil;

/// The folder OpenFX hosts on `os` (`std::env::consts::OS`) scan system-wide (Flame scans only this one).
pub fn system_dir(os: &str) -> &'static str {
    match os {
        "windows" => r"C:\Program Files\Common Files\OFX\Plugins",
        "macos" => "/Library/OFX/Plugins",
        _ => "/usr/OFX/Plugins",
    }
}

/// Where hosts on `os` look first: the first entry of `OFX_PLUGIN_PATH` (";"-separated on Windows, ":"
/// elsewhere), else [`system_dir`].
pub fn default_dest(ofx_plugin_path: Option<&str>, os: &str) -> PathBuf {
    let separator = if os == "windows" { ';' } else { ':' };
    ofx_plugin_path
        .and_then(|list| list.split(separator).find(|entry| !entry.is_empty()))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(system_dir(os)))
}

/// Replaces `dest/<bundle name>` with a fresh copy of `bundle`; returns the installed path.
pub fn install(bundle: &Path, dest: &Path) -> Result<PathBuf, String> {
    let name = bundle
        .file_name()
        .ok_or_else(|| format!("{} has no file name", bundle.display()))?;
    let target = dest.join(name);
    fsutil::remove(&target)?;
    fsutil::copy_dir(bundle, &target)?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_first_plugin_path_entry() {
        let linux = |list| default_dest(list, "linux");
        assert_eq!(linux(Some("/a:/b")), PathBuf::from("/a"));
        assert_eq!(linux(Some(":/b")), PathBuf::from("/b"));
        assert_eq!(linux(Some("")), PathBuf::from("/usr/OFX/Plugins"));
        assert_eq!(linux(None), PathBuf::from("/usr/OFX/Plugins"));
    }

    #[test]
    fn knows_the_windows_and_macos_folders() {
        let windows = |list| default_dest(list, "windows");
        assert_eq!(
            windows(None),
            PathBuf::from(r"C:\Program Files\Common Files\OFX\Plugins")
        );
        assert_eq!(windows(Some(r";D:\ofx;E:\x")), PathBuf::from(r"D:\ofx"));
        assert_eq!(
            default_dest(None, "macos"),
            PathBuf::from("/Library/OFX/Plugins")
        );
    }

    #[test]
    fn replaces_an_older_install() {
        let tmp = tempfile::tempdir().unwrap();
        let bundle = tmp.path().join("src/X.ofx.bundle");
        std::fs::create_dir_all(bundle.join("Contents/Linux-x86-64")).unwrap();
        std::fs::write(bundle.join("Contents/Linux-x86-64/X.ofx"), b"new").unwrap();
        let dest = tmp.path().join("plugins");
        std::fs::create_dir_all(dest.join("X.ofx.bundle")).unwrap();
        std::fs::write(dest.join("X.ofx.bundle/stale"), b"old").unwrap();

        let installed = install(&bundle, &dest).unwrap();
        assert_eq!(installed, dest.join("X.ofx.bundle"));
        assert_eq!(
            std::fs::read(installed.join("Contents/Linux-x86-64/X.ofx")).unwrap(),
            b"new"
        );
        assert!(!installed.join("stale").exists());
    }
}
