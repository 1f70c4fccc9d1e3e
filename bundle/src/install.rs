//! `install`: copies the bundle into the folder OpenFX hosts scan.

use std::path::{Path, PathBuf};

use crate::fsutil;

/// Where hosts look first: the first entry of `OFX_PLUGIN_PATH` (":"-separated), else `/usr/OFX/Plugins`.
pub fn default_dest(ofx_plugin_path: Option<&str>) -> PathBuf {
    ofx_plugin_path
        .and_then(|list| list.split(':').find(|entry| !entry.is_empty()))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/OFX/Plugins"))
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
        assert_eq!(default_dest(Some("/a:/b")), PathBuf::from("/a"));
        assert_eq!(default_dest(Some(":/b")), PathBuf::from("/b"));
        assert_eq!(default_dest(Some("")), PathBuf::from("/usr/OFX/Plugins"));
        assert_eq!(default_dest(None), PathBuf::from("/usr/OFX/Plugins"));
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
