//! Where the generated frame sits on the output canvas: fit (letterbox), fill (crop) or stretch, with
//! the canvas's pixel aspect ratio taken into account so circles stay round on anamorphic projects.

/// `fitMode` choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FitMode {
    Fit,
    Fill,
    Stretch,
}

impl FitMode {
    pub fn from_index(index: i32) -> FitMode {
        match index {
            1 => FitMode::Fill,
            2 => FitMode::Stretch,
            _ => FitMode::Fit,
        }
    }
}

/// Maps source pixel coordinates to canvas pixel coordinates (both top row first):
/// `canvas = source * scale + offset` per axis, on pixel edges (pixel `i` spans `[i, i+1)`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placement {
    pub scale_x: f64,
    pub scale_y: f64,
    pub offset_x: f64,
    pub offset_y: f64,
}

impl Placement {
    /// Source pixels land on whole canvas pixels at their own size: resampling only copies.
    pub fn is_pixel_aligned(&self) -> bool {
        self.scale_x == 1.0
            && self.scale_y == 1.0
            && self.offset_x.fract() == 0.0
            && self.offset_y.fract() == 0.0
    }
}

/// Places a `src_w`×`src_h` image (square pixels) centred on a `canvas_w`×`canvas_h` canvas whose pixels
/// are `pixel_aspect` times as wide as they are tall.
pub fn place(
    mode: FitMode,
    (src_w, src_h): (usize, usize),
    (canvas_w, canvas_h): (f64, f64),
    pixel_aspect: f64,
) -> Placement {
    let (sw, sh) = (src_w.max(1) as f64, src_h.max(1) as f64);
    let par = if pixel_aspect > 0.0 {
        pixel_aspect
    } else {
        1.0
    };
    let (scale_x, scale_y) = match mode {
        FitMode::Stretch => (canvas_w / sw, canvas_h / sh),
        FitMode::Fit | FitMode::Fill => {
            // In display units the canvas is canvas_w·par wide.
            let sx = canvas_w * par / sw;
            let sy = canvas_h / sh;
            let s = if mode == FitMode::Fit {
                sx.min(sy)
            } else {
                sx.max(sy)
            };
            (s / par, s)
        }
    };
    Placement {
        scale_x,
        scale_y,
        offset_x: (canvas_w - sw * scale_x) / 2.0,
        offset_y: (canvas_h - sh * scale_y) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_letterboxes_a_square_on_a_wide_canvas() {
        let p = place(FitMode::Fit, (256, 256), (1920.0, 1080.0), 1.0);
        assert_eq!(p.scale_x, 1080.0 / 256.0);
        assert_eq!(p.scale_y, 1080.0 / 256.0);
        assert_eq!((p.offset_x, p.offset_y), (420.0, 0.0));
    }

    #[test]
    fn fill_crops_and_stretch_distorts() {
        let p = place(FitMode::Fill, (256, 256), (1920.0, 1080.0), 1.0);
        assert_eq!(p.scale_x, 7.5);
        assert_eq!((p.offset_x, p.offset_y), (0.0, -420.0));
        let p = place(FitMode::Stretch, (256, 128), (512.0, 512.0), 2.0);
        assert_eq!((p.scale_x, p.scale_y), (2.0, 4.0));
        assert_eq!((p.offset_x, p.offset_y), (0.0, 0.0));
    }

    #[test]
    fn honours_pixel_aspect() {
        // A 720x576 canvas with 16:15 pixels is 768 display units wide: a square source fits the height
        // and covers 576 display units = 540 canvas pixels.
        let p = place(FitMode::Fit, (64, 64), (720.0, 576.0), 16.0 / 15.0);
        assert!((64.0 * p.scale_x - 540.0).abs() < 1e-9);
        assert_eq!(64.0 * p.scale_y, 576.0);
        assert!((p.offset_x - 90.0).abs() < 1e-9);
        assert_eq!(FitMode::from_index(9), FitMode::Fit);
    }

    #[test]
    fn only_whole_pixel_shifts_at_scale_one_are_aligned() {
        assert!(place(FitMode::Fit, (32, 24), (32.0, 24.0), 1.0).is_pixel_aligned());
        assert!(place(FitMode::Fit, (32, 24), (64.0, 24.0), 1.0).is_pixel_aligned());
        assert!(!place(FitMode::Fit, (32, 24), (33.0, 24.0), 1.0).is_pixel_aligned());
        assert!(!place(FitMode::Fit, (32, 24), (16.0, 12.0), 1.0).is_pixel_aligned());
        assert!(!place(FitMode::Fit, (32, 24), (32.0, 24.0), 2.0).is_pixel_aligned());
        let nan = Placement {
            scale_x: 1.0,
            scale_y: 1.0,
            offset_x: f64::NAN,
            offset_y: 0.0,
        };
        assert!(!nan.is_pixel_aligned());
    }
}
