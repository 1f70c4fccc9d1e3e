//! From settings to a generation job: which model folder, the engine request (model defaults filled in,
//! size rounded to what the model accepts) and the cache recipe that names the resulting clip.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clip_cache::Recipe;
use parking_lot::Mutex;
use t2v_engine::{
    model_identity, Defaults, EngineError, ModelPackage, Request, RuntimeOptions, SchedulerKind,
};

use crate::location;
use crate::model_pool;
use crate::ofx::{Error, Result};
use crate::params::NO_MODEL;
use crate::settings::{OutputSize, Settings};

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
    let p = &package.package;
    let request = request(
        settings,
        p.defaults(),
        p.shapes().size_multiple,
        project_pixels,
    )?;
    // The menu lists every scheduler; one this model cannot run fails here, naming the valid ones.
    p.scheduler_config()
        .check_kind(request.scheduler)
        .map_err(Error::failed)?;
    let recipe = package.recipe(&request);
    Ok(Job {
        dir,
        package,
        request,
        recipe,
    })
}

/// The id `schedulerName` holds for the menu's "Model default".
pub const DEFAULT_SCHEDULER: &str = "default";

/// The id stored for menu entry `index` (0 = the model's default, then `SchedulerKind::ALL` in its frozen
/// order); empty for an index outside the menu.
pub fn scheduler_id(index: i32) -> &'static str {
    match usize::try_from(index) {
        Ok(0) => DEFAULT_SCHEDULER,
        Ok(i) => SchedulerKind::ALL.get(i - 1).map_or("", |k| k.name()),
        Err(_) => "",
    }
}

/// The scheduler the settings choose: `schedulerName` when set (it survives menu changes), else the menu
/// index as projects saved before it hold it (out of range: the model's default).
pub fn scheduler(settings: &Settings, default: SchedulerKind) -> Result<SchedulerKind> {
    let by_index = || {
        usize::try_from(settings.scheduler - 1)
            .ok()
            .and_then(|i| SchedulerKind::ALL.get(i).copied())
            .unwrap_or(default)
    };
    match settings.scheduler_name.as_str() {
        "" => Ok(by_index()),
        DEFAULT_SCHEDULER => Ok(default),
        name => SchedulerKind::from_name(name).ok_or_else(|| {
            let ids: Vec<_> = SchedulerKind::ALL.iter().map(|k| k.name()).collect();
            Error::failed(format!(
                "the saved scheduler `{name}` is not one this plugin offers ({}); choose one in the \
                 Scheduler menu",
                ids.join(", ")
            ))
        }),
    }
}

/// The engine request: zeros take the model's defaults; sizes are rounded to `multiple`.
pub fn request(
    settings: &Settings,
    defaults: &Defaults,
    multiple: u32,
    project_pixels: (f64, f64),
) -> Result<Request> {
    let (width, height) = match settings.output_size {
        OutputSize::Native => (defaults.width, defaults.height),
        OutputSize::Custom => (settings.width, settings.height),
        OutputSize::Project => (
            project_pixels.0.round() as u32,
            project_pixels.1.round() as u32,
        ),
    };
    let round = |v: u32| {
        let m = multiple.max(1);
        ((v + m / 2) / m * m).max(m)
    };
    let or = |v: u32, default: u32| if v == 0 { default } else { v };
    Ok(Request {
        prompt: settings.prompt.clone(),
        negative_prompt: settings.negative_prompt.clone(),
        seed: settings.seed,
        steps: or(settings.steps, defaults.steps),
        guidance: if settings.guidance > 0.0 {
            settings.guidance
        } else {
            defaults.guidance
        },
        scheduler: scheduler(settings, defaults.scheduler)?,
        width: round(width),
        height: round(height),
        frames: or(settings.frames, defaults.frames),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::fit::FitMode;
    use crate::params::SCHEDULERS;
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
            steps: 0,
            guidance: 0.0,
            scheduler: 0,
            scheduler_name: String::new(),
            frames: 0,
            output_size: OutputSize::Native,
            width: 100,
            height: 50,
            fit: FitMode::Fit,
            timing: Timing::NativeSpeed,
            past_end: PastEnd::Hold,
            gpu: false,
            gpu_index: 0,
            strict_device: false,
            auto_generate: false,
            cache_folder: PathBuf::new(),
        }
    }

    fn defaults() -> Defaults {
        Defaults {
            width: 64,
            height: 48,
            frames: 8,
            max_frames: 16,
            fps: 8.0,
            steps: 20,
            guidance: 7.5,
            scheduler: SchedulerKind::Ddim,
        }
    }

    #[test]
    fn zeros_take_the_model_defaults() {
        let r = request(&settings(), &defaults(), 16, (1920.0, 1080.0)).unwrap();
        assert_eq!((r.width, r.height, r.frames, r.steps), (64, 48, 8, 20));
        assert_eq!(
            (r.guidance, r.scheduler, r.seed),
            (7.5, SchedulerKind::Ddim, 7)
        );
        assert_eq!(r.prompt, "a red ball");
    }

    #[test]
    fn explicit_values_win_and_sizes_round_to_the_model_multiple() {
        let s = Settings {
            steps: 3,
            guidance: 1.0,
            scheduler: 2,
            frames: 5,
            output_size: OutputSize::Custom,
            ..settings()
        };
        let r = request(&s, &defaults(), 16, (0.0, 0.0)).unwrap();
        assert_eq!((r.width, r.height), (96, 48));
        assert_eq!((r.steps, r.guidance, r.frames), (3, 1.0, 5));
        assert_eq!(r.scheduler, SchedulerKind::Euler);
        let p = Settings {
            output_size: OutputSize::Project,
            ..settings()
        };
        let r = request(&p, &defaults(), 8, (1920.0, 1080.0)).unwrap();
        assert_eq!((r.width, r.height), (1920, 1080));
        let tiny = Settings {
            output_size: OutputSize::Custom,
            width: 1,
            height: 0,
            ..settings()
        };
        let r = request(&tiny, &defaults(), 8, (0.0, 0.0)).unwrap();
        assert_eq!((r.width, r.height), (8, 8));
    }

    #[test]
    fn scheduler_menu_matches_the_engine_kinds() {
        assert_eq!(SCHEDULERS.len(), SchedulerKind::ALL.len() + 1);
        let pick = |index: i32, name: &str| {
            let s = Settings {
                scheduler: index,
                scheduler_name: name.into(),
                ..settings()
            };
            scheduler(&s, SchedulerKind::Lcm).map_err(|e| e.message)
        };
        for (i, kind) in SchedulerKind::ALL.iter().enumerate() {
            assert_eq!(SCHEDULERS[i + 1], kind.label());
            assert_eq!(pick(i as i32 + 1, ""), Ok(*kind), "old projects: the index");
            assert_eq!(scheduler_id(i as i32 + 1), kind.name());
            assert_eq!(
                pick(0, kind.name()),
                Ok(*kind),
                "the id wins over the index"
            );
        }
        assert_eq!(pick(0, ""), Ok(SchedulerKind::Lcm));
        assert_eq!(pick(99, ""), Ok(SchedulerKind::Lcm));
        assert_eq!(pick(2, DEFAULT_SCHEDULER), Ok(SchedulerKind::Lcm));
        assert_eq!(
            (scheduler_id(0), scheduler_id(99), scheduler_id(-1)),
            ("default", "", "")
        );
        assert_eq!(
            pick(1, "pndm"),
            Err(
                "the saved scheduler `pndm` is not one this plugin offers (ddim, euler, euler_a, \
                 dpmpp_2m, lcm, flow_euler, unipc); choose one in the Scheduler menu"
                    .into()
            )
        );
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
