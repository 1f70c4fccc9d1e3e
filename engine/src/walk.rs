//! The one walk over a package folder, shared by opening a package and by its content identity, so both see
//! the same files under the same rule: every entry is a regular file or a folder inside the package. A symlink
//! is followed only when its target stays inside the package's canonical folder; one that leads outside (a
//! `vae_decoder/` linked to `/usr/share`, say) is refused, naming the entry, because ONNX Runtime would load
//! whatever it finds there as weights and turn it into frames.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::EngineError;
use crate::limits::MAX_PACKAGE_ENTRIES;

/// A regular file of a package.
pub(crate) struct PackageFile {
    /// `/`-separated path relative to the package folder.
    pub rel: String,
    /// The file's metadata (its target's, for a symlink).
    pub meta: fs::Metadata,
}

/// A walked package: its canonical folder and its regular files sorted by `rel`.
pub(crate) struct PackageTree {
    pub root: PathBuf,
    pub files: Vec<PackageFile>,
}

/// A folder still to list: its path relative to the package ("" for the root), its canonical path, and the
/// canonical paths of the folders above it on the way there (a link to any of them is a loop).
struct Pending {
    rel: String,
    real: PathBuf,
    above: Vec<PathBuf>,
}

/// Walks `dir`; errors are package errors naming the entry at fault.
pub(crate) fn walk(dir: &Path) -> Result<PackageTree, EngineError> {
    let err = |message: String| EngineError::package(dir, message);
    let root = fs::canonicalize(dir).map_err(|e| err(format!("cannot be read: {e}")))?;
    if !root.is_dir() {
        return Err(err("is not a folder".into()));
    }
    let mut files = Vec::new();
    let mut entries = 0usize;
    let mut pending = vec![Pending {
        rel: String::new(),
        real: root.clone(),
        above: Vec::new(),
    }];
    while let Some(folder) = pending.pop() {
        let listing = fs::read_dir(&folder.real)
            .map_err(|e| err(format!("{} cannot be read: {e}", display_rel(&folder.rel))))?;
        for entry in listing {
            let entry = entry
                .map_err(|e| err(format!("{} cannot be read: {e}", display_rel(&folder.rel))))?;
            entries += 1;
            if entries > MAX_PACKAGE_ENTRIES {
                return Err(err(format!(
                    "holds more than {MAX_PACKAGE_ENTRIES} files and folders"
                )));
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if folder.rel.is_empty() {
                name
            } else {
                format!("{}/{name}", folder.rel)
            };
            let path = entry.path();
            let cannot = |e: std::io::Error| err(format!("{rel} cannot be read: {e}"));
            let link = fs::symlink_metadata(&path).map_err(cannot)?;
            let (entry_real, meta) = if link.file_type().is_symlink() {
                let target = fs::canonicalize(&path)
                    .map_err(|e| err(format!("{rel} is a link that cannot be followed: {e}")))?;
                if !target.starts_with(&root) {
                    return Err(err(format!(
                        "{rel} is a link to {}, outside the model folder",
                        target.display()
                    )));
                }
                let mut up = folder.above.iter().chain([&folder.real]);
                if up.any(|f| f.starts_with(&target)) {
                    return Err(err(format!("{rel} is a link to a folder that holds it")));
                }
                let meta = fs::metadata(&target).map_err(cannot)?;
                (target, meta)
            } else {
                (folder.real.join(entry.file_name()), link)
            };
            if meta.is_dir() {
                let mut above = folder.above.clone();
                above.push(folder.real.clone());
                pending.push(Pending {
                    rel,
                    real: entry_real,
                    above,
                });
            } else if meta.is_file() {
                files.push(PackageFile { rel, meta });
            } else {
                return Err(err(format!("{rel} is not a regular file or folder")));
            }
        }
    }
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(PackageTree { root, files })
}

fn display_rel(rel: &str) -> &str {
    if rel.is_empty() {
        "the folder"
    } else {
        rel
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn write(dir: &Path, rel: &str) {
        let path = dir.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, rel).unwrap();
    }

    fn rels(dir: &Path) -> Vec<String> {
        walk(dir)
            .unwrap()
            .files
            .into_iter()
            .map(|f| f.rel)
            .collect()
    }

    fn message(dir: &Path) -> String {
        match walk(dir) {
            Err(EngineError::Package { message, .. }) => message,
            other => panic!("{:?}", other.map(|t| t.root)),
        }
    }

    #[test]
    fn links_inside_the_package_are_followed_and_links_outside_refused() {
        let (pkg, outside) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let p = pkg.path();
        write(p, "shared/vae/model.onnx");
        write(p, "unet/model.onnx");
        symlink(p.join("shared/vae"), p.join("vae_decoder")).unwrap();
        symlink("../unet/model.onnx", p.join("shared/unet.onnx")).unwrap();
        assert_eq!(
            rels(p),
            [
                "shared/unet.onnx",
                "shared/vae/model.onnx",
                "unet/model.onnx",
                "vae_decoder/model.onnx"
            ]
        );

        write(outside.path(), "secret.txt");
        let target = fs::canonicalize(outside.path()).unwrap();
        symlink(outside.path(), p.join("text_encoder")).unwrap();
        assert_eq!(
            message(p),
            format!(
                "text_encoder is a link to {}, outside the model folder",
                target.display()
            )
        );
        fs::remove_file(p.join("text_encoder")).unwrap();
        symlink(target.join("secret.txt"), p.join("unet/config.json")).unwrap();
        assert_eq!(
            message(p),
            format!(
                "unet/config.json is a link to {}, outside the model folder",
                target.join("secret.txt").display()
            )
        );
    }

    #[test]
    fn loops_dangling_links_and_special_files_are_refused() {
        let pkg = tempfile::tempdir().unwrap();
        let p = pkg.path();
        write(p, "unet/model.onnx");
        symlink(p, p.join("unet/again")).unwrap();
        assert_eq!(message(p), "unet/again is a link to a folder that holds it");
        fs::remove_file(p.join("unet/again")).unwrap();
        symlink(p.join("nothing"), p.join("unet/gone")).unwrap();
        assert!(
            message(p).starts_with("unet/gone is a link that cannot be followed: "),
            "{}",
            message(p)
        );
        fs::remove_file(p.join("unet/gone")).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(p.join("unet/fifo"))
            .status()
            .unwrap();
        assert!(made.success());
        assert_eq!(message(p), "unet/fifo is not a regular file or folder");
    }

    #[test]
    fn links_that_lead_back_up_through_another_link_are_loops() {
        let pkg = tempfile::tempdir().unwrap();
        let p = pkg.path();
        write(p, "a/file");
        write(p, "b/file");
        symlink(p.join("b"), p.join("a/to_b")).unwrap();
        symlink(p.join("a"), p.join("b/to_a")).unwrap();
        let m = message(p);
        assert!(
            m == "a/to_b/to_a is a link to a folder that holds it"
                || m == "b/to_a/to_b is a link to a folder that holds it",
            "{m}"
        );
    }
}
