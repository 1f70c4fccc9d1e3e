//! The plugin's Lanczos-3 `resample` against `fast_image_resize` (Lanczos3, f32 RGB), single-threaded, on
//! frames the plugin really places: prints one Markdown table with both medians, their ratio and the largest
//! difference between the two pictures near the frame's edges (4 source pixels, at least 4 canvas pixels) and
//! everywhere else. They differ only where the kernel meets the edge: the plugin repeats the edge pixel,
//! `fast_image_resize` drops the taps outside and renormalises.
//!
//!     resample_vs_fir [--rounds N]
//!
//! Both sides produce what the plugin hands the host: the whole RGBA f32 canvas, the placed frame opaque and
//! clamped to 0..1, bars transparent. `fast_image_resize` resizes to the placed rectangle (whole pixels in
//! every case here) and that is copied into the canvas; its RGB input is built outside the timing.

// The plugin's own files, compiled as they are, so the figures are those of the shipping code without
// widening the plugin's public API; the benchmark uses only part of them.
#[allow(dead_code)]
#[path = "../../../plugin/src/fit.rs"]
mod fit;
#[allow(dead_code)]
#[path = "../../../plugin/src/resample.rs"]
mod resample;
#[allow(dead_code)]
#[path = "../../../plugin/src/transfer.rs"]
mod transfer;

use std::process::ExitCode;

use benchmarks::measure::time_median;
use benchmarks::setup::exit_with;
use clap::Parser;
use fast_image_resize::images::{TypedImage, TypedImageRef};
use fast_image_resize::pixels::F32x3;
use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use fit::{place, FitMode, Placement};
use resample::{resample, RgbFrame, Window};

#[derive(Parser)]
#[command(
    about = "The plugin's Lanczos-3 resampler against fast_image_resize; prints a Markdown table"
)]
struct Args {
    /// Timed rounds per case, after one warm-up round.
    #[arg(long, value_name = "N", default_value_t = 5)]
    rounds: usize,
}

/// Width and height in pixels.
type Size = (usize, usize);

/// (source size, canvas size, placement): generated frames on common project sizes.
const CASES: [(Size, Size, FitMode); 3] = [
    ((256, 256), (1920, 1080), FitMode::Fit),
    ((1024, 576), (3840, 2160), FitMode::Fit),
    ((1024, 576), (480, 270), FitMode::Fit),
];

/// A smooth test picture with detail in every channel (interleaved RGB, 0..1).
fn picture(width: usize, height: usize) -> Vec<f32> {
    (0..height * width)
        .flat_map(|i| {
            let (x, y) = ((i % width) as f32, (i / width) as f32);
            [
                0.5 + 0.5 * (x * 0.11).sin(),
                0.5 + 0.5 * (y * 0.07).cos(),
                ((x + y) * 0.013).fract(),
            ]
        })
        .collect()
}

/// The canvas rectangle `placement` covers, in whole pixels: (x0, y0, width, height).
fn placed_rect(src: (usize, usize), p: &Placement) -> Result<(usize, usize, usize, usize), String> {
    let (w, h) = (src.0 as f64 * p.scale_x, src.1 as f64 * p.scale_y);
    let whole = |v: f64| match v >= 0.0 && v.fract() == 0.0 {
        true => Ok(v as usize),
        false => Err(format!("{p:?} does not cover whole pixels")),
    };
    Ok((whole(p.offset_x)?, whole(p.offset_y)?, whole(w)?, whole(h)?))
}

/// `fast_image_resize` into the placed rectangle, then the canvas the plugin returns.
fn fir_canvas(
    resizer: &mut Resizer,
    src: &TypedImageRef<F32x3>,
    rect: (usize, usize, usize, usize),
    canvas: (usize, usize),
) -> Result<Vec<f32>, String> {
    let (x0, y0, w, h) = rect;
    let mut dst = TypedImage::<F32x3>::new(w as u32, h as u32);
    let lanczos = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    resizer
        .resize_typed(src, &mut dst, &lanczos)
        .map_err(|e| e.to_string())?;
    let mut out = vec![0f32; canvas.0 * canvas.1 * 4];
    for (y, row) in dst.pixels().chunks_exact(w).enumerate() {
        let start = ((y0 + y) * canvas.0 + x0) * 4;
        for (px, rgb) in out[start..start + w * 4].chunks_exact_mut(4).zip(row) {
            let [r, g, b] = rgb.0;
            px.copy_from_slice(&[r.clamp(0.0, 1.0), g.clamp(0.0, 1.0), b.clamp(0.0, 1.0), 1.0]);
        }
    }
    Ok(out)
}

/// The largest difference between two canvases near the placed rectangle's edges (4 source pixels, at least
/// 4 canvas pixels), and elsewhere.
fn differences(
    a: &[f32],
    b: &[f32],
    (x0, y0, w, h): (usize, usize, usize, usize),
    canvas_width: usize,
    scale: f64,
) -> (f32, f32) {
    let margin = (4.0 * scale.max(1.0)).ceil() as usize;
    let (mut edge, mut inside) = (0f32, 0f32);
    for (i, (pa, pb)) in a.chunks_exact(4).zip(b.chunks_exact(4)).enumerate() {
        let (x, y) = (i % canvas_width, i / canvas_width);
        let interior = (x0 + margin..x0 + w.saturating_sub(margin)).contains(&x)
            && (y0 + margin..y0 + h.saturating_sub(margin)).contains(&y);
        let d = pa
            .iter()
            .zip(pb)
            .map(|(u, v)| (u - v).abs())
            .fold(0f32, f32::max);
        let slot = if interior { &mut inside } else { &mut edge };
        *slot = slot.max(d);
    }
    (edge, inside)
}

fn run(args: Args) -> Result<(), String> {
    println!("| resample (Lanczos-3, RGB → RGBA f32 canvas) | plugin `resample` | fast_image_resize | fast_image_resize / plugin | largest difference |");
    println!("|---|---|---|---|---|");
    for ((sw, sh), (cw, ch), mode) in CASES {
        let pixels = picture(sw, sh);
        let frame = RgbFrame {
            width: sw,
            height: sh,
            pixels: &pixels,
        };
        let placement = place(mode, (sw, sh), (cw as f64, ch as f64), 1.0);
        let window = Window {
            x0: 0,
            y0: 0,
            width: cw,
            height: ch,
        };
        let rgb: Vec<F32x3> = pixels
            .chunks_exact(3)
            .map(|c| F32x3::new([c[0], c[1], c[2]]))
            .collect();
        let src = TypedImageRef::new(sw as u32, sh as u32, &rgb).map_err(|e| e.to_string())?;
        let rect = placed_rect((sw, sh), &placement)?;
        let mut resizer = Resizer::new();

        let ours = resample(frame, &placement, window);
        let theirs = fir_canvas(&mut resizer, &src, rect, (cw, ch))?;
        let (edge, inside) = differences(&ours, &theirs, rect, cw, placement.scale_x);
        let ours_time = time_median(args.rounds, || {
            std::hint::black_box(resample(frame, &placement, window));
            Ok::<_, String>(())
        })?;
        let theirs_time = time_median(args.rounds, || {
            std::hint::black_box(fir_canvas(&mut resizer, &src, rect, (cw, ch))?);
            Ok::<_, String>(())
        })?;
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        println!(
            "| {sw}×{sh} → {cw}×{ch} ({mode:?}) | {:.1} ms | {:.1} ms | {:.2}× | {edge:.4} near the edges, {inside:.1e} inside |",
            ms(ours_time),
            ms(theirs_time),
            theirs_time.as_secs_f64() / ours_time.as_secs_f64(),
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    exit_with(run(Args::parse()))
}
