//! The Source clip (General context): the frames a video-to-video request starts from and the image a
//! clip starts from, fetched at the timeline times the timing maps the generated frames onto, converted
//! for the model (`source_pixels`) and put in the engine request, so the clip key covers exactly the
//! source pixels used. Settings that read no source (Strength 1, Start From None) fetch nothing and
//! key as plain text-to-video.

use std::sync::Arc;

use ofx_sys::*;
use t2v_engine::limits::MAX_TENSOR_VALUES;
use t2v_engine::SourceVideo;

use crate::job::{self, Job};
use crate::ofx::{
    c_string,
    effect::Effect,
    image::{Clip, Image},
    props::PropSet,
    Error, OfxStatus, Result,
};
use crate::project::Project;
use crate::render::{output_range, time_map};
use crate::resample::{RgbFrame, MAX_WINDOW_PIXELS};
use crate::settings::Settings;
use crate::source_pixels::{decode_row, to_generation};
use crate::start_from::StartFrom;
use crate::timing::TimeMap;
use crate::{colour_management, params};

/// The job for `settings`, with the Source frames its request reads (none when it reads none).
pub fn job(effect: &Effect, settings: &Settings, project: &Project) -> Result<Job> {
    let mut job = job::job(settings, project.pixels())?;
    if !settings.wants_source() {
        return Ok(job);
    }
    let Some(clip) = connected(effect) else {
        job.notes.extend(unconnected_notes(settings));
        return Ok(job);
    };
    let reader = Reader::new(effect, settings, project, &job, &clip)?;
    let frames = job.request.frames as usize;
    let map = time_map(
        settings,
        &job,
        project,
        output_range(&effect.clip(kOfxImageEffectOutputClipName)?),
    );
    if settings.strength < 1.0 {
        let frames = (0..frames)
            .map(|k| reader.read(map.time_of(k, frames)))
            .collect::<Result<Vec<_>>>()?;
        job.request.source = Some(SourceVideo {
            frames,
            strength: settings.strength,
        });
    }
    job.request.start_image = match start_time(settings, &map, frames) {
        None => None,
        // The clip's own first frame when the source video has it already.
        Some(_) if settings.start_from == StartFrom::ClipStart && job.request.source.is_some() => {
            job.request.source.as_ref().map(|s| s.frames[0].clone())
        }
        Some(time) => Some(reader.read(time)?),
    };
    job.recipe = job.package.recipe(&job.request);
    Ok(job)
}

/// GetFramesNeeded (General context): the Source frames a render reads, as ranges; the host's default
/// (the frame being rendered) when it reads none.
pub fn frames_needed(effect: &Effect, in_args: PropSet, out: PropSet) -> Result<OfxStatus> {
    let time = in_args.get_double(kOfxPropTime, 0)?;
    let settings = Settings::read(&effect.params()?, time)?;
    if !settings.wants_source() || connected(effect).is_none() {
        return Ok(kOfxStatReplyDefault);
    }
    let Ok((project, job)) =
        Project::read(effect).and_then(|p| job::job(&settings, p.pixels()).map(|job| (p, job)))
    else {
        return Ok(kOfxStatReplyDefault);
    };
    let frames = job.request.frames as usize;
    let output = effect.clip(kOfxImageEffectOutputClipName)?;
    let map = time_map(&settings, &job, &project, output_range(&output));
    let mut ranges = Vec::new();
    if settings.strength < 1.0 {
        ranges.extend([
            map.time_of(0, frames),
            map.time_of(frames.saturating_sub(1), frames),
        ]);
    }
    if let Some(t) = start_time(&settings, &map, frames) {
        ranges.extend([t, t]);
    }
    let name = format!(
        "{}{}",
        kOfxImageClipPropFrameRangePrefix.to_string_lossy(),
        kOfxImageEffectSimpleSourceClipName.to_string_lossy()
    );
    out.set_doubles(&c_string(&name), &ranges)?;
    Ok(kOfxStatOK)
}

/// The Source clip when the host has something connected to it (the Generator context has none).
fn connected(effect: &Effect) -> Option<Clip> {
    effect
        .clip(kOfxImageEffectSimpleSourceClipName)
        .ok()
        .filter(Clip::is_connected)
}

/// What the status line says when settings ask for a Source that is not connected.
fn unconnected_notes(settings: &Settings) -> Vec<String> {
    let mut notes = Vec::new();
    if settings.strength < 1.0 {
        notes.push(format!(
            "{} needs the Source input connected",
            params::label(params::names::STRENGTH)
        ));
    }
    if settings.start_from != StartFrom::None {
        notes.push(format!(
            "{} needs the Source input connected",
            params::label(params::names::START_FROM)
        ));
    }
    notes
}

/// The timeline time of the start image, if the settings ask for one.
fn start_time(settings: &Settings, map: &TimeMap, frames: usize) -> Option<f64> {
    match settings.start_from {
        StartFrom::None => None,
        StartFrom::ClipStart => Some(map.time_of(0, frames)),
        StartFrom::Frame => Some(f64::from(settings.start_frame)),
    }
}

/// Fetches Source frames and converts them to the request's size.
struct Reader<'c> {
    clip: &'c Clip,
    settings: &'c Settings,
    transfer: crate::transfer::Transfer,
    size: (usize, usize),
    pixel_aspect: f64,
}

impl<'c> Reader<'c> {
    /// Refuses requests whose source frames would exceed what the engine takes before any is fetched.
    fn new(
        effect: &Effect,
        settings: &'c Settings,
        project: &Project,
        job: &Job,
        clip: &'c Clip,
    ) -> Result<Reader<'c>> {
        let size = (job.request.width as usize, job.request.height as usize);
        let frames = job.request.frames as usize + 1;
        let values = size
            .0
            .checked_mul(size.1)
            .and_then(|p| p.checked_mul(3 * frames));
        if values.is_none_or(|v| v > MAX_TENSOR_VALUES) {
            return Err(Error::failed(format!(
                "{} Source frames of {}×{} are more than the engine takes",
                frames - 1,
                size.0,
                size.1
            )));
        }
        Ok(Reader {
            clip,
            settings,
            transfer: colour_management::render_transfer(effect, clip.props(), settings.transfer),
            size,
            pixel_aspect: project.pixel_aspect,
        })
    }

    /// The Source frame at `time` at the generation size (the image is released before returning).
    fn read(&self, time: f64) -> Result<Arc<[f32]>> {
        let image = self.clip.image(time).map_err(|e| {
            Error::failed(format!(
                "cannot read the Source input at frame {time}: {}",
                e.message
            ))
        })?;
        let rgb = rows(&image)?;
        let b = image.bounds;
        let src = RgbFrame {
            width: (i64::from(b.x2) - i64::from(b.x1)) as usize,
            height: (i64::from(b.y2) - i64::from(b.y1)) as usize,
            pixels: &rgb,
        };
        Ok(Arc::from(to_generation(
            src,
            self.transfer,
            self.settings.fit,
            self.size,
            self.pixel_aspect,
        )))
    }
}

/// The image's pixels as RGB 0..1, top row first; its size is checked before allocating.
fn rows(image: &Image) -> Result<Vec<f32>> {
    let b = image.bounds;
    let extent = |from: i32, to: i32| (i64::from(to) - i64::from(from)).max(0) as usize;
    let (width, height) = (extent(b.x1, b.x2), extent(b.y1, b.y2));
    if width == 0 || height == 0 {
        return Err(Error::failed("the Source input gave an empty frame"));
    }
    if width.saturating_mul(height) > MAX_WINDOW_PIXELS {
        return Err(Error::failed(format!(
            "the Source frame of {width}×{height} pixels is too large (at most {MAX_WINDOW_PIXELS} pixels)"
        )));
    }
    let mut rgb = Vec::with_capacity(width * height * 3);
    for row in (b.y1..b.y2).rev().filter_map(|y| image.row(y)) {
        decode_row(row, image.depth, image.components, image.bgr, &mut rgb)
            .map_err(Error::failed)?;
    }
    Ok(rgb)
}
