//! Time mapping: which generated frame a timeline frame shows. OFX time is in frames; the generated clip
//! has its own frame count and frame rate, so the user picks how one maps onto the other (`timing`) and
//! what the timeline shows once the generated frames run out (`pastEnd`).

/// `timing` choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timing {
    /// Plays at the model's frame rate, converted to the project's.
    NativeSpeed,
    /// Spreads the generated frames over the effect's length on the timeline.
    StretchOverClip,
    /// One generated frame per timeline frame.
    OnePerFrame,
}

/// `pastEnd` choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PastEnd {
    Hold,
    Loop,
    PingPong,
}

impl Timing {
    pub fn from_index(index: i32) -> Timing {
        match index {
            1 => Timing::StretchOverClip,
            2 => Timing::OnePerFrame,
            _ => Timing::NativeSpeed,
        }
    }
}

impl PastEnd {
    pub fn from_index(index: i32) -> PastEnd {
        match index {
            1 => PastEnd::Loop,
            2 => PastEnd::PingPong,
            _ => PastEnd::Hold,
        }
    }
}

/// Everything the mapping depends on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimeMap {
    pub timing: Timing,
    pub past_end: PastEnd,
    pub model_fps: f64,
    pub project_fps: f64,
    /// First timeline frame of the effect.
    pub clip_start: f64,
    /// Number of timeline frames the effect covers (used by `StretchOverClip`).
    pub clip_length: f64,
}

/// Tolerance so that times like 2.9999999 from rate conversions land on frame 3.
const EPS: f64 = 1e-6;

impl TimeMap {
    /// The generated frame (0-based, `< generated`) shown at timeline `time`.
    pub fn frame_at(&self, time: f64, generated: usize) -> usize {
        if generated <= 1 {
            return 0;
        }
        let position = (time - self.clip_start) * self.rate(generated);
        let index = (position + EPS).floor() as i64;
        wrap(index, generated as i64, self.past_end) as usize
    }

    /// Generated frames per timeline frame.
    fn rate(&self, generated: usize) -> f64 {
        match self.timing {
            Timing::NativeSpeed if self.model_fps > 0.0 && self.project_fps > 0.0 => {
                self.model_fps / self.project_fps
            }
            Timing::StretchOverClip if self.clip_length >= 1.0 => {
                generated as f64 / self.clip_length
            }
            _ => 1.0,
        }
    }

    /// The timeline frame that generated frame `k` (of `generated`) belongs to, before any looping: the
    /// first whole timeline frame showing it, the inverse of [`TimeMap::frame_at`]. Where the model runs
    /// faster than the project, frames no timeline frame shows take the next one that shows a later
    /// frame (the instant they would start, rounded up to a whole frame the Source clip has).
    pub fn time_of(&self, k: usize, generated: usize) -> f64 {
        let offset = (k as f64 / self.rate(generated.max(1)) - EPS)
            .ceil()
            .max(0.0);
        self.clip_start + offset
    }

    /// How many timeline frames the generated clip naturally lasts (the General context's time domain).
    pub fn natural_length(&self, generated: usize) -> usize {
        match self.timing {
            Timing::NativeSpeed if self.model_fps > 0.0 && self.project_fps > 0.0 => {
                let len = generated as f64 * self.project_fps / self.model_fps;
                ((len - EPS).ceil() as usize).max(1)
            }
            _ => generated.max(1),
        }
    }
}

fn wrap(index: i64, n: i64, past_end: PastEnd) -> i64 {
    match past_end {
        PastEnd::Hold => index.clamp(0, n - 1),
        PastEnd::Loop => index.rem_euclid(n),
        PastEnd::PingPong => {
            let period = 2 * (n - 1);
            let phase = index.rem_euclid(period);
            if phase < n {
                phase
            } else {
                period - phase
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(timing: Timing, past_end: PastEnd) -> TimeMap {
        TimeMap {
            timing,
            past_end,
            model_fps: 8.0,
            project_fps: 24.0,
            clip_start: 100.0,
            clip_length: 48.0,
        }
    }

    fn frames(m: &TimeMap, times: std::ops::Range<i32>, n: usize) -> Vec<usize> {
        times.map(|t| m.frame_at(f64::from(t), n)).collect()
    }

    #[test]
    fn native_speed_repeats_each_model_frame_for_the_rate_ratio() {
        let m = map(Timing::NativeSpeed, PastEnd::Hold);
        assert_eq!(frames(&m, 100..110, 4), vec![0, 0, 0, 1, 1, 1, 2, 2, 2, 3]);
        assert_eq!(m.frame_at(500.0, 4), 3, "holds the last frame");
        assert_eq!(
            m.frame_at(0.0, 4),
            0,
            "holds the first frame before the start"
        );
        assert_eq!(m.natural_length(16), 48);
    }

    #[test]
    fn stretch_spreads_frames_over_the_clip_length() {
        let m = map(Timing::StretchOverClip, PastEnd::Hold);
        // 48 timeline frames, 16 generated: three timeline frames each.
        assert_eq!(frames(&m, 100..107, 16), vec![0, 0, 0, 1, 1, 1, 2]);
        assert_eq!(m.frame_at(147.0, 16), 15);
        assert_eq!(m.natural_length(16), 16);
    }

    #[test]
    fn one_per_frame_with_loop_and_ping_pong() {
        let looped = map(Timing::OnePerFrame, PastEnd::Loop);
        assert_eq!(frames(&looped, 100..108, 3), vec![0, 1, 2, 0, 1, 2, 0, 1]);
        assert_eq!(looped.frame_at(99.0, 3), 2, "loops backwards too");
        let pp = map(Timing::OnePerFrame, PastEnd::PingPong);
        assert_eq!(frames(&pp, 100..110, 4), vec![0, 1, 2, 3, 2, 1, 0, 1, 2, 3]);
        assert_eq!(pp.frame_at(99.0, 4), 1, "reflects before the start");
    }

    #[test]
    fn degenerate_inputs_stay_in_range() {
        let mut m = map(Timing::NativeSpeed, PastEnd::PingPong);
        assert_eq!(m.frame_at(123.0, 1), 0);
        assert_eq!(m.frame_at(123.0, 0), 0);
        m.model_fps = 0.0;
        assert_eq!(m.frame_at(101.0, 2), 1, "falls back to one per frame");
        m.timing = Timing::StretchOverClip;
        m.clip_length = 0.0;
        assert_eq!(m.frame_at(102.0, 3), 2);
        assert_eq!(Timing::from_index(7), Timing::NativeSpeed);
        assert_eq!(PastEnd::from_index(2), PastEnd::PingPong);
    }

    /// Every generated frame's source time shows that frame, for every timing (source frames line up
    /// with what the timeline shows).
    #[test]
    fn time_of_inverts_frame_at() {
        for timing in [
            Timing::NativeSpeed,
            Timing::StretchOverClip,
            Timing::OnePerFrame,
        ] {
            let m = map(timing, PastEnd::Loop);
            for k in 0..16 {
                let t = m.time_of(k, 16);
                assert_eq!(t.fract(), 0.0, "{timing:?} {k}");
                assert_eq!(m.frame_at(t, 16), k, "{timing:?} {k} at {t}");
                assert_ne!(
                    m.frame_at(t - 1.0, 16),
                    k,
                    "{timing:?}: the first such frame"
                );
            }
        }
        let m = map(Timing::NativeSpeed, PastEnd::Hold);
        assert_eq!(
            m.time_of(2, 16),
            106.0,
            "three timeline frames each at 8 over 24 fps"
        );
        let fast = TimeMap {
            model_fps: 24.0,
            project_fps: 8.0,
            ..m
        };
        let times: Vec<f64> = (0..5).map(|k| fast.time_of(k, 16)).collect();
        assert_eq!(times, [100.0, 101.0, 101.0, 101.0, 102.0]);
    }

    #[test]
    fn rate_conversion_rounding_lands_on_whole_frames() {
        let m = TimeMap {
            model_fps: 10.0,
            project_fps: 30.0,
            clip_start: 0.0,
            ..map(Timing::NativeSpeed, PastEnd::Hold)
        };
        // 3 * 10 / 30 = 0.99999... in floating point must still be frame 1.
        assert_eq!(m.frame_at(3.0, 8), 1);
        assert_eq!(m.natural_length(8), 24);
    }
}
