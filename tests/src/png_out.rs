//! PNG output for the render tool: single frames and a contact sheet (frames in a grid, each
//! labelled with its frame number in a small built-in digit font).

use crate::Image;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

/// Writes 8-bit RGBA pixels (top row first) as a PNG.
pub fn write_rgba8(path: &Path, width: usize, height: usize, rgba: &[u8]) -> std::io::Result<()> {
    let file = BufWriter::new(File::create(path)?);
    let mut encoder = png::Encoder::new(file, width as u32, height as u32);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
    writer
        .write_image_data(rgba)
        .map_err(std::io::Error::other)?;
    writer.finish().map_err(std::io::Error::other)
}

pub fn write_image(path: &Path, image: &Image) -> std::io::Result<()> {
    write_rgba8(path, image.width(), image.height(), &image.to_rgba8())
}

/// 3×5 glyphs for 0-9, one row per 3 bits (MSB left).
const DIGITS: [[u8; 5]; 10] = [
    [7, 5, 5, 5, 7],
    [2, 6, 2, 2, 7],
    [7, 1, 7, 4, 7],
    [7, 1, 3, 1, 7],
    [5, 5, 7, 1, 1],
    [7, 4, 7, 1, 7],
    [7, 4, 7, 5, 7],
    [7, 1, 1, 2, 2],
    [7, 5, 7, 5, 7],
    [7, 5, 7, 1, 7],
];

/// An RGBA canvas, top row first.
struct Canvas {
    width: usize,
    height: usize,
    rgba: Vec<u8>,
}

impl Canvas {
    fn fill_rect(&mut self, x: usize, y: usize, w: usize, h: usize, colour: [u8; 4]) {
        for row in y..(y + h).min(self.height) {
            for col in x..(x + w).min(self.width) {
                let i = (row * self.width + col) * 4;
                self.rgba[i..i + 4].copy_from_slice(&colour);
            }
        }
    }

    /// Draws `text` (digits only) at (x, y) with pixels of `size`, white on a black box.
    fn label(&mut self, x: usize, y: usize, size: usize, text: &str) {
        let digits: Vec<usize> = text
            .chars()
            .filter_map(|c| c.to_digit(10))
            .map(|d| d as usize)
            .collect();
        self.fill_rect(
            x,
            y,
            (digits.len() * 4 + 1) * size,
            7 * size,
            [0, 0, 0, 255],
        );
        for (n, d) in digits.iter().enumerate() {
            for (r, bits) in DIGITS[*d].iter().enumerate() {
                for c in 0..3 {
                    if bits & (4 >> c) != 0 {
                        self.fill_rect(
                            x + (1 + n * 4 + c) * size,
                            y + (1 + r) * size,
                            size,
                            size,
                            [255, 255, 255, 255],
                        );
                    }
                }
            }
        }
    }
}

/// Frames side by side in a grid of `columns`, 4-pixel gaps, each labelled with its number.
pub fn contact_sheet(frames: &[(usize, Image)], columns: usize) -> (usize, usize, Vec<u8>) {
    let columns = columns.max(1).min(frames.len().max(1));
    let rows = frames.len().div_ceil(columns);
    let cell_w = frames.iter().map(|(_, f)| f.width()).max().unwrap_or(0);
    let cell_h = frames.iter().map(|(_, f)| f.height()).max().unwrap_or(0);
    let gap = 4;
    let width = columns * cell_w + (columns + 1) * gap;
    let height = rows * cell_h + (rows + 1) * gap;
    let mut canvas = Canvas {
        width,
        height,
        rgba: [40u8, 40, 40, 255].repeat(width * height),
    };
    let size = (cell_h / 64).clamp(1, 4);
    for (i, (number, frame)) in frames.iter().enumerate() {
        let (x0, y0) = (
            gap + (i % columns) * (cell_w + gap),
            gap + (i / columns) * (cell_h + gap),
        );
        let pixels = frame.to_rgba8();
        for row in 0..frame.height() {
            let src = &pixels[row * frame.width() * 4..(row + 1) * frame.width() * 4];
            let start = ((y0 + row) * width + x0) * 4;
            canvas.rgba[start..start + src.len()].copy_from_slice(src);
        }
        canvas.label(x0, y0, size, &number.to_string());
    }
    (width, height, canvas.rgba)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Components, Samples};
    use ofx_sys::OfxRectI;

    fn solid(value: u8) -> Image {
        Image {
            bounds: OfxRectI {
                x1: 0,
                y1: 0,
                x2: 20,
                y2: 10,
            },
            components: Components::Rgb,
            samples: Samples::Byte(vec![value; 20 * 10 * 3]),
        }
    }

    #[test]
    fn sheet_places_frames_in_a_grid_with_labels() {
        let frames = vec![(0, solid(200)), (1, solid(100)), (2, solid(50))];
        let (w, h, rgba) = contact_sheet(&frames, 2);
        assert_eq!((w, h), (2 * 20 + 3 * 4, 2 * 10 + 3 * 4));
        let at = |x: usize, y: usize| &rgba[(y * w + x) * 4..(y * w + x) * 4 + 4];
        assert_eq!(at(0, 0), [40, 40, 40, 255]); // gap
        assert_eq!(at(4 + 19, 4 + 9), [200, 200, 200, 255]); // frame 0, away from its label
        assert_eq!(at(4 + 20 + 4 + 19, 4 + 9), [100, 100, 100, 255]); // frame 1
        assert_eq!(at(4 + 19, 4 + 10 + 4 + 9), [50, 50, 50, 255]); // frame 2, second row
        assert_eq!(at(4, 4), [0, 0, 0, 255]); // label box
        assert_eq!(at(5, 5), [255, 255, 255, 255]); // top-left pixel of the "0" glyph
    }
}
