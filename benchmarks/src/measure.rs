//! Medians of repeated runs and the process's peak resident memory, measured the same way as
//! `models/bench_reference.py` does (VmHWM in /proc/self/status) so the two processes compare fairly.

use std::time::{Duration, Instant};

/// The median (upper middle for an even count); zero for no runs.
pub fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs.get(runs.len() / 2).copied().unwrap_or_default()
}

/// Runs `f` once to warm up, then `rounds` times; the median wall time of those rounds.
pub fn time_median<E>(rounds: usize, mut f: impl FnMut() -> Result<(), E>) -> Result<Duration, E> {
    f()?;
    let mut runs = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        f()?;
        runs.push(start.elapsed());
    }
    Ok(median(runs))
}

/// The `VmHWM` (peak resident set) line of a /proc status text, in KiB.
pub fn vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line["VmHWM:".len()..]
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

/// This process's peak resident memory so far, in KiB.
pub fn peak_rss_kib() -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("cannot read /proc/self/status: {e}"))?;
    vm_hwm_kib(&status).ok_or_else(|| "no VmHWM line in /proc/self/status".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_takes_the_middle_run() {
        let ms = Duration::from_millis;
        assert_eq!(median(vec![ms(9), ms(1), ms(5)]), ms(5));
        assert_eq!(median(vec![ms(4), ms(1), ms(3), ms(2)]), ms(3));
        assert_eq!(median(vec![]), Duration::ZERO);
    }

    #[test]
    fn time_median_warms_up_once_and_stops_on_error() {
        let mut calls = 0;
        time_median(3, || {
            calls += 1;
            Ok::<_, ()>(())
        })
        .unwrap();
        assert_eq!(calls, 4);
        assert_eq!(time_median(3, || Err::<(), _>("broken")), Err("broken"));
    }

    #[test]
    fn reads_vm_hwm() {
        let status =
            "Name:\tengine_clip\nVmPeak:\t  900000 kB\nVmHWM:\t  123456 kB\nVmRSS:\t 100000 kB\n";
        assert_eq!(vm_hwm_kib(status), Some(123456));
        assert_eq!(vm_hwm_kib("VmRSS:\t1 kB\n"), None);
        assert!(peak_rss_kib().unwrap() > 0);
    }
}
