//! The project as the instance sees it (size, pixel aspect ratio, frame rate), checked: hosts and
//! scripted project files can hand out zero, negative, non-finite or absurd values, and everything
//! downstream (canvas, resampling, generation size) is sized from these.

use ofx_sys::*;

use crate::ofx::{effect::Effect, Error, Result};

/// Largest project side, in pixels, that the plugin renders (beyond any editor's frame sizes; keeps
/// every canvas coordinate and size product far from overflowing).
pub const MAX_SIDE: f64 = 65_536.0;
/// Usable pixel aspect ratios (anamorphic formats are 0.5 to 2).
const PIXEL_ASPECT: (f64, f64) = (0.01, 100.0);
/// Frame rates above this are not a project's (the time domain, in frames, grows with it).
const MAX_FPS: f64 = 1000.0;

pub struct Project {
    /// Project extent in canonical coordinates.
    pub extent: (f64, f64),
    pub pixel_aspect: f64,
    pub fps: f64,
}

impl Project {
    pub fn read(effect: &Effect) -> Result<Project> {
        let props = effect.props()?;
        let [w, h] = props.get_doubles::<2>(kOfxImageEffectPropProjectExtent)?;
        let par = props
            .get_double(kOfxImageEffectPropProjectPixelAspectRatio, 0)
            .unwrap_or(1.0);
        let fps = props
            .get_double(kOfxImageEffectPropFrameRate, 0)
            .unwrap_or(24.0);
        Project::new((w, h), par, fps)
    }

    /// Checks what the host said: a missing (0) pixel aspect ratio is square, a missing or unusable
    /// frame rate 24; an empty (0) extent is allowed and renders nothing.
    pub fn new(extent: (f64, f64), pixel_aspect: f64, fps: f64) -> Result<Project> {
        let pixel_aspect = if pixel_aspect == 0.0 {
            1.0
        } else {
            pixel_aspect
        };
        if !(PIXEL_ASPECT.0..=PIXEL_ASPECT.1).contains(&pixel_aspect) {
            return Err(Error::failed(format!(
                "the project's pixel aspect ratio {pixel_aspect:?} is not usable (expected {} to {})",
                PIXEL_ASPECT.0, PIXEL_ASPECT.1
            )));
        }
        let project = Project {
            extent,
            pixel_aspect,
            fps: if fps > 0.0 && fps <= MAX_FPS {
                fps
            } else {
                24.0
            },
        };
        let (pw, ph) = project.pixels();
        let usable = |v: f64| (0.0..=MAX_SIDE).contains(&v);
        if !(usable(pw) && usable(ph)) {
            return Err(Error::failed(format!(
                "the project size {:?}×{:?} is not usable (expected 0 to {MAX_SIDE} pixels a side)",
                extent.0, extent.1
            )));
        }
        Ok(project)
    }

    /// Project size in pixels at full resolution.
    pub fn pixels(&self) -> (f64, f64) {
        (self.extent.0 / self.pixel_aspect, self.extent.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(r: Result<Project>) -> String {
        r.err().expect("refused").message
    }

    #[test]
    fn usable_projects_pass_and_defaults_fill_in() {
        let p = Project::new((1920.0, 1080.0), 0.0, f64::NAN).unwrap();
        assert_eq!((p.pixel_aspect, p.fps), (1.0, 24.0));
        let empty = Project::new((0.0, 0.0), 1.0, 25.0).unwrap();
        assert_eq!((empty.pixels(), empty.fps), ((0.0, 0.0), 25.0));
        for fps in [-1.0, 1e300, f64::INFINITY] {
            assert_eq!(
                Project::new((8.0, 8.0), 1.0, fps).unwrap().fps,
                24.0,
                "{fps}"
            );
        }
    }

    #[test]
    fn degenerate_and_absurd_projects_are_refused_with_a_reason() {
        assert_eq!(
            message(Project::new((1920.0, 1080.0), 1e-300, 24.0)),
            "the project's pixel aspect ratio 1e-300 is not usable (expected 0.01 to 100)"
        );
        for par in [-1.0, f64::NAN, f64::INFINITY] {
            assert!(Project::new((64.0, 64.0), par, 24.0).is_err(), "{par}");
        }
        assert_eq!(
            message(Project::new((1e30, 1e30), 1.0, 24.0)),
            "the project size 1e30×1e30 is not usable (expected 0 to 65536 pixels a side)"
        );
        for extent in [
            (-2.0, -2.0),
            (f64::NAN, 8.0),
            (8.0, f64::INFINITY),
            (70_000.0, 8.0),
        ] {
            assert!(Project::new(extent, 1.0, 24.0).is_err(), "{extent:?}");
        }
    }
}
