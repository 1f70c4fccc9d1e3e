//! Separable Lanczos-3 resampling of a generated frame into a window of the output canvas. Downscaling
//! widens the kernel (so thumbnails and proxy renders don't alias); pixels outside the placed frame are
//! transparent black. Pixels are mixed in linear light ([`resample_to`]): averaging sRGB codes darkens
//! every edge and fine detail.

use crate::fit::Placement;
use crate::transfer::{self, Transfer};

/// An RGB frame, interleaved, 0..1, top row first (the engine's and the cache's layout).
#[derive(Clone, Copy)]
pub struct RgbFrame<'a> {
    pub width: usize,
    pub height: usize,
    pub pixels: &'a [f32],
}

/// The most pixels one render window may have: its RGBA f32 buffer is 16 bytes a pixel (1 GiB here).
/// Callers check before resampling.
pub const MAX_WINDOW_PIXELS: usize = 1 << 26;

/// A rectangle of canvas pixels, top row first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub x0: i64,
    pub y0: i64,
    pub width: usize,
    pub height: usize,
}

const LOBES: f64 = 3.0;

/// Exactly 0 at every integer but 0 (the sine's rounding would leave about 1e-17 there), so a
/// pixel-aligned copy takes exactly one tap.
fn lanczos3(x: f64) -> f64 {
    if x == 0.0 {
        return 1.0;
    }
    if x.abs() >= LOBES || x.fract() == 0.0 {
        return 0.0;
    }
    let px = std::f64::consts::PI * x;
    LOBES * px.sin() * (px / LOBES).sin() / (px * px)
}

/// Source taps for one output pixel along one axis.
struct Taps {
    first: usize,
    weights: Vec<f32>,
    inside: bool,
}

/// Taps for output pixels `start..start+count` of an axis where `out = src * scale + offset`. Only
/// pixels inside the placed source get taps, and the kernel is never wider than the source, so a
/// degenerate placement (zero, negative, tiny or non-finite scale) costs at most a few taps per pixel
/// of the source.
fn axis_taps(src_len: usize, scale: f64, offset: f64, start: i64, count: usize) -> Vec<Taps> {
    let usable = scale.is_finite() && scale > 0.0 && offset.is_finite() && src_len > 0;
    let stretch = if scale < 1.0 {
        (1.0 / scale).min(src_len as f64)
    } else {
        1.0
    };
    let support = LOBES * stretch;
    (0..count)
        .map(|i| {
            let edge = ((start + i as i64) as f64 + 0.5 - offset) / scale;
            let inside = usable && (0.0..src_len as f64).contains(&edge);
            if !inside {
                return Taps {
                    first: 0,
                    weights: Vec::new(),
                    inside,
                };
            }
            let centre = edge - 0.5;
            let lo = (centre - support).floor() as i64 + 1;
            let hi = (centre + support).ceil() as i64 - 1;
            let first = lo.clamp(0, src_len as i64 - 1);
            let last = hi.clamp(0, src_len as i64 - 1);
            let mut weights = vec![0f64; (last - first + 1) as usize];
            for k in lo..=hi {
                let w = lanczos3((k as f64 - centre) / stretch);
                let idx = k.clamp(first, last) - first;
                weights[idx as usize] += w;
            }
            let sum: f64 = weights.iter().sum();
            let norm = if sum.abs() > 1e-12 { sum } else { 1.0 };
            Taps {
                first: first as usize,
                weights: weights.iter().map(|w| (w / norm) as f32).collect(),
                inside,
            }
        })
        .collect()
}

/// Renders `window` of the canvas in `transfer` from an sRGB frame: RGBA f32, `window.width *
/// window.height * 4`, top row first. Where output pixels mix source pixels the frame is filtered in
/// linear light (and encoded again for sRGB output); a pixel-aligned placement at the generated size
/// copies the source values exactly.
pub fn resample_to(
    src: RgbFrame,
    placement: &Placement,
    window: Window,
    transfer: Transfer,
) -> Vec<f32> {
    if placement.is_pixel_aligned() {
        let mut out = resample(src, placement, window);
        if transfer == Transfer::Linear {
            transfer::map_rgba(&mut out, transfer::srgb_to_linear);
        }
        return out;
    }
    let linear = transfer::decode_rgb(src.pixels);
    let mut out = resample(
        RgbFrame {
            pixels: &linear,
            ..src
        },
        placement,
        window,
    );
    if transfer == Transfer::Srgb {
        transfer::map_rgba(&mut out, transfer::encode);
    }
    out
}

/// Renders `window` of the canvas: RGBA f32, `window.width * window.height * 4`, top row first; values
/// filtered as they come (the resampler alone, as `benchmarks`' comparison with `fast_image_resize` runs it).
pub fn resample(src: RgbFrame, placement: &Placement, window: Window) -> Vec<f32> {
    let mut out = vec![0f32; window.width * window.height * 4];
    if src.width == 0 || src.height == 0 || src.pixels.len() < src.width * src.height * 3 {
        return out;
    }
    let cols = axis_taps(
        src.width,
        placement.scale_x,
        placement.offset_x,
        window.x0,
        window.width,
    );
    let rows = axis_taps(
        src.height,
        placement.scale_y,
        placement.offset_y,
        window.y0,
        window.height,
    );
    // Horizontal pass over the source rows the vertical taps need, memoised per source row; the vertical
    // pass accumulates whole rows so the inner loop runs over contiguous memory.
    let mut horizontal: Vec<Option<Vec<f32>>> = vec![None; src.height];
    let mut acc = vec![0f32; window.width * 3];
    for (oy, row_taps) in rows.iter().enumerate() {
        if !row_taps.inside {
            continue;
        }
        acc.fill(0.0);
        for (k, &w) in row_taps.weights.iter().enumerate() {
            let sy = row_taps.first + k;
            let filtered = horizontal[sy].get_or_insert_with(|| filter_row(src, sy, &cols));
            for (a, v) in acc.iter_mut().zip(filtered.iter()) {
                *a += w * v;
            }
        }
        let line = &mut out[oy * window.width * 4..(oy + 1) * window.width * 4];
        for ((px, rgb), col_taps) in line.chunks_exact_mut(4).zip(acc.chunks_exact(3)).zip(&cols) {
            if col_taps.inside {
                px[0] = rgb[0].clamp(0.0, 1.0);
                px[1] = rgb[1].clamp(0.0, 1.0);
                px[2] = rgb[2].clamp(0.0, 1.0);
                px[3] = 1.0;
            }
        }
    }
    out
}

/// One source row filtered horizontally to the window's columns (RGB).
fn filter_row(src: RgbFrame, sy: usize, cols: &[Taps]) -> Vec<f32> {
    let row = &src.pixels[sy * src.width * 3..(sy + 1) * src.width * 3];
    let mut out = vec![0f32; cols.len() * 3];
    for (ox, taps) in cols.iter().enumerate() {
        if !taps.inside {
            continue;
        }
        for (k, &w) in taps.weights.iter().enumerate() {
            let sx = taps.first + k;
            for c in 0..3 {
                out[ox * 3 + c] += w * row[sx * 3 + c];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::{place, FitMode};

    fn frame(width: usize, height: usize, f: impl Fn(usize, usize) -> [f32; 3]) -> Vec<f32> {
        (0..height)
            .flat_map(|y| (0..width).map(move |x| (x, y)))
            .flat_map(|(x, y)| f(x, y))
            .collect()
    }

    fn whole(w: usize, h: usize) -> Window {
        Window {
            x0: 0,
            y0: 0,
            width: w,
            height: h,
        }
    }

    #[test]
    fn identity_scale_reproduces_the_source_bit_for_bit() {
        // Zeros next to other values: a kernel leaking 1e-17 at whole-pixel distances would show there.
        let px = frame(5, 4, |x, y| {
            [
                ((x * 7 + y * 3) % 5) as f32 / 4.0,
                (x * y % 3) as f32 / 2.0,
                0.1,
            ]
        });
        let src = RgbFrame {
            width: 5,
            height: 4,
            pixels: &px,
        };
        let p = place(FitMode::Stretch, (5, 4), (5.0, 4.0), 1.0);
        let srgb = resample_to(src, &p, whole(5, 4), Transfer::Srgb);
        let linear = resample_to(src, &p, whole(5, 4), Transfer::Linear);
        for (i, rgb) in px.chunks(3).enumerate() {
            assert_eq!(
                srgb[i * 4..i * 4 + 4],
                [rgb[0], rgb[1], rgb[2], 1.0],
                "pixel {i}"
            );
            let decoded = rgb.iter().map(|&v| transfer::srgb_to_linear(v));
            assert!(
                linear[i * 4..i * 4 + 3].iter().copied().eq(decoded),
                "pixel {i}"
            );
        }
    }

    #[test]
    fn a_hard_edge_downscaled_mixes_linear_light() {
        // Black left of x = 17, white from it: output pixel 8 of the half-size frame straddles the edge
        // symmetrically, so its value is the mean of black and white light.
        let px = frame(32, 4, |x, _| [(x >= 17) as u8 as f32; 3]);
        let src = RgbFrame {
            width: 32,
            height: 4,
            pixels: &px,
        };
        let p = place(FitMode::Stretch, (32, 4), (16.0, 2.0), 1.0);
        let srgb = resample_to(src, &p, whole(16, 2), Transfer::Srgb);
        let linear = resample_to(src, &p, whole(16, 2), Transfer::Linear);
        let mid = transfer::linear_to_srgb(0.5);
        assert!((mid - 0.735).abs() < 1e-3, "{mid}");
        for row in 0..2 {
            let at = |out: &[f32], x: usize| out[(row * 16 + x) * 4];
            assert!((at(&srgb, 8) - mid).abs() < 1e-4, "{}", at(&srgb, 8));
            assert!((at(&linear, 8) - 0.5).abs() < 1e-4, "{}", at(&linear, 8));
            assert_eq!(at(&srgb, 0), 0.0);
            assert!((at(&srgb, 15) - 1.0).abs() < 1e-6, "{}", at(&srgb, 15));
        }
    }

    #[test]
    fn flat_colour_stays_flat_at_any_scale() {
        let px = frame(7, 5, |_, _| [0.2, 0.5, 0.8]);
        let src = RgbFrame {
            width: 7,
            height: 5,
            pixels: &px,
        };
        for (w, h) in [(3, 2), (20, 13), (64, 5)] {
            let p = place(FitMode::Stretch, (7, 5), (w as f64, h as f64), 1.0);
            let out = resample(src, &p, whole(w, h));
            for o in out.chunks(4) {
                assert!(
                    (o[0] - 0.2).abs() < 1e-5 && (o[1] - 0.5).abs() < 1e-5,
                    "{o:?}"
                );
                assert!((o[2] - 0.8).abs() < 1e-5 && o[3] == 1.0, "{o:?}");
            }
        }
    }

    #[test]
    fn degenerate_placements_give_transparent_black_quickly() {
        let px = frame(4, 3, |_, _| [1.0, 1.0, 1.0]);
        let src = RgbFrame {
            width: 4,
            height: 3,
            pixels: &px,
        };
        let placement = |scale: f64, offset: f64| Placement {
            scale_x: scale,
            scale_y: scale,
            offset_x: offset,
            offset_y: offset,
        };
        for (scale, offset) in [
            (0.0, 0.0),
            (-2.0, 0.0),
            (f64::NAN, 0.0),
            (f64::INFINITY, 0.0),
            (1.0, f64::NAN),
            (1.0, 1e300),
        ] {
            let out = resample(src, &placement(scale, offset), whole(8, 6));
            assert!(out.iter().all(|&v| v == 0.0), "{scale} {offset}");
        }
        // the whole source shrinks into (part of) one pixel: covered at most there, never looping
        // over 1e300 taps
        for scale in [1e-300, 1e-3] {
            let out = resample(src, &placement(scale, 0.5 - scale), whole(3, 3));
            assert!(out[..4].iter().all(|v| (v - 1.0).abs() < 1e-6), "{scale}");
            assert!(out[4..].iter().all(|&v| v == 0.0), "{scale}");
        }
    }

    #[test]
    fn fit_leaves_transparent_bars() {
        let px = frame(4, 4, |_, _| [1.0, 1.0, 1.0]);
        let src = RgbFrame {
            width: 4,
            height: 4,
            pixels: &px,
        };
        let p = place(FitMode::Fit, (4, 4), (16.0, 8.0), 1.0);
        let out = resample(src, &p, whole(16, 8));
        let alpha = |x: usize, y: usize| out[(y * 16 + x) * 4 + 3];
        assert_eq!(alpha(0, 0), 0.0);
        assert_eq!(out[0..4], [0.0; 4]);
        assert_eq!(alpha(3, 4), 0.0);
        assert_eq!(alpha(4, 4), 1.0);
        assert_eq!(alpha(11, 7), 1.0);
        assert_eq!(alpha(12, 7), 0.0);
    }

    #[test]
    fn a_window_matches_the_same_pixels_of_the_full_canvas() {
        let px = frame(9, 6, |x, y| {
            [((x * 7 + y * 3) % 5) as f32 / 4.0, 0.5, y as f32 / 5.0]
        });
        let src = RgbFrame {
            width: 9,
            height: 6,
            pixels: &px,
        };
        let p = place(FitMode::Fill, (9, 6), (40.0, 30.0), 1.0);
        let full = resample(src, &p, whole(40, 30));
        let win = Window {
            x0: 13,
            y0: 7,
            width: 11,
            height: 5,
        };
        let part = resample(src, &p, win);
        for y in 0..5 {
            for x in 0..11 {
                let a = &part[(y * 11 + x) * 4..][..4];
                let b = &full[((y + 7) * 40 + x + 13) * 4..][..4];
                assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn downscaling_averages_instead_of_aliasing() {
        // A one-pixel checkerboard halved must come out close to mid grey everywhere.
        let px = frame(32, 32, |x, y| {
            let v = ((x + y) % 2) as f32;
            [v, v, v]
        });
        let src = RgbFrame {
            width: 32,
            height: 32,
            pixels: &px,
        };
        let p = place(FitMode::Stretch, (32, 32), (16.0, 16.0), 1.0);
        let out = resample(src, &p, whole(16, 16));
        for o in out.chunks(4) {
            assert!((o[0] - 0.5).abs() < 0.05, "{o:?}");
        }
    }

    #[test]
    fn upscaling_interpolates_a_ramp_monotonically() {
        let px = frame(4, 1, |x, _| {
            let v = x as f32 / 3.0;
            [v, v, v]
        });
        let src = RgbFrame {
            width: 4,
            height: 1,
            pixels: &px,
        };
        let p = place(FitMode::Stretch, (4, 1), (16.0, 1.0), 1.0);
        let out = resample(src, &p, whole(16, 1));
        let reds: Vec<f32> = out.chunks(4).map(|o| o[0]).collect();
        assert!(reds.windows(2).all(|w| w[1] >= w[0] - 1e-3), "{reds:?}");
        assert!(reds[0] < 0.05 && reds[15] > 0.95, "{reds:?}");
    }
}
