//! Render-time actions: region of definition, clip preferences, time domain and the render itself
//! (time → generated frame, cache or generate or placeholder, resize into the render window, convert
//! to the host's format).

use std::sync::Arc;

use clip_cache::ClipCache;
use ofx_sys::*;

use crate::colour_management;
use crate::device;
use crate::fit::{place, Placement};
use crate::generate::{self, Failure};
use crate::instance;
use crate::job::{self, Job};
use crate::ofx::{
    effect::Effect,
    image::{Clip, Image},
    props::PropSet,
    Error, OfxStatus, Result,
};
use crate::pixels::encode_row;
use crate::placeholder;
use crate::project::Project;
use crate::resample::{resample_to, RgbFrame, Window, MAX_WINDOW_PIXELS};
use crate::session;
use crate::settings::{self, Settings};
use crate::source;
use crate::timing::TimeMap;
use crate::transfer::Transfer;

/// The project window; for a project the render would refuse, the host's default (the render says why).
pub fn region_of_definition(effect: &Effect, out: PropSet) -> Result<OfxStatus> {
    let Ok(project) = Project::read(effect) else {
        return Ok(kOfxStatReplyDefault);
    };
    out.set_doubles(
        kOfxImageEffectPropRegionOfDefinition,
        &[0.0, 0.0, project.extent.0, project.extent.1],
    )?;
    Ok(kOfxStatOK)
}

pub fn clip_preferences(_effect: &Effect, out: PropSet) -> Result<OfxStatus> {
    out.set_int(kOfxImageEffectFrameVarying, 0, 1)?;
    if let Err(e) = out.set_c_string(
        kOfxImageEffectPropPreMultiplication,
        0,
        kOfxImagePreMultiplied,
    ) {
        log::debug!("Text to Video: host ignored premultiplication: {e}");
    }
    Ok(kOfxStatOK)
}

/// General context: the clip lasts as long as its generated frames take at the chosen timing. Without a
/// usable model or project the host keeps its default (the render reports the problem).
pub fn time_domain(effect: &Effect, out: PropSet) -> Result<OfxStatus> {
    let settings = Settings::read(&effect.params()?, 0.0)?;
    let Ok((project, job)) =
        Project::read(effect).and_then(|p| job::job(&settings, p.pixels()).map(|job| (p, job)))
    else {
        return Ok(kOfxStatReplyDefault);
    };
    let map = time_map(&settings, &job, &project, (0.0, 0.0));
    let length = map.natural_length(job.request.frames as usize);
    out.set_doubles(kOfxImageEffectPropFrameRange, &[0.0, length as f64 - 1.0])?;
    Ok(kOfxStatOK)
}

/// The time mapping of the instance's clip (`output_range`: first frame and length on the timeline).
pub fn time_map(
    settings: &Settings,
    job: &Job,
    project: &Project,
    (start, length): (f64, f64),
) -> TimeMap {
    TimeMap {
        timing: settings.timing,
        past_end: settings.past_end,
        model_fps: job.package.package.defaults().fps,
        project_fps: project.fps,
        clip_start: start,
        clip_length: length,
    }
}

pub fn render(effect: &Effect, in_args: PropSet) -> Result<OfxStatus> {
    match render_frame(effect, in_args) {
        Ok(None) => {
            instance::clear_error(effect);
            Ok(kOfxStatOK)
        }
        Ok(Some(warning)) => {
            instance::show_warning(effect, &warning);
            Ok(kOfxStatOK)
        }
        Err(Failure::Cancelled) => {
            log::info!("Text to Video: render cancelled");
            Ok(kOfxStatFailed)
        }
        Err(Failure::Error(e)) => {
            instance::show_error(effect, &e.message);
            Err(e)
        }
    }
}

/// Renders one frame; `Ok(Some(text))` carries a problem to show that did not stop the render.
fn render_frame(effect: &Effect, in_args: PropSet) -> std::result::Result<Option<String>, Failure> {
    let time = in_args.get_double(kOfxPropTime, 0)?;
    let [x1, y1, x2, y2] = in_args.get_ints::<4>(kOfxImageEffectPropRenderWindow)?;
    // Missing means a final render: those always generate.
    let interactive = in_args
        .get_int(kOfxImageEffectPropInteractiveRenderStatus, 0)
        .unwrap_or(0)
        != 0;
    let settings = Settings::read(&effect.params()?, time)?;
    ClipCache::global().set_disk_cap(settings::read_disk_cap(&effect.params()?, time)?);
    let project = Project::read(effect)?;
    let job = source::job(effect, &settings, &project)?;

    let key = job.recipe.key();
    let may_generate = !interactive || settings.auto_generate || session::is_approved(&key);
    let (fetched, notes) = if may_generate {
        let runtime =
            device::options(&settings, device::DeviceEnv::read()).map_err(Error::failed)?;
        let got = generate::get_or_generate(effect, &job, &settings.cache_folder, &runtime);
        if let Err(Failure::Error(e)) = &got {
            session::set_status(&key, format!("Failed: {}", e.message));
        }
        let served = got?;
        (Some(served.fetched), served.notes)
    } else {
        (generate::peek(&job, &settings.cache_folder), Vec::new())
    };
    let warning = fetched.as_ref().and_then(|f| f.disk_error.clone());
    match &fetched {
        Some(f) => session::set_status(&key, generate::describe(f, &job, &notes)),
        None => session::set_status(&key, generate::pending_status()),
    }

    let output = effect.clip(kOfxImageEffectOutputClipName)?;
    let range = output_range(&output);
    let transfer = colour_management::render_transfer(effect, output.props(), settings.transfer);
    let mut image = output.image(time)?;
    let scale = pick_scale(
        [
            in_args
                .get_doubles::<2>(kOfxImageEffectPropRenderScale)
                .ok(),
            image
                .props()
                .get_doubles::<2>(kOfxImageEffectPropRenderScale)
                .ok(),
        ],
        image.bounds,
        project.pixels(),
    );
    let canvas = Canvas::new(&project, scale);
    let window = canvas.window(clip_rect([x1, y1, x2, y2], &image));
    if window.width == 0 || window.height == 0 {
        return Ok(warning);
    }
    if window.width.saturating_mul(window.height) > MAX_WINDOW_PIXELS {
        return Err(Failure::Error(Error::failed(format!(
            "the render window of {}×{} pixels is too large (at most {MAX_WINDOW_PIXELS} pixels)",
            window.width, window.height
        ))));
    }

    let rgba = match &fetched {
        Some(f) => {
            let clip = &f.clip;
            let index =
                time_map(&settings, &job, &project, range).frame_at(time, clip.frames().len());
            let src = RgbFrame {
                width: clip.width() as usize,
                height: clip.height() as usize,
                pixels: &clip.frames()[index],
            };
            let placement = place(
                settings.fit,
                (src.width, src.height),
                canvas.size,
                project.pixel_aspect,
            );
            let spec = spec_bytes(&placement, window, transfer);
            ClipCache::global().resized_frame(&f.key, index, &spec, || {
                Arc::from(resample_to(src, &placement, window, transfer))
            })
        }
        None => {
            let (w, h) = preview_size(job.request.width, job.request.height);
            let pixels = placeholder::frame(w, h);
            let src = RgbFrame {
                width: w,
                height: h,
                pixels: &pixels,
            };
            let placement = place(settings.fit, (w, h), canvas.size, project.pixel_aspect);
            Arc::from(resample_to(src, &placement, window, transfer))
        }
    };
    write_window(&mut image, &canvas, window, &rgba);
    Ok(warning)
}

/// The output clip's first timeline frame and length (0, 0 when the host does not say).
pub fn output_range(output: &Clip) -> (f64, f64) {
    match output
        .props()
        .get_doubles::<2>(kOfxImageEffectPropFrameRange)
    {
        Ok([a, b]) => (a, b - a + 1.0),
        Err(_) => (0.0, 0.0),
    }
}

/// The project frame in pixel coordinates at this render scale (origin at the bottom left).
struct Canvas {
    /// Top edge (exclusive), pixel rows grow upwards.
    top: i64,
    size: (f64, f64),
}

impl Canvas {
    fn new(project: &Project, scale: [f64; 2]) -> Canvas {
        let (w, h) = project.pixels();
        let size = (w * scale[0], h * scale[1]);
        Canvas {
            top: size.1.round() as i64,
            size,
        }
    }

    /// The pixel rectangle (x1, y1, x2, y2; y up) as a top-down canvas window.
    fn window(&self, [x1, y1, x2, y2]: [i32; 4]) -> Window {
        let extent = |from: i32, to: i32| (i64::from(to) - i64::from(from)).max(0) as usize;
        Window {
            x0: i64::from(x1),
            y0: self.top - i64::from(y2),
            width: extent(x1, x2),
            height: extent(y1, y2),
        }
    }
}

/// Render scales outside this range are not scales a host means (zero, negative, 1e-300, infinite...).
const USABLE_SCALE: std::ops::RangeInclusive<f64> = 1e-3..=1e3;

/// The render scale to trust: the first usable candidate (action arguments, then the image) under
/// which the image's bounds fit in the scaled project frame — Fusion reports 1/3 in one and 3 in the
/// other while scrubbing. If none fits, the scale that makes the bounds cover the frame.
fn pick_scale(candidates: [Option<[f64; 2]>; 2], bounds: OfxRectI, frame: (f64, f64)) -> [f64; 2] {
    let fits = |s: &[f64; 2]| {
        USABLE_SCALE.contains(&s[0])
            && USABLE_SCALE.contains(&s[1])
            && f64::from(bounds.x2) <= (frame.0 * s[0]).ceil() + 1.0
            && f64::from(bounds.y2) <= (frame.1 * s[1]).ceil() + 1.0
    };
    candidates
        .into_iter()
        .flatten()
        .find(fits)
        .unwrap_or_else(|| {
            let from = |extent: i32, size: f64| {
                if size > 0.0 {
                    (f64::from(extent.max(1)) / size)
                        .clamp(*USABLE_SCALE.start(), *USABLE_SCALE.end())
                } else {
                    1.0
                }
            };
            [from(bounds.x2, frame.0), from(bounds.y2, frame.1)]
        })
}

/// The render window clipped to the image's bounds.
fn clip_rect([x1, y1, x2, y2]: [i32; 4], image: &Image) -> [i32; 4] {
    let b = image.bounds;
    [x1.max(b.x1), y1.max(b.y1), x2.min(b.x2), y2.min(b.y2)]
}

fn write_window(image: &mut Image, canvas: &Canvas, window: Window, rgba: &[f32]) {
    let (depth, components, bgr) = (image.depth, image.components, image.bgr);
    let x1 = window.x0 as i32;
    let x2 = x1 + window.width as i32;
    for row in 0..window.height {
        let y = (canvas.top - window.y0 - 1 - row as i64) as i32;
        if let Some(dst) = image.row_mut(y, x1, x2) {
            let src = &rgba[row * window.width * 4..(row + 1) * window.width * 4];
            encode_row(src, depth, components, bgr, dst);
        }
    }
}

/// Placeholders are drawn small (at most 256 pixels a side) and scaled like a real clip.
fn preview_size(width: u32, height: u32) -> (usize, usize) {
    let (w, h) = (width.max(1) as f64, height.max(1) as f64);
    let s = (256.0 / w.max(h)).min(1.0);
    (
        (w * s).round().max(1.0) as usize,
        (h * s).round().max(1.0) as usize,
    )
}

/// What decides a resized frame besides the clip and frame index.
fn spec_bytes(p: &Placement, w: Window, transfer: Transfer) -> Vec<u8> {
    [p.scale_x, p.scale_y, p.offset_x, p.offset_y]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .chain(
            [w.x0, w.y0, w.width as i64, w.height as i64]
                .iter()
                .flat_map(|v| v.to_le_bytes()),
        )
        .chain([transfer as u8])
        .collect()
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Error(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> Project {
        Project::new((1920.0, 1080.0), 1.0, 24.0).unwrap()
    }

    #[test]
    fn render_windows_become_top_down_canvas_windows() {
        let canvas = Canvas::new(&project(), [0.5, 0.5]);
        assert_eq!(canvas.size, (960.0, 540.0));
        // The bottom 10 rows of the half-scale frame are the last 10 canvas rows.
        assert_eq!(
            canvas.window([0, 0, 960, 10]),
            Window {
                x0: 0,
                y0: 530,
                width: 960,
                height: 10
            }
        );
        assert_eq!(canvas.window([100, 530, 50, 540]).width, 0);
        let all = canvas.window([i32::MIN, i32::MIN, i32::MAX, i32::MAX]);
        assert_eq!(
            (all.width, all.height),
            (u32::MAX as usize, u32::MAX as usize)
        );
    }

    #[test]
    fn trusts_the_scale_the_image_bounds_agree_with() {
        let frame = (1920.0, 1080.0);
        let rect = |x2, y2| OfxRectI {
            x1: 0,
            y1: 0,
            x2,
            y2,
        };
        let third = Some([1.0 / 3.0; 2]);
        assert_eq!(
            pick_scale([third, Some([3.0; 2])], rect(640, 360), frame),
            [1.0 / 3.0; 2]
        );
        assert_eq!(
            pick_scale([Some([3.0; 2]), third], rect(640, 360), frame),
            [3.0; 2]
        );
        assert_eq!(
            pick_scale([Some([1.0; 2]), None], rect(1920, 1080), frame),
            [1.0; 2]
        );
        assert_eq!(
            pick_scale([None, Some([0.5; 2])], rect(960, 540), frame),
            [0.5; 2]
        );
        assert_eq!(
            pick_scale([Some([0.25; 2]), None], rect(960, 540), frame),
            [0.5, 0.5]
        );
        assert_eq!(
            pick_scale([None, None], rect(1920, 1080), frame),
            [1.0, 1.0]
        );
        for absurd in [0.0, -1.0, 1e-300, f64::NAN, f64::INFINITY] {
            assert_eq!(
                pick_scale(
                    [Some([absurd; 2]), Some([absurd; 2])],
                    rect(960, 540),
                    frame
                ),
                [0.5, 0.5],
                "{absurd}"
            );
        }
        assert_eq!(pick_scale([None, None], rect(1, 1), (1e9, 1e9)), [1e-3; 2]);
    }

    #[test]
    fn anamorphic_projects_count_pixels_not_canonical_units() {
        let p = Project::new((1024.0, 576.0), 1024.0 / 720.0, 24.0).unwrap();
        let (w, h) = p.pixels();
        assert!((w - 720.0).abs() < 1e-9 && h == 576.0);
    }

    #[test]
    fn placeholders_are_small_with_the_clip_aspect() {
        assert_eq!(preview_size(1024, 576), (256, 144));
        assert_eq!(preview_size(64, 48), (64, 48));
        assert_eq!(preview_size(0, 0), (1, 1));
        assert_eq!(preview_size(8, 8192), (1, 256));
    }

    #[test]
    fn resize_specs_differ_when_the_window_or_placement_does() {
        let p = place(crate::fit::FitMode::Fit, (64, 48), (1920.0, 1080.0), 1.0);
        let w = Window {
            x0: 0,
            y0: 0,
            width: 10,
            height: 10,
        };
        let moved = Window { x0: 1, ..w };
        let srgb = Transfer::Srgb;
        assert_ne!(spec_bytes(&p, w, srgb), spec_bytes(&p, moved, srgb));
        assert_ne!(spec_bytes(&p, w, srgb), spec_bytes(&p, w, Transfer::Linear));
        assert_eq!(spec_bytes(&p, w, srgb), spec_bytes(&p, w, srgb));
    }
}
