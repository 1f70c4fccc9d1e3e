//! Getting a clip: from the process-wide cache, or by running the model with per-step progress and
//! cancellation (host abort or the progress dialog's cancel stop within one denoising step; nothing is
//! cached then). Each generation, and each clip read from disk, is one log line ([`log_line`]).

use std::cell::RefCell;
use std::sync::Arc;

use clip_cache::{Clip, ClipCache, Fetched, Generated, GetError, Latents, MadeBy, Options, Source};
use t2v_engine::{
    init_onnx_runtime, EngineError, Flow, GenerationStats, Model, RuntimeOptions, Sampled,
};

use crate::job::Job;
use crate::location;
use crate::ofx::{effect::Effect, progress::Progress, Error};

/// Why no clip came back.
#[derive(Debug)]
pub enum Failure {
    /// The user or host stopped it: fail the render quietly.
    Cancelled,
    /// Something to tell the user.
    Error(Error),
}

/// The cache folder setting (empty: not set, the cache picks its default).
pub fn folder(cache_folder: &std::path::Path) -> Option<&std::path::Path> {
    (!cache_folder.as_os_str().is_empty()).then_some(cache_folder)
}

/// The clip if the cache already has it (no generation).
pub fn peek(job: &Job, cache_folder: &std::path::Path) -> Option<Fetched> {
    let fetched = ClipCache::global().peek(&job.recipe, folder(cache_folder))?;
    log_served(&fetched, job, None);
    Some(fetched)
}

/// The clip's log line: Info for what was generated or read from disk, Debug for memory hits.
fn log_served(fetched: &Fetched, job: &Job, ran: Option<&Ran>) {
    let level = match fetched.source {
        Source::Generated | Source::Disk => log::Level::Info,
        Source::Memory | Source::Shared => log::Level::Debug,
    };
    log::log!(level, "{}", log_line(fetched, job, ran));
}

/// A clip the cache served, with what the status line should also say about this render (a model
/// loaded again, a device fallback).
pub struct Served {
    pub fetched: Fetched,
    pub notes: Vec<String>,
}

/// The clip from the cache, generating it if needed.
pub fn get_or_generate(
    effect: &Effect,
    job: &Job,
    cache_folder: &std::path::Path,
    runtime: &RuntimeOptions,
) -> std::result::Result<Served, Failure> {
    // While another render makes this clip, a progress bar says who, so the user can cancel the wait.
    let waiting: RefCell<Option<Progress>> = RefCell::new(None);
    let on_wait = |text: &str| {
        waiting.replace(None); // a host shows one progress at a time: end the previous one first
        let label = format!("Text to Video: {text}");
        waiting.replace(Some(Progress::start(
            effect.suites.clone(),
            effect.raw(),
            &label,
        )));
    };
    let abort = || {
        let cancelled = waiting
            .borrow_mut()
            .as_mut()
            .is_some_and(|p| !p.update(0.0));
        cancelled || effect.aborted()
    };
    let options = Options {
        folder: folder(cache_folder),
        plugin_version: env!("CARGO_PKG_VERSION"),
        should_abort: Some(&abort),
        on_wait: Some(&on_wait),
    };
    let mut notes = Vec::new();
    let mut ran = None;
    let result = ClipCache::global().get_or_generate(&job.recipe, &options, || {
        waiting.replace(None);
        run_model(effect, job, runtime, options.folder, &mut notes, &mut ran)
    });
    waiting.replace(None);
    match result {
        Ok(fetched) => {
            log_served(&fetched, job, ran.as_ref());
            if let Some(note) = finished_note(&fetched) {
                crate::instance::show_finished(effect, &note);
            }
            Ok(Served { fetched, notes })
        }
        Err(GetError::Aborted) | Err(GetError::Generate(Failure::Cancelled)) => {
            Err(Failure::Cancelled)
        }
        Err(GetError::Generate(failure)) => Err(failure),
    }
}

/// What made a clip this call generated, for its log line.
pub struct Ran {
    pub made_by: MadeBy,
    pub stats: GenerationStats,
}

/// The note of a clip decoded from latents an earlier render kept.
pub const DECODED_KEPT: &str = "decoded from the latents an earlier render kept (no sampling)";

/// Generates the job's clip; what the user should know about how (`notes`) is pushed on the way, and
/// what made it lands in `ran`. The final latents are kept in the cache (`folder`) before decoding, so
/// when a decode fails (out of memory) the next render only decodes.
fn run_model(
    effect: &Effect,
    job: &Job,
    options: &RuntimeOptions,
    folder: Option<&std::path::Path>,
    notes: &mut Vec<String>,
    ran: &mut Option<Ran>,
) -> std::result::Result<Generated, Failure> {
    let library = location::onnxruntime_library().ok_or_else(|| {
        Failure::Error(Error::failed(format!(
            "ONNX Runtime not found: expected {} in the bundle's Contents/{} folder, or set \
             ORT_DYLIB_PATH",
            location::ONNXRUNTIME_NAME,
            location::ARCH_DIR
        )))
    })?;
    init_onnx_runtime(&library).map_err(engine_failure)?;
    let loaded = job
        .package
        .model(&job.dir, options)
        .map_err(engine_failure)?;
    notes.extend(loaded.note);
    notes.extend(loaded.model.device_note().map(str::to_owned));
    let model = loaded.model;
    let cache = ClipCache::global();
    let label = format!(
        "Text to Video: generating {} frames ({} steps)",
        job.request.frames, job.request.steps
    );
    // Open through the decode too (long for large models).
    let mut progress = Progress::start(effect.suites.clone(), effect.raw(), &label);
    let kept = cache.load_latents(&job.recipe, folder).and_then(|kept| {
        let shape = <[usize; 5]>::try_from(kept.shape.as_slice()).ok()?;
        Some((kept.values, shape))
    });
    let (latents, shape, sampling) = match kept {
        Some((latents, shape)) => {
            notes.push(DECODED_KEPT.into());
            (latents, shape, GenerationStats::default())
        }
        None => {
            let (sampled, stats) = sample(effect, job, &model, &mut progress)?;
            let keep = Latents {
                shape: sampled.shape.to_vec(),
                values: sampled.latents.into(),
            };
            if let Err(e) = cache.save_latents(&job.recipe, folder, &keep) {
                log::warn!(
                    "Text to Video: the latents of {} were not kept: {e}",
                    job.recipe.key()
                );
            }
            (keep.values, sampled.shape, stats)
        }
    };
    #[cfg(feature = "fault-injection")]
    crate::fault::panic_if_asked(crate::fault::DECODE);
    let (video, decoding) = model
        .decode_with_stats(&latents, shape)
        .map_err(engine_failure)?;
    let stats = sampling + decoding;
    let frames = video.frames.into_iter().map(Arc::from).collect();
    let clip = Clip::new(video.width, video.height, frames).map_err(|e| {
        Failure::Error(Error::failed(format!("the model produced a bad clip: {e}")))
    })?;
    let made_by = MadeBy {
        model: Some(model.package().name()),
        license: model.package().license().map(Into::into),
        device: Some(model.device().name().into()),
        device_note: model.device_note().map(Into::into),
        execution_provider: Some(model.device().execution_provider().into()),
        onnx_runtime_version: t2v_engine::onnx_runtime_version().map(Into::into),
        numerics_version: Some(t2v_engine::NUMERICS_VERSION),
    };
    *ran = Some(Ran {
        made_by: made_by.clone(),
        stats,
    });
    Ok(Generated { clip, made_by })
}

/// The denoising loop with a progress bar the user can cancel (as can the host).
fn sample(
    effect: &Effect,
    job: &Job,
    model: &Model,
    progress: &mut Progress,
) -> std::result::Result<(Sampled, GenerationStats), Failure> {
    let mut on_step = |p: t2v_engine::StepProgress| {
        #[cfg(feature = "fault-injection")]
        if p.step > 0 {
            crate::fault::panic_if_asked(crate::fault::GENERATION_STEP);
        }
        let keep_going = progress.update(p.step as f64 / p.steps.max(1) as f64);
        if keep_going && !effect.aborted() {
            Flow::Continue
        } else {
            Flow::Cancel
        }
    };
    model
        .sample_with_stats(&job.request, &mut on_step)
        .map_err(engine_failure)
}

fn engine_failure(e: EngineError) -> Failure {
    match e {
        EngineError::Cancelled => Failure::Cancelled,
        other => Failure::Error(Error::failed(other.to_string())),
    }
}

/// The status line for a clip the cache served, ending with `notes` about this render.
pub fn describe(fetched: &Fetched, job: &Job, notes: &[String]) -> String {
    let clip = &fetched.clip;
    let what = format!(
        "{} frames {}×{}, {} steps, seed {}",
        clip.frames().len(),
        clip.width(),
        clip.height(),
        job.request.steps,
        job.request.seed
    );
    let seconds = fetched.generation_seconds;
    let how = match fetched.source {
        Source::Generated => format!("generated in {seconds:.1} s (cache miss)"),
        Source::Shared => format!("generated in {seconds:.1} s by another render (cache miss)"),
        Source::Memory => format!("cache hit (memory), generated in {seconds:.1} s"),
        Source::Disk => format!("cache hit (disk), generated in {seconds:.1} s"),
    };
    let notes: String = notes.iter().map(|n| format!("; {n}")).collect();
    format!("{what}: {how}{}{notes}", place(fetched))
}

/// `status` followed by the job's notes (what the settings asked for that the model cannot take). They
/// belong to the settings, not the clip: other settings (a scheduler the model cannot run) can name the
/// same clip.
pub fn with_notes(status: String, job: &Job) -> String {
    job.notes
        .iter()
        .fold(status, |line, note| format!("{line}; {note}"))
}

/// The log line for a clip the cache served: the model, the recipe key, hit or miss and where; for a
/// clip this call generated (`ran`), also the device, ONNX Runtime and how the time was spent.
pub fn log_line(fetched: &Fetched, job: &Job, ran: Option<&Ran>) -> String {
    let clip = &fetched.clip;
    let source = match fetched.source {
        Source::Generated => "generated (cache miss)",
        Source::Shared => "generated by another render (cache miss)",
        Source::Memory => "cache hit (memory)",
        Source::Disk => "cache hit (disk)",
    };
    let line = format!(
        "Text to Video: {source}: model {}, key {}, {} frames {}×{}, {} steps, seed {}",
        job.package.package.name(),
        fetched.key,
        clip.frames().len(),
        clip.width(),
        clip.height(),
        job.request.steps,
        job.request.seed
    );
    let how = if let Some(Ran { made_by, stats }) = ran {
        let or_unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
        format!(
            ", device {} ({}{}), ONNX Runtime {}, numerics {}, {:.2} s ({:.2} s in ONNX Runtime, {:.0}%)",
            or_unknown(&made_by.device),
            or_unknown(&made_by.execution_provider),
            made_by
                .device_note
                .as_ref()
                .map(|note| format!("; {note}"))
                .unwrap_or_default(),
            or_unknown(&made_by.onnx_runtime_version),
            made_by.numerics_version.unwrap_or_default(),
            stats.total.as_secs_f64(),
            stats.onnx.as_secs_f64(),
            100.0 * stats.onnx_share()
        )
    } else {
        format!(", generated in {:.2} s", fetched.generation_seconds)
    };
    line + &how + &place(fetched)
}

/// Where the clip is kept: "; DIR", "; memory only" or "; not saved: why".
fn place(fetched: &Fetched) -> String {
    match (&fetched.location, &fetched.disk_error) {
        (_, Some(err)) => format!("; not saved: {err}"),
        (Some(dir), None) => format!("; {}", dir.display()),
        (None, None) => "; memory only".into(),
    }
}

/// The status line for a clip that is not generated yet.
pub fn pending_status() -> String {
    "Not generated yet: press Generate (or turn on Auto Generate); final renders generate it".into()
}

/// The note on the node when this render generated (or waited for) the clip.
fn finished_note(fetched: &Fetched) -> Option<String> {
    let clip = &fetched.clip;
    let by = match fetched.source {
        Source::Generated => "",
        Source::Shared => " by another render",
        Source::Memory | Source::Disk => return None,
    };
    Some(format!(
        "{} frames {}×{} generated{by} in {:.1} s",
        clip.frames().len(),
        clip.width(),
        clip.height(),
        fetched.generation_seconds
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;

    fn job() -> Job {
        let settings = Settings {
            seed: 5,
            custom_model: concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../models/fixtures/tiny-modelscope"
            )
            .into(),
            steps: 2,
            ..crate::job::tests::settings()
        };
        crate::job::job(&settings, (0.0, 0.0)).unwrap()
    }

    fn fetched(source: Source, location: Option<&str>, disk_error: Option<&str>) -> Fetched {
        let frame: Arc<[f32]> = Arc::from(vec![0.5f32; 4 * 2 * 3]);
        Fetched {
            clip: Arc::new(Clip::new(4, 2, vec![frame.clone(), frame]).unwrap()),
            key: job().recipe.key(),
            source,
            location: location.map(Into::into),
            generation_seconds: 12.34,
            disk_error: disk_error.map(Into::into),
        }
    }

    #[test]
    fn status_says_what_how_long_hit_or_miss_and_where() {
        let j = job();
        assert_eq!(
            describe(&fetched(Source::Generated, Some("/c/abc"), None), &j, &[]),
            "2 frames 4×2, 2 steps, seed 5: generated in 12.3 s (cache miss); /c/abc"
        );
        assert_eq!(
            describe(&fetched(Source::Disk, Some("/c/abc"), None), &j, &[]),
            "2 frames 4×2, 2 steps, seed 5: cache hit (disk), generated in 12.3 s; /c/abc"
        );
        assert_eq!(
            describe(&fetched(Source::Memory, None, Some("disk full")), &j, &[]),
            "2 frames 4×2, 2 steps, seed 5: cache hit (memory), generated in 12.3 s; not saved: disk full"
        );
        assert!(describe(&fetched(Source::Shared, None, None), &j, &[]).ends_with("; memory only"));
        let notes = ["model m loaded again: why".to_owned()];
        assert_eq!(
            describe(&fetched(Source::Generated, None, None), &j, &notes),
            "2 frames 4×2, 2 steps, seed 5: generated in 12.3 s (cache miss); memory only; model m loaded again: why"
        );
    }

    #[test]
    fn the_finished_note_is_for_generations_and_notes_follow_the_status() {
        assert_eq!(
            finished_note(&fetched(Source::Generated, None, None)).as_deref(),
            Some("2 frames 4×2 generated in 12.3 s")
        );
        assert_eq!(
            finished_note(&fetched(Source::Shared, None, None)).as_deref(),
            Some("2 frames 4×2 generated by another render in 12.3 s")
        );
        assert_eq!(finished_note(&fetched(Source::Memory, None, None)), None);
        assert_eq!(finished_note(&fetched(Source::Disk, None, None)), None);
        let mut j = job();
        assert_eq!(with_notes("status".into(), &j), "status");
        j.notes = vec!["a".into(), "b".into()];
        assert_eq!(with_notes("status".into(), &j), "status; a; b");
    }

    #[test]
    fn log_line_names_model_key_device_runtime_timing_and_place() {
        let j = job();
        let ran = Ran {
            made_by: MadeBy {
                model: Some("tiny-modelscope".into()),
                license: None,
                device: Some("cpu".into()),
                device_note: Some(
                    "CUDA unavailable: libcuda.so.1 not found; running on the CPU".into(),
                ),
                execution_provider: Some("CPUExecutionProvider".into()),
                onnx_runtime_version: Some("1.31.1".into()),
                numerics_version: Some(1),
            },
            stats: GenerationStats {
                total: std::time::Duration::from_millis(2000),
                onnx: std::time::Duration::from_millis(1500),
            },
        };
        let key = j.recipe.key();
        let generated = fetched(Source::Generated, Some("/c/abc"), None);
        assert_eq!(
            log_line(&generated, &j, Some(&ran)),
            format!(
                "Text to Video: generated (cache miss): model tiny-modelscope, key {key}, 2 frames 4×2, \
                 2 steps, seed 5, device cpu (CPUExecutionProvider; CUDA unavailable: libcuda.so.1 not \
                 found; running on the CPU), ONNX Runtime 1.31.1, numerics 1, 2.00 s (1.50 s in ONNX Runtime, 75%); /c/abc"
            )
        );
        assert_eq!(
            log_line(&fetched(Source::Disk, Some("/c/abc"), None), &j, None),
            format!(
                "Text to Video: cache hit (disk): model tiny-modelscope, key {key}, 2 frames 4×2, \
                 2 steps, seed 5, generated in 12.34 s; /c/abc"
            )
        );
    }
}
