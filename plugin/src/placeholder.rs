//! The frame interactive renders show for a clip that has not been generated: a dark frame with a
//! yellow-and-black hazard border and a play-button mark, unmistakable for generated content.

/// RGB pixels (top row first) of a `width`×`height` placeholder.
pub fn frame(width: usize, height: usize) -> Vec<f32> {
    let border = (width.min(height) as f32 * 0.08).max(2.0);
    let stripe = border;
    let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
    let mark = width.min(height) as f32 * 0.18;
    let mut out = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        for x in 0..width {
            let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
            let edge = fx.min(fy).min(width as f32 - fx).min(height as f32 - fy);
            let rgb = if edge < border {
                if ((fx + fy) / stripe) as i64 % 2 == 0 {
                    YELLOW
                } else {
                    BLACK
                }
            } else if in_play_mark(fx - cx, fy - cy, mark) {
                YELLOW
            } else {
                GREY
            };
            out.extend_from_slice(&rgb);
        }
    }
    out
}

const YELLOW: [f32; 3] = [1.0, 0.8, 0.0];
const BLACK: [f32; 3] = [0.0, 0.0, 0.0];
const GREY: [f32; 3] = [0.12, 0.12, 0.12];

/// A right-pointing triangle of half-height `r` centred on the origin.
fn in_play_mark(dx: f32, dy: f32, r: f32) -> bool {
    dx >= -r * 0.8 && dx <= r && dy.abs() <= (r - dx) * 0.55
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_a_hazard_border_a_mark_and_a_dark_middle() {
        let (w, h) = (100, 60);
        let px = frame(w, h);
        assert_eq!(px.len(), w * h * 3);
        let at = |x: usize, y: usize| {
            [
                px[(y * w + x) * 3],
                px[(y * w + x) * 3 + 1],
                px[(y * w + x) * 3 + 2],
            ]
        };
        let border: Vec<[f32; 3]> = (0..w).map(|x| at(x, 1)).collect();
        assert!(border.contains(&YELLOW) && border.contains(&BLACK));
        assert_eq!(at(50, 30), YELLOW, "play mark in the centre");
        assert_eq!(at(20, 30), GREY);
        assert_eq!(at(80, 45), GREY);
    }
}
