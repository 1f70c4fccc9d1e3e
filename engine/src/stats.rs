//! Where one generation's time goes: all of it against the part spent inside ONNX Runtime's `Session::run`.
//! The rest is the engine's own overhead (tokenizing, tensor copies, guidance, scheduler, colour conversion),
//! which benchmarks report and a host can log. Timing is one `Instant::now` pair per session run.

use std::time::{Duration, Instant};

/// Timing of one generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GenerationStats {
    /// Wall time of the whole generation, from checking the request to the last decoded frame (the progress
    /// callback's own time included).
    pub total: Duration,
    /// Time inside `Session::run` calls (text encoder, UNet and VAE decoder together); at most `total`.
    pub onnx: Duration,
}

impl GenerationStats {
    /// The part of `total` spent outside ONNX Runtime.
    pub fn outside(&self) -> Duration {
        self.total.saturating_sub(self.onnx)
    }

    /// `onnx / total` (0 for an untimed generation).
    pub fn onnx_share(&self) -> f64 {
        if self.total.is_zero() {
            0.0
        } else {
            self.onnx.as_secs_f64() / self.total.as_secs_f64()
        }
    }
}

/// Two stages of one clip (sampling, then a decode run apart from it) as one.
impl std::ops::Add for GenerationStats {
    type Output = GenerationStats;

    fn add(self, other: GenerationStats) -> GenerationStats {
        GenerationStats {
            total: self.total + other.total,
            onnx: self.onnx + other.onnx,
        }
    }
}

/// Measures a generation: started when it begins, fed every session run, finished into `GenerationStats`.
pub(crate) struct GenerationClock {
    started: Instant,
    onnx: Duration,
}

impl GenerationClock {
    pub fn start() -> Self {
        Self {
            started: Instant::now(),
            onnx: Duration::ZERO,
        }
    }

    /// Runs `session_run` (a `Session::run` call) and adds its wall time to the ONNX total.
    pub fn onnx<T>(&mut self, session_run: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = session_run();
        self.onnx += start.elapsed();
        out
    }

    pub fn finish(self) -> GenerationStats {
        GenerationStats {
            total: self.started.elapsed(),
            onnx: self.onnx,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_and_outside_split_the_total() {
        let stats = GenerationStats {
            total: Duration::from_secs(2),
            onnx: Duration::from_millis(1500),
        };
        assert_eq!(stats.outside(), Duration::from_millis(500));
        assert_eq!(stats.onnx_share(), 0.75);
        assert_eq!(GenerationStats::default().onnx_share(), 0.0);
    }

    #[test]
    fn clock_counts_only_the_timed_runs() {
        let mut clock = GenerationClock::start();
        std::thread::sleep(Duration::from_millis(20));
        let value = clock.onnx(|| {
            std::thread::sleep(Duration::from_millis(30));
            7
        });
        let stats = clock.finish();
        assert_eq!(value, 7);
        assert!(stats.onnx >= Duration::from_millis(30), "{stats:?}");
        assert!(stats.outside() >= Duration::from_millis(20), "{stats:?}");
        assert_eq!(stats.onnx + stats.outside(), stats.total);
    }
}
