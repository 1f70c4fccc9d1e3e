//! Settings → the engine request for one model: Use Model Defaults (and the 0s older projects hold for
//! "the model's value"), sizes rounded to the model's multiple and kept within the engine's largest side,
//! frame counts the family takes (longer than the model's maximum: windows), a scheduler the model can run. What had to give is said in `notes`
//! (the status line shows them) instead of failing the render.

use t2v_engine::{Defaults, ModelPackage, Request, SchedulerKind, MAX_SIDE};

use crate::ofx::{Error, Result};
use crate::settings::{OutputSize, Settings};

/// The request and what the status line should say about how it differs from the settings.
pub struct Built {
    pub request: Request,
    pub notes: Vec<String>,
}

/// The request `settings` make of `package`; `project_pixels` is the project size in pixels (for
/// "Generate At: Project Size").
pub fn build(
    settings: &Settings,
    package: &ModelPackage,
    project_pixels: (f64, f64),
) -> Result<Built> {
    let d = package.defaults();
    let mut notes = Vec::new();
    let model = settings.follows_model();
    let pick = |value: u32, default: u32| if model || value == 0 { default } else { value };
    let asked = pick(settings.frames, d.frames);
    let frames = package.fit_frames(asked);
    if frames != asked {
        notes.push(format!("Frames {asked} → {frames} (what the model takes)"));
    }
    if package.is_windowed(frames) {
        notes.push(format!(
            "{frames} frames, longer than the model's {}: generated in overlapping windows of {}",
            d.max_frames, d.frames
        ));
    }
    let (width, height) = size(
        settings,
        d,
        package.shapes().size_multiple,
        project_pixels,
        &mut notes,
    );
    let scheduler = scheduler(settings, package, &mut notes)?;
    let tokenizer = package.tokenizer();
    for (what, text) in [
        ("prompt", &settings.prompt),
        ("negative prompt", &settings.negative_prompt),
    ] {
        let needed = tokenizer.token_count(text).map_err(Error::failed)?;
        if needed > tokenizer.length() {
            notes.push(format!(
                "{what} cut at {} tokens (it has {needed})",
                tokenizer.length()
            ));
        }
    }
    let request = Request {
        prompt: settings.prompt.clone(),
        negative_prompt: settings.negative_prompt.clone(),
        seed: settings.seed,
        steps: pick(settings.steps, d.steps),
        guidance: if model || settings.guidance <= 0.0 {
            d.guidance
        } else {
            settings.guidance
        },
        scheduler,
        width,
        height,
        frames,
        source: None,
        start_image: None,
    };
    Ok(Built { request, notes })
}

/// The generation size, rounded to `multiple` and at most the engine's largest side. A project larger
/// than that generates the largest size of its aspect and is upscaled (noted).
fn size(
    settings: &Settings,
    d: &Defaults,
    multiple: u32,
    (pw, ph): (f64, f64),
    notes: &mut Vec<String>,
) -> (u32, u32) {
    let m = multiple.max(1);
    let largest = (MAX_SIDE / m * m).max(m);
    let round = |v: u32| ((v.saturating_add(m / 2)) / m * m).clamp(m, largest);
    match settings.output_size {
        OutputSize::Native => (round(d.width), round(d.height)),
        OutputSize::Custom => (round(settings.width), round(settings.height)),
        OutputSize::Project => {
            let side = f64::from(MAX_SIDE);
            let fit = (side / pw).min(side / ph).min(1.0);
            let (w, h) = (
                round((pw * fit).round() as u32),
                round((ph * fit).round() as u32),
            );
            if fit < 1.0 {
                notes.push(format!(
                    "generated at {w}×{h}, upscaled to the {}×{} project",
                    pw.round(),
                    ph.round()
                ));
            }
            (w, h)
        }
    }
}

/// The id `schedulerName` holds for the menu's "Model Default".
pub const DEFAULT_SCHEDULER: &str = "default";

/// The scheduler the settings choose (`None`: the model's default): `schedulerName` when set (it
/// survives menu changes), else the menu index as projects saved before it hold it, in the described
/// menu's frozen order (out of range: the model's default).
fn chosen_scheduler(settings: &Settings) -> Result<Option<SchedulerKind>> {
    match settings.scheduler_name.as_str() {
        "" => Ok(usize::try_from(settings.scheduler - 1)
            .ok()
            .and_then(|i| SchedulerKind::ALL.get(i).copied())),
        DEFAULT_SCHEDULER => Ok(None),
        name => SchedulerKind::from_name(name).map(Some).ok_or_else(|| {
            let ids: Vec<_> = SchedulerKind::ALL.iter().map(|k| k.name()).collect();
            Error::failed(format!(
                "the saved scheduler `{name}` is not one this plugin offers ({}); choose one in the \
                 Scheduler menu",
                ids.join(", ")
            ))
        }),
    }
}

/// The chosen scheduler if the model can run it, else the model's default with a note naming the ones
/// it can run (hosts whose menus cannot change per model list every scheduler).
fn scheduler(
    settings: &Settings,
    package: &ModelPackage,
    notes: &mut Vec<String>,
) -> Result<SchedulerKind> {
    let default = package.defaults().scheduler;
    let Some(kind) = chosen_scheduler(settings)? else {
        return Ok(default);
    };
    if package.scheduler_config().check_kind(kind).is_ok() {
        return Ok(kind);
    }
    let valid: Vec<_> = package.schedulers().iter().map(|k| k.label()).collect();
    notes.push(format!(
        "the {kind} scheduler does not handle this model's {}; using {default}, the model's default \
         (it runs {})",
        package.parameterisation(),
        valid.join(", ")
    ));
    Ok(default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::tests::settings;
    use crate::params::SCHEDULERS;

    fn fixture() -> ModelPackage {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../models/fixtures/tiny-modelscope"
        );
        ModelPackage::open(dir).unwrap()
    }

    fn build_(s: &Settings, project: (f64, f64)) -> Built {
        build(s, &fixture(), project).unwrap()
    }

    /// The fixture: 32×24, 3 frames (at most 8), 4 DDIM steps, guidance 7.5, size multiple 4.
    #[test]
    fn zeros_take_the_model_defaults() {
        let b = build_(&settings(), (1920.0, 1080.0));
        let r = &b.request;
        assert_eq!((r.width, r.height, r.frames, r.steps), (32, 24, 3, 4));
        assert_eq!(
            (r.guidance, r.scheduler, r.seed),
            (7.5, SchedulerKind::Ddim, 7)
        );
        assert_eq!(r.prompt, "a red ball");
        assert!(b.notes.is_empty(), "{:?}", b.notes);
    }

    #[test]
    fn explicit_values_win_unless_use_model_defaults_is_on() {
        let s = Settings {
            steps: 3,
            guidance: 1.0,
            frames: 5,
            use_model_defaults: false,
            params_version: 1,
            ..settings()
        };
        let r = build_(&s, (0.0, 0.0)).request;
        assert_eq!((r.steps, r.guidance, r.frames), (3, 1.0, 5));
        let on = Settings {
            use_model_defaults: true,
            ..s.clone()
        };
        let r = build_(&on, (0.0, 0.0)).request;
        assert_eq!((r.steps, r.guidance, r.frames), (4, 7.5, 3));
        // A project saved before the toggle loads with it on, but its values still count.
        let old = Settings {
            use_model_defaults: true,
            params_version: 0,
            ..s
        };
        let r = build_(&old, (0.0, 0.0)).request;
        assert_eq!((r.steps, r.guidance, r.frames), (3, 1.0, 5));
    }

    #[test]
    fn frames_past_the_model_maximum_are_cut_and_said() {
        let s = Settings {
            frames: 40,
            use_model_defaults: false,
            params_version: 1,
            ..settings()
        };
        let b = build_(&s, (0.0, 0.0));
        assert_eq!(b.request.frames, 40);
        assert_eq!(
            b.notes,
            ["40 frames, longer than the model's 8: generated in overlapping windows of 3"]
        );
    }

    #[test]
    fn sizes_round_to_the_model_multiple_within_the_engine_side() {
        let custom = |width, height| Settings {
            output_size: OutputSize::Custom,
            width,
            height,
            ..settings()
        };
        assert_eq!(fixture().shapes().size_multiple, 4);
        let r = build_(&custom(101, 50), (0.0, 0.0)).request;
        assert_eq!((r.width, r.height), (100, 52));
        let r = build_(&custom(1, 0), (0.0, 0.0)).request;
        assert_eq!((r.width, r.height), (4, 4));
        let r = build_(&custom(4095, 9000), (0.0, 0.0)).request;
        assert_eq!((r.width, r.height), (4096, 4096));
        let project = Settings {
            output_size: OutputSize::Project,
            ..settings()
        };
        let b = build_(&project, (1920.0, 1080.0));
        assert_eq!((b.request.width, b.request.height), (1920, 1080));
        assert!(b.notes.is_empty());
    }

    #[test]
    fn a_project_larger_than_the_engine_side_generates_the_largest_and_upscales() {
        let project = Settings {
            output_size: OutputSize::Project,
            ..settings()
        };
        let b = build_(&project, (7680.0, 4320.0));
        assert_eq!((b.request.width, b.request.height), (4096, 2304));
        assert_eq!(
            b.notes,
            ["generated at 4096×2304, upscaled to the 7680×4320 project"]
        );
        let b = build_(&project, (16384.0, 4096.0));
        assert_eq!((b.request.width, b.request.height), (4096, 1024));
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
            chosen_scheduler(&s).map_err(|e| e.message)
        };
        for (i, kind) in SchedulerKind::ALL.iter().enumerate() {
            assert_eq!(SCHEDULERS[i + 1], kind.label());
            assert_eq!(
                pick(i as i32 + 1, ""),
                Ok(Some(*kind)),
                "old projects: the index"
            );
            assert_eq!(pick(0, kind.name()), Ok(Some(*kind)), "the id wins");
        }
        assert_eq!(pick(0, ""), Ok(None));
        assert_eq!(pick(99, ""), Ok(None));
        assert_eq!(pick(2, DEFAULT_SCHEDULER), Ok(None));
        assert_eq!(
            pick(1, "dpmpp_sde"),
            Err(
                "the saved scheduler `dpmpp_sde` is not one this plugin offers (ddim, euler, euler_a, \
                 dpmpp_2m, lcm, flow_euler, unipc); choose one in the Scheduler menu"
                    .into()
            )
        );
    }

    #[test]
    fn a_scheduler_the_model_cannot_run_falls_back_to_its_default_with_a_note() {
        let s = Settings {
            scheduler_name: "flow_euler".into(),
            ..settings()
        };
        let b = build_(&s, (0.0, 0.0));
        assert_eq!(b.request.scheduler, SchedulerKind::Ddim);
        assert_eq!(
            b.notes,
            ["the Flow Euler scheduler does not handle this model's epsilon prediction; using DDIM, \
              the model's default (it runs DDIM, Euler, Euler a, DPM++ 2M, LCM)"]
        );
        let euler = Settings {
            scheduler_name: "euler".into(),
            ..settings()
        };
        assert_eq!(
            build_(&euler, (0.0, 0.0)).request.scheduler,
            SchedulerKind::Euler
        );
    }

    #[test]
    fn a_prompt_longer_than_the_text_encoder_takes_is_noted() {
        let long = Settings {
            prompt: vec!["ball"; 100].join(" "),
            ..settings()
        };
        let b = build_(&long, (0.0, 0.0));
        let needed = fixture().tokenizer().token_count(&long.prompt).unwrap();
        assert_eq!(
            b.notes,
            [format!("prompt cut at 77 tokens (it has {needed})")]
        );
        assert_eq!(
            b.request.prompt, long.prompt,
            "the engine cuts it, as before"
        );
    }
}
