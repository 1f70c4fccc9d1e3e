//! Clips longer than the model: overlapping windows over the latent frames, each denoised as the model
//! was trained (its default frame count), their predictions blended every step (weights ramp across each
//! overlap, so no frame sees a hard join), and FreeNoise-style initial noise: the first window's noise is
//! drawn from the seed, every later stretch repeats the stretch before it in a seeded shuffled frame order,
//! which keeps windows close to one another while each still differs. Only one window's denoiser run is in
//! memory at a time; the clip's latents themselves are small (the VAE's factor smaller per side).

use std::ops::Range;

use crate::noise::NoiseStream;

/// The windows over `frames` latent frames for a model that denoises `window` at a time: one window when
/// the clip fits, else windows of `window` overlapping by a quarter (at least one frame), the last one
/// ending at the clip's end.
pub(crate) fn plan(frames: usize, window: usize) -> Vec<Range<usize>> {
    if frames <= window || window < 2 {
        return std::iter::once(0..frames).collect();
    }
    let stride = window - overlap(window);
    let mut windows = Vec::new();
    let mut start = 0;
    loop {
        if start + window >= frames {
            windows.push(frames - window..frames);
            return windows;
        }
        windows.push(start..start + window);
        start += stride;
    }
}

/// Frames two neighbouring windows share.
fn overlap(window: usize) -> usize {
    (window / 4).max(1)
}

/// The blend weight of each frame of a window of `len` frames: rising over the first overlap and falling
/// over the last, 1 in between (frames near a window's edge see least of its context).
pub(crate) fn weights(len: usize) -> Vec<f32> {
    let ramp = (overlap(len) + 1) as f32;
    (0..len)
        .map(|j| {
            let from_edge = (j + 1).min(len - j) as f32;
            (from_edge / ramp).min(1.0)
        })
        .collect()
}

/// Initial noise [1, C, F', h, w] for a windowed clip: the first `window` frames from the stream, each later
/// stretch of `window − overlap` frames a copy of the stretch before it, frames shuffled by the stream.
pub(crate) fn initial_noise(shape: [usize; 5], window: usize, noise: &mut NoiseStream) -> Vec<f32> {
    let [_, c, f, h, w] = shape;
    let plane = h * w;
    let first = window.min(f);
    let drawn = noise.take(c * first * plane);
    let mut out = vec![0.0f32; c * f * plane];
    for ch in 0..c {
        let (src, dst) = (ch * first * plane, ch * f * plane);
        out[dst..dst + first * plane].copy_from_slice(&drawn[src..src + first * plane]);
    }
    let stride = window - overlap(window);
    let mut start = first;
    while start < f {
        let len = stride.min(f - start);
        let order = shuffled(len, noise);
        for ch in 0..c {
            for (k, &from) in order.iter().enumerate() {
                let src = (ch * f + start - stride + from) * plane;
                let dst = (ch * f + start + k) * plane;
                out.copy_within(src..src + plane, dst);
            }
        }
        start += len;
    }
    out
}

/// A permutation of 0..n from the stream (Fisher–Yates, indices from normal draws' bits).
fn shuffled(n: usize, noise: &mut NoiseStream) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let draw = noise.next_normal().to_bits() as usize;
        order.swap(i, draw % (i + 1));
    }
    order
}

/// Latent frames `range` of latents [1, C, F', h, w], as [1, C, len, h, w].
pub(crate) fn frames_of(latents: &[f32], shape: [usize; 5], range: &Range<usize>) -> Vec<f32> {
    let [_, c, f, h, w] = shape;
    let plane = h * w;
    let mut out = Vec::with_capacity(c * range.len() * plane);
    for ch in 0..c {
        let start = (ch * f + range.start) * plane;
        out.extend_from_slice(&latents[start..start + range.len() * plane]);
    }
    out
}

/// Writes `part` ([1, C, len, h, w]) over latent frames `range` of `latents`.
pub(crate) fn set_frames(
    latents: &mut [f32],
    shape: [usize; 5],
    range: &Range<usize>,
    part: &[f32],
) {
    let [_, c, f, h, w] = shape;
    let (plane, len) = (h * w, range.len());
    for ch in 0..c {
        let dst = (ch * f + range.start) * plane;
        let src = ch * len * plane;
        latents[dst..dst + len * plane].copy_from_slice(&part[src..src + len * plane]);
    }
}

/// Blends window predictions into one prediction for the whole clip.
pub(crate) struct Blend {
    shape: [usize; 5],
    sum: Vec<f32>,
    weight: Vec<f32>,
}

impl Blend {
    pub fn new(shape: [usize; 5]) -> Self {
        let n = shape.iter().product();
        Self {
            shape,
            sum: vec![0.0; n],
            weight: vec![0.0; shape[2]],
        }
    }

    /// Adds a window's prediction ([1, C, len, h, w]) over latent frames `range`.
    pub fn add(&mut self, range: &Range<usize>, prediction: &[f32]) {
        let [_, c, f, h, w] = self.shape;
        let plane = h * w;
        let weights = weights(range.len());
        for (j, &wt) in weights.iter().enumerate() {
            self.weight[range.start + j] += wt;
            for ch in 0..c {
                let dst = (ch * f + range.start + j) * plane;
                let src = (ch * range.len() + j) * plane;
                for (s, &p) in self.sum[dst..dst + plane]
                    .iter_mut()
                    .zip(&prediction[src..src + plane])
                {
                    *s += wt * p;
                }
            }
        }
    }

    /// The weighted mean of every window's prediction, frame by frame.
    pub fn finish(mut self) -> Vec<f32> {
        let [_, c, f, h, w] = self.shape;
        let plane = h * w;
        for ch in 0..c {
            for j in 0..f {
                let start = (ch * f + j) * plane;
                let wt = self.weight[j];
                self.sum[start..start + plane]
                    .iter_mut()
                    .for_each(|v| *v /= wt);
            }
        }
        self.sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_the_clip_with_overlaps_and_end_at_its_end() {
        assert_eq!(plan(16, 16), std::iter::once(0..16).collect::<Vec<_>>());
        assert_eq!(plan(10, 16), std::iter::once(0..10).collect::<Vec<_>>());
        assert_eq!(plan(48, 16), vec![0..16, 12..28, 24..40, 32..48]);
        assert_eq!(plan(17, 16), vec![0..16, 1..17]);
        // Wan: 81 frames are 21 latent frames; a 3× clip (241 frames) has 61.
        assert_eq!(plan(61, 21), vec![0..21, 16..37, 32..53, 40..61]);
    }

    #[test]
    fn weights_ramp_over_the_overlap() {
        assert_eq!(
            weights(8),
            vec![
                1.0 / 3.0,
                2.0 / 3.0,
                1.0,
                1.0,
                1.0,
                1.0,
                2.0 / 3.0,
                1.0 / 3.0
            ]
        );
        assert!(weights(16).iter().all(|&w| w > 0.0 && w <= 1.0));
    }

    #[test]
    fn blending_one_window_gives_its_prediction_and_overlaps_average() {
        let shape = [1, 2, 6, 1, 1];
        let mut blend = Blend::new(shape);
        blend.add(&(0..4), &[1.0, 1.0, 1.0, 1.0, 5.0, 5.0, 5.0, 5.0]);
        blend.add(&(2..6), &[3.0, 3.0, 3.0, 3.0, 7.0, 7.0, 7.0, 7.0]);
        let out = blend.finish();
        // Frames 2 and 3 are in both windows: weights (1, 0.5) there, and (0.5, 1).
        assert_eq!(&out[..6], &[1.0, 1.0, 2.5 / 1.5, 3.5 / 1.5, 3.0, 3.0]);
        assert_eq!(&out[6..], &[5.0, 5.0, 8.5 / 1.5, 9.5 / 1.5, 7.0, 7.0]);
    }

    #[test]
    fn later_stretches_repeat_earlier_noise_frames_shuffled() {
        let shape = [1, 2, 10, 1, 3];
        let noise = initial_noise(shape, 4, &mut NoiseStream::new(7));
        let first = NoiseStream::new(7).take(2 * 4 * 3);
        let frame = |ch: usize, j: usize| &noise[(ch * 10 + j) * 3..(ch * 10 + j + 1) * 3];
        assert_eq!(frame(0, 0), &first[0..3]);
        assert_eq!(frame(1, 3), &first[(4 + 3) * 3..(4 + 4) * 3]);
        // Stride 3: frames 4..7 are frames 1..4 reordered, the same order in every channel.
        let mut seen: Vec<usize> = (4..7)
            .map(|j| (1..4).find(|&k| frame(0, k) == frame(0, j)).unwrap())
            .collect();
        for j in 4..7 {
            let k = (1..4).find(|&k| frame(0, k) == frame(0, j)).unwrap();
            assert_eq!(frame(1, j), frame(1, k));
        }
        seen.sort();
        assert_eq!(seen, vec![1, 2, 3]);
        assert_eq!(noise, initial_noise(shape, 4, &mut NoiseStream::new(7)));
    }

    #[test]
    fn frames_round_trip() {
        let shape = [1, 2, 5, 1, 2];
        let latents: Vec<f32> = (0..20).map(|v| v as f32).collect();
        let part = frames_of(&latents, shape, &(1..3));
        assert_eq!(part, vec![2.0, 3.0, 4.0, 5.0, 12.0, 13.0, 14.0, 15.0]);
        let mut copy = vec![0.0; 20];
        set_frames(&mut copy, shape, &(1..3), &part);
        assert_eq!(frames_of(&copy, shape, &(1..3)), part);
    }
}
