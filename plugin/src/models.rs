//! Model discovery at describe time: folders holding a `model_index.json`, found inside the bundle, in
//! the per-user data folder and in `T2V_MODEL_PATH`. Only directory listings and file existence are
//! checked here — describe must stay fast and never touch ONNX Runtime.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// One entry of the `model` choice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelEntry {
    pub label: String,
    pub dir: PathBuf,
}

/// The folders to scan, in priority order: `<bundle>/Contents/Resources/models`, the per-user
/// `<data_dir>/TextToVideo/models`, then each entry of `T2V_MODEL_PATH` (":"-separated; an entry may be a
/// model folder itself or a folder of models).
pub fn search_roots(
    bundle: Option<&Path>,
    data_dir: Option<&Path>,
    model_path_env: Option<&OsStr>,
) -> Vec<PathBuf> {
    let mut roots = Vec::new();
    if let Some(bundle) = bundle {
        roots.push(bundle.join("Contents").join("Resources").join("models"));
    }
    if let Some(data) = data_dir {
        roots.push(data.join("TextToVideo").join("models"));
    }
    if let Some(list) = model_path_env {
        roots.extend(std::env::split_paths(list).filter(|p| !p.as_os_str().is_empty()));
    }
    roots
}

/// The roots this process uses (bundle path from `kOfxPluginPropFilePath`). Models are large: the local
/// data folder, never Windows' roaming profile (`%LOCALAPPDATA%`; `~/.local/share` on Linux).
pub fn default_roots(bundle: Option<&Path>) -> Vec<PathBuf> {
    search_roots(
        bundle,
        dirs::data_local_dir().as_deref(),
        std::env::var_os("T2V_MODEL_PATH").as_deref(),
    )
}

pub fn is_model_dir(dir: &Path) -> bool {
    dir.join("model_index.json").is_file()
}

/// All models under `roots`, in root order and by name within a root; a folder reached twice is listed
/// once, and labels stay unique (a repeated name gets its parent folder appended).
pub fn discover(roots: &[PathBuf]) -> Vec<ModelEntry> {
    let mut found: Vec<ModelEntry> = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    for root in roots {
        let dirs = if is_model_dir(root) {
            vec![root.clone()]
        } else {
            let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
                .map(|entries| {
                    entries
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| is_model_dir(p))
                        .collect()
                })
                .unwrap_or_default();
            dirs.sort();
            dirs
        };
        for dir in dirs {
            let canonical = dir.canonicalize().unwrap_or_else(|_| dir.clone());
            if seen.contains(&canonical) {
                continue;
            }
            seen.push(canonical);
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| dir.display().to_string());
            let label = if found.iter().any(|m| m.label == name) {
                let parent = dir
                    .parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                format!("{name} ({parent})")
            } else {
                name
            };
            found.push(ModelEntry { label, dir });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("model_index.json"), b"{}").unwrap();
    }

    #[test]
    fn roots_come_in_priority_order() {
        let roots = search_roots(
            Some(Path::new("/b/X.ofx.bundle")),
            Some(Path::new("/home/u/.local/share")),
            Some(OsStr::new("/m1::/m2")),
        );
        assert_eq!(
            roots,
            [
                "/b/X.ofx.bundle/Contents/Resources/models",
                "/home/u/.local/share/TextToVideo/models",
                "/m1",
                "/m2"
            ]
            .map(PathBuf::from)
        );
        assert!(search_roots(None, None, None).is_empty());
    }

    #[test]
    fn finds_models_dedupes_and_keeps_labels_unique() {
        let tmp = tempfile::tempdir().unwrap();
        let bundle_models = tmp.path().join("bundle");
        let user = tmp.path().join("user");
        model(&bundle_models.join("zeta"));
        model(&bundle_models.join("alpha"));
        std::fs::create_dir_all(bundle_models.join("not-a-model")).unwrap();
        model(&user.join("alpha"));
        let direct = tmp.path().join("direct-model");
        model(&direct);

        let roots = vec![
            bundle_models.clone(),
            user.clone(),
            direct.clone(),
            bundle_models.join("zeta"),
            tmp.path().join("missing"),
        ];
        let labels: Vec<String> = discover(&roots).into_iter().map(|m| m.label).collect();
        assert_eq!(
            labels,
            [
                "alpha".to_string(),
                "zeta".into(),
                format!("alpha ({})", user.display()),
                "direct-model".into(),
            ]
        );
        assert_eq!(discover(&roots)[1].dir, bundle_models.join("zeta"));
    }
}
