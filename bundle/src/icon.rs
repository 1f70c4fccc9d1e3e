//! The plugin icon (`Resources/<plugin id>.png`), drawn procedurally: a film-strip frame around a
//! diagonal gradient with a play triangle, so no binary asset lives in the repository.

pub const SIZE: u32 = 128;

/// RGBA pixels of the icon, `SIZE`×`SIZE`, top row first.
pub fn pixels() -> Vec<u8> {
    let n = SIZE as usize;
    let mut rgba = Vec::with_capacity(n * n * 4);
    for y in 0..n {
        for x in 0..n {
            rgba.extend_from_slice(&pixel(x as f32 + 0.5, y as f32 + 0.5));
        }
    }
    rgba
}

fn pixel(x: f32, y: f32) -> [u8; 4] {
    let s = SIZE as f32;
    let strip = s * 0.125;
    // Film-strip borders with sprocket holes at top and bottom.
    if y < strip || y > s - strip {
        let hole = (x / (s / 8.0)).fract();
        let row = if y < strip {
            y / strip
        } else {
            (s - y) / strip
        };
        let is_hole = (0.3..0.7).contains(&hole) && (0.3..0.7).contains(&row);
        return if is_hole {
            [240, 240, 240, 255]
        } else {
            [24, 24, 28, 255]
        };
    }
    // Play triangle in the middle.
    let (cx, cy) = (s * 0.5, s * 0.5);
    let (dx, dy) = (x - cx, y - cy);
    let half = s * 0.2;
    if dx > -half * 0.8 && dx < half && dy.abs() < (half - dx) * 0.58 {
        return [255, 255, 255, 255];
    }
    // Diagonal gradient from violet to orange.
    let t = ((x + y) / (2.0 * s)).clamp(0.0, 1.0);
    let mix = |a: f32, b: f32| (a + (b - a) * t).round() as u8;
    [mix(96.0, 250.0), mix(64.0, 140.0), mix(220.0, 60.0), 255]
}

/// The icon encoded as an 8-bit RGBA PNG.
pub fn png_bytes() -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, SIZE, SIZE);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| format!("icon: {e}"))?;
    writer
        .write_image_data(&pixels())
        .map_err(|e| format!("icon: {e}"))?;
    writer.finish().map_err(|e| format!("icon: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_back_to_the_drawn_pixels() {
        let bytes = png_bytes().unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (SIZE, SIZE));
        assert_eq!(info.color_type, png::ColorType::Rgba);
        assert_eq!(&buf[..info.buffer_size()], pixels().as_slice());
    }

    #[test]
    fn has_a_dark_strip_a_white_triangle_and_a_gradient() {
        let px = pixels();
        let at = |x: usize, y: usize| {
            let i = (y * SIZE as usize + x) * 4;
            [px[i], px[i + 1], px[i + 2], px[i + 3]]
        };
        assert_eq!(at(0, 0), [24, 24, 28, 255]);
        assert_eq!(at(64, 64), [255, 255, 255, 255]);
        let left = at(5, 30);
        let right = at(122, 100);
        assert!(left[2] > left[0], "violet on the top left: {left:?}");
        assert!(right[0] > right[2], "orange on the bottom right: {right:?}");
    }
}
