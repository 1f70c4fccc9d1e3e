//! The results table `scripts/bench.sh` prints: one Markdown row per figure, from the JSON lines of the clip
//! benchmarks and the text the cache and describe examples print (`cache_bench`, `bench_describe`).

use serde_json::Value;

/// One figure: ours against its baseline, their ratio, and the goal with whether it is met.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub figure: String,
    pub engine: String,
    pub reference: String,
    pub ratio: String,
    pub goal: String,
}

fn number(v: &Value, key: &str) -> Result<f64, String> {
    v[key]
        .as_f64()
        .ok_or_else(|| format!("result line has no number {key:?}: {v}"))
}

/// `goal` followed by whether the figure meets it.
fn verdict(goal: &str, met: bool) -> String {
    format!("{goal} ({})", if met { "met" } else { "NOT met" })
}

fn ms(seconds: f64) -> String {
    format!("{:.1} ms", seconds * 1e3)
}

fn mib(kib: f64) -> String {
    format!("{:.0} MiB", kib / 1024.0)
}

/// Wall time, peak RSS and time outside `Session::run` for one package, from `engine_clip`'s and
/// `bench_reference.py`'s lines.
pub fn clip_rows(engine: &Value, reference: &Value) -> Result<Vec<Row>, String> {
    let package = engine["package"].as_str().unwrap_or("?");
    let clip = format!(
        "{package}: {} frames {}×{}, {} steps, {} threads",
        number(engine, "frames")?,
        number(engine, "width")?,
        number(engine, "height")?,
        number(engine, "steps")?,
        match number(engine, "threads")? {
            0.0 => "default".to_string(),
            t => t.to_string(),
        }
    );
    let (time, ref_time) = (number(engine, "median_s")?, number(reference, "median_s")?);
    let (rss, ref_rss) = (
        number(engine, "peak_rss_kib")?,
        number(reference, "peak_rss_kib")?,
    );
    let outside = number(engine, "outside_onnx_share")?;
    Ok(vec![
        Row {
            figure: format!("clip wall time, median ({clip})"),
            engine: ms(time),
            reference: ms(ref_time),
            ratio: format!("{:.2}×", time / ref_time),
            goal: verdict("≤ 0.9×", time <= 0.9 * ref_time),
        },
        Row {
            figure: format!("peak RSS ({package})"),
            engine: mib(rss),
            reference: mib(ref_rss),
            ratio: format!("{:.2}×", rss / ref_rss),
            goal: verdict("≤ 1×", rss <= ref_rss),
        },
        Row {
            figure: format!("generation time outside `Session::run` ({package})"),
            engine: format!("{:.1} %", outside * 100.0),
            reference: "—".into(),
            ratio: "—".into(),
            goal: verdict("≤ 2 %", outside <= 0.02),
        },
    ])
}

/// Disk hit against regeneration, from `disk_vs_regen`'s line.
pub fn disk_row(disk: &Value) -> Result<Row, String> {
    let (hit, regenerate) = (number(disk, "disk_hit_s")?, number(disk, "regenerate_s")?);
    Ok(Row {
        figure: format!(
            "disk cache hit vs regeneration ({}: {} frames {}×{})",
            disk["package"].as_str().unwrap_or("?"),
            number(disk, "frames")?,
            number(disk, "width")?,
            number(disk, "height")?
        ),
        engine: ms(hit),
        reference: ms(regenerate),
        ratio: format!("{:.3}×", hit / regenerate),
        goal: "—".into(),
    })
}

/// The numbers written just before "ms" in a line of an example's output.
fn milliseconds(line: &str) -> Vec<f64> {
    let words: Vec<&str> = line.split_whitespace().collect();
    words
        .windows(2)
        .filter(|w| w[1].trim_end_matches([',', ')']) == "ms")
        .filter_map(|w| w[0].parse().ok())
        .collect()
}

/// The first line of `text` starting with `prefix`, or an error naming the example that should print it.
fn line<'a>(text: &'a str, prefix: &str, example: &str) -> Result<&'a str, String> {
    text.lines()
        .find(|l| l.trim_start().starts_with(prefix))
        .ok_or_else(|| format!("{example} printed no line starting with {prefix:?}"))
}

/// Memory hit against a plain frame copy, from `cache_bench`'s "memory hit" line.
pub fn memory_row(cache_bench: &str) -> Result<Row, String> {
    let text = line(cache_bench, "memory hit", "cache_bench")?;
    let [hit, copy] = milliseconds(text)[..] else {
        return Err(format!("cache_bench: expected two times in {text:?}"));
    };
    Ok(Row {
        figure: "memory cache hit vs plain copy (1920×1080 RGBA f32 frame)".into(),
        engine: format!("{hit:.2} ms"),
        reference: format!("{copy:.2} ms"),
        ratio: format!("{:.2}×", hit / copy),
        goal: verdict("≤ 2×", hit <= 2.0 * copy),
    })
}

/// Plugin load + describe, from `bench_describe`'s first-load and median lines; describe must not load ONNX
/// Runtime.
pub fn describe_row(bench_describe: &str) -> Result<Row, String> {
    let time = |prefix| -> Result<f64, String> {
        let text = line(bench_describe, prefix, "bench_describe")?;
        milliseconds(text)
            .first()
            .copied()
            .ok_or_else(|| format!("bench_describe: no time in {text:?}"))
    };
    let (first, warm) = (
        time("first load + describe")?,
        time("load + describe, median")?,
    );
    let onnx = line(
        bench_describe,
        "ONNX Runtime loaded by describe:",
        "bench_describe",
    )?;
    let onnx_loaded = !onnx.trim_end().ends_with(": no");
    Ok(Row {
        figure: "plugin load + describe (first with dlopen / median later)".into(),
        engine: format!("{first:.1} ms / {warm:.1} ms"),
        reference: "—".into(),
        ratio: "—".into(),
        goal: verdict(
            if onnx_loaded {
                "< 20 ms, no ONNX Runtime (it was loaded)"
            } else {
                "< 20 ms, no ONNX Runtime"
            },
            first < 20.0 && !onnx_loaded,
        ),
    })
}

/// The rows as a Markdown table.
pub fn markdown(rows: &[Row]) -> String {
    let mut out =
        String::from("| figure | engine | reference | ratio | goal |\n|---|---|---|---|---|\n");
    for r in rows {
        out += &format!(
            "| {} | {} | {} | {} | {} |\n",
            r.figure, r.engine, r.reference, r.ratio, r.goal
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn engine() -> Value {
        json!({"side": "engine", "package": "tiny-shapes", "threads": 2, "clips": 5, "frames": 16, "width": 64,
               "height": 64, "steps": 20, "median_s": 0.9, "outside_onnx_share": 0.015, "peak_rss_kib": 102400})
    }

    #[test]
    fn clip_rows_compare_engine_with_reference() {
        let reference = json!({"side": "reference", "median_s": 1.2, "peak_rss_kib": 81920});
        let rows = clip_rows(&engine(), &reference).unwrap();
        assert_eq!(
            rows[0],
            Row {
                figure:
                    "clip wall time, median (tiny-shapes: 16 frames 64×64, 20 steps, 2 threads)"
                        .into(),
                engine: "900.0 ms".into(),
                reference: "1200.0 ms".into(),
                ratio: "0.75×".into(),
                goal: "≤ 0.9× (met)".into(),
            }
        );
        assert_eq!(
            (
                rows[1].engine.as_str(),
                rows[1].reference.as_str(),
                rows[1].ratio.as_str()
            ),
            ("100 MiB", "80 MiB", "1.25×")
        );
        assert_eq!(rows[1].goal, "≤ 1× (NOT met)");
        assert_eq!(
            (rows[2].engine.as_str(), rows[2].goal.as_str()),
            ("1.5 %", "≤ 2 % (met)")
        );
    }

    #[test]
    fn a_missing_number_is_named() {
        let err = clip_rows(&engine(), &json!({"median_s": 1.0})).unwrap_err();
        assert!(
            err.starts_with("result line has no number \"peak_rss_kib\""),
            "{err}"
        );
    }

    #[test]
    fn disk_row_is_hit_over_regeneration() {
        let disk = json!({"package": "tiny-shapes", "frames": 16, "width": 64, "height": 64, "steps": 20,
                          "regenerate_s": 0.8, "disk_hit_s": 0.004});
        let row = disk_row(&disk).unwrap();
        assert_eq!(
            row.figure,
            "disk cache hit vs regeneration (tiny-shapes: 16 frames 64×64)"
        );
        assert_eq!(
            (
                row.engine.as_str(),
                row.reference.as_str(),
                row.ratio.as_str()
            ),
            ("4.0 ms", "800.0 ms", "0.005×")
        );
    }

    #[test]
    fn reads_the_examples_output() {
        let cache =
            "memory hit, 1920×1080 RGBA f32: 1.50 ms vs plain copy 1.00 ms = 1.50× (goal ≤ 2×)\n\
                     disk hit, 16 frames 256×256 (read + verify + decode 16-bit PNG): 25.0 ms\n";
        let row = memory_row(cache).unwrap();
        assert_eq!(
            (row.ratio.as_str(), row.goal.as_str()),
            ("1.50×", "≤ 2× (met)")
        );
        let describe = "bundle: target/bundle/TextToVideo.ofx.bundle\n\
                        first load + describe (with dlopen):    1.503 ms\n\
                        load + describe, median of 20:        0.312 ms\n\
                        load + describe, slowest:             0.500 ms\n\
                        ONNX Runtime loaded by describe: no\n";
        let row = describe_row(describe).unwrap();
        assert_eq!(row.engine, "1.5 ms / 0.3 ms");
        assert_eq!(row.goal, "< 20 ms, no ONNX Runtime (met)");
        let loaded = describe.replace(": no", ": YES (should not be)");
        assert_eq!(
            describe_row(&loaded).unwrap().goal,
            "< 20 ms, no ONNX Runtime (it was loaded) (NOT met)"
        );
        assert_eq!(
            memory_row("nothing").unwrap_err(),
            "cache_bench printed no line starting with \"memory hit\""
        );
    }

    #[test]
    fn markdown_has_a_header_and_one_line_per_row() {
        let rows = clip_rows(&engine(), &json!({"median_s": 1.0, "peak_rss_kib": 204800})).unwrap();
        let table = markdown(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0], "| figure | engine | reference | ratio | goal |");
        assert_eq!(
            lines[3],
            "| peak RSS (tiny-shapes) | 100 MiB | 200 MiB | 0.50× | ≤ 1× (met) |"
        );
    }
}
