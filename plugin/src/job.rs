//! From settings to a generation job: which model folder, the engine request (see `request`) and the
//! cache recipe that names the resulting clip.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clip_cache::Recipe;
use parking_lot::Mutex;
use t2v_engine::{model_identity, EngineError, ModelPackage, Request, RuntimeOptions};

use crate::location;
use crate::model_pool;
use crate::ofx::{Error, Result};
use crate::params::NO_MODEL;
use crate::request;
use crate::settings::Settings;

/// A parsed model folder and its content identity, parsed once per process and content.
pub struct Package {
    pub package: ModelPackage,
    pub identity: String,
}

impl Package {
    /// The cache recipe of `request` on this package: the model identity and the engine's encoding of the
    /// request (everything that decides its frames), with the clip's geometry.
    pub fn recipe(&self, request: &Request) -> Recipe {
        Recipe {
            model: self.identity.clone(),
            request: self.package.request_encoding(request),
            width: request.width,
            height: request.height,
            frames: request.frames,
        }
    }

    /// The model loaded from `dir` (this package's folder) with `options`, from the process's pool of
    /// loaded models. Pooled by content identity, so a model replaced in place is loaded again: clips are
    /// cached under `identity` and must come from it.
    pub fn model(
        &self,
        dir: &Path,
        options: &RuntimeOptions,
    ) -> std::result::Result<model_pool::Loaded, EngineError> {
        model_pool::get(&self.identity, dir, options)
    }
}

/// Everything one render needs to find or make its clip.
pub struct Job {
    pub dir: PathBuf,
    pub package: Arc<Package>,
    pub request: Request,
    pub recipe: Recipe,
    /// How the request differs from the settings (values the model cannot take), for the status line.
    pub notes: Vec<String>,
}

/// The model folder the settings point at: `customModel` when set, else the chosen discovered model.
pub fn model_dir(settings: &Settings) -> Result<PathBuf> {
    if !settings.custom_model.as_os_str().is_empty() {
        return Ok(settings.custom_model.clone());
    }
    let models = location::models();
    if let Some(named) = models.iter().find(|m| m.label == settings.model_name) {
        return Ok(named.dir.clone());
    }
    let index = usize::try_from(settings.model).unwrap_or(usize::MAX);
    match models.get(index) {
        Some(m) => Ok(m.dir.clone()),
        None if models.is_empty() => Err(Error::failed(format!(
            "{NO_MODEL}: put a model package in the bundle's Contents/Resources/models, the per-user \
             TextToVideo/models folder or T2V_MODEL_PATH, or set Custom model folder"
        ))),
        None => Err(Error::failed(format!(
            "model choice {} is out of range ({} models found)",
            settings.model,
            models.len()
        ))),
    }
}

/// The package in `dir`, parsed once per process and content (a model replaced in place is parsed again:
/// its identity, a content digest memoised by every file's stat, changes).
pub fn package(dir: &Path) -> Result<Arc<Package>> {
    type Packages = HashMap<(PathBuf, String), Arc<Package>>;
    static PACKAGES: Mutex<Option<Packages>> = Mutex::new(None);
    if !dir.is_dir() {
        // Let the engine word the error, as for every other broken package.
        ModelPackage::open(dir).map_err(|e| Error::failed(e.to_string()))?;
    }
    let identity = model_identity(dir).map_err(|e| Error::failed(e.to_string()))?;
    // One slot per folder however it is named, so it loads once.
    let folder = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let slot = (folder.clone(), identity.clone());
    if let Some(p) = PACKAGES.lock().get_or_insert_with(HashMap::new).get(&slot) {
        return Ok(p.clone());
    }
    let package = ModelPackage::open(dir).map_err(|e| Error::failed(e.to_string()))?;
    let loaded = Arc::new(Package { package, identity });
    let mut packages = PACKAGES.lock();
    let packages = packages.get_or_insert_with(HashMap::new);
    // Older contents of this folder go, with their loaded models (once no render holds them).
    packages.retain(|(other, old), _| {
        let stale = *other == folder;
        if stale {
            model_pool::unload(old);
        }
        !stale
    });
    packages.insert(slot, loaded.clone());
    Ok(loaded)
}

/// Builds the job; `project_pixels` is the project size in pixels (for `outputSize` = project size).
pub fn job(settings: &Settings, project_pixels: (f64, f64)) -> Result<Job> {
    let dir = model_dir(settings)?;
    let package = package(&dir)?;
    let built = request::build(settings, &package.package, project_pixels)?;
    let recipe = package.recipe(&built.request);
    Ok(Job {
        dir,
        package,
        request: built.request,
        recipe,
        notes: built.notes,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::fit::FitMode;
    use crate::settings::OutputSize;
    use crate::timing::{PastEnd, Timing};

    /// Settings for a native-size clip of "a red ball" (other modules' tests start from these too).
    pub(crate) fn settings() -> Settings {
        Settings {
            prompt: "a red ball".into(),
            negative_prompt: String::new(),
            seed: 7,
            model: 0,
            model_name: String::new(),
            custom_model: PathBuf::new(),
            use_model_defaults: true,
            params_version: 0,
            steps: 0,
            guidance: 0.0,
            scheduler: 0,
            scheduler_name: String::new(),
            frames: 0,
            output_size: OutputSize::Native,
            width: 100,
            height: 50,
            fit: FitMode::Fit,
            transfer: crate::transfer::Transfer::Srgb,
            timing: Timing::NativeSpeed,
            past_end: PastEnd::Hold,
            gpu: false,
            gpu_index: 0,
            strict_device: false,
            gpu_memory_gb: 0.0,
            auto_generate: false,
            cache_folder: PathBuf::new(),
            strength: 1.0,
            start_from: crate::start_from::StartFrom::None,
            start_frame: 0,
        }
    }

    fn fixture() -> String {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../models/fixtures/tiny-modelscope"
        )
        .into()
    }

    #[test]
    fn the_recipe_names_everything_that_decides_the_frames() {
        let s = Settings {
            custom_model: fixture().into(),
            ..settings()
        };
        let j = job(&s, (1920.0, 1080.0)).unwrap();
        // The fixture's t2v_defaults fill in the zeros.
        let (q, r) = (&j.request, &j.recipe);
        assert_eq!((q.width, q.height, q.frames, q.steps), (32, 24, 3, 4));
        assert_eq!((q.guidance, q.scheduler.name(), q.seed), (7.5, "ddim", 7));
        assert_eq!((r.width, r.height, r.frames), (32, 24, 3));
        assert_eq!(r.request, j.package.package.request_encoding(q));
        assert!(
            r.model.starts_with("blake3:"),
            "content digest: {}",
            r.model
        );
        let again = job(&s, (0.0, 0.0)).unwrap();
        assert_eq!(again.recipe.key(), r.key(), "stable across calls");
        let other = Settings {
            prompt: "a blue cube".into(),
            ..s.clone()
        };
        assert_ne!(job(&other, (0.0, 0.0)).unwrap().recipe.key(), r.key());
        let project = Settings {
            output_size: OutputSize::Project,
            ..s
        };
        let p = job(&project, (1920.0, 1080.0)).unwrap();
        let m = p.package.package.shapes().size_multiple;
        assert_eq!(p.request.width % m, 0);
        assert_eq!(p.request.height % m, 0);
    }

    /// The key follows the engine's request encoding: every setting that decides pixels changes it; the
    /// negative prompt of an unguided render (guidance 1), which the engine never reads, does not.
    #[test]
    fn clip_keys_follow_what_decides_the_pixels() {
        let base = Settings {
            custom_model: fixture().into(),
            ..settings()
        };
        let key = |s: &Settings| job(s, (0.0, 0.0)).unwrap().recipe.key();
        let changes: [fn(&mut Settings); 6] = [
            |s| s.negative_prompt = "blurry".into(),
            |s| s.seed += 1,
            |s| s.steps = 3,
            |s| s.guidance = 5.0,
            |s| s.scheduler_name = "euler".into(),
            |s| s.frames = 2,
        ];
        let mut keys = vec![key(&base)];
        for change in changes {
            let mut s = base.clone();
            change(&mut s);
            keys.push(key(&s));
        }
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len());

        let unguided = Settings {
            guidance: 1.0,
            ..base
        };
        let other_negative = Settings {
            negative_prompt: "blurry".into(),
            ..unguided.clone()
        };
        assert_eq!(key(&unguided), key(&other_negative));
    }

    #[test]
    fn a_loaded_model_of_other_content_than_the_recipe_names_is_refused() {
        let ort = std::env::var_os("ORT_DYLIB_PATH")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../target/onnxruntime/libonnxruntime.so.1.31.1"
                )
                .into()
            });
        t2v_engine::init_onnx_runtime(&ort).unwrap();
        let dir = PathBuf::from(fixture());
        // as if the folder changed between naming the recipe and loading the model
        let stale = Package {
            package: ModelPackage::open(&dir).unwrap(),
            identity: "blake3:what-the-folder-held-before".into(),
        };
        let options = RuntimeOptions::default();
        assert_eq!(
            stale.model(&dir, &options).unwrap_err().to_string(),
            format!(
                "model folder {}: changed during the render (its files are not the ones this render \
                 started with); render again to use the new content",
                dir.display()
            )
        );
        let current = Package {
            identity: model_identity(&dir).unwrap(),
            ..stale
        };
        let loaded = current.model(&dir, &options).unwrap();
        assert_eq!(loaded.model.identity(), current.identity);
    }

    #[test]
    fn a_missing_custom_model_names_its_folder() {
        let s = Settings {
            custom_model: "/nonexistent/model".into(),
            ..settings()
        };
        let err = job(&s, (0.0, 0.0)).err().unwrap();
        assert!(
            err.message.contains("/nonexistent/model"),
            "{}",
            err.message
        );
    }
}
