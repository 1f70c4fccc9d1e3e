//! The arguments both clip benchmarks (`engine_clip`, `disk_vs_regen`) and `models/bench_reference.py` take,
//! so the engine and the reference run exactly the same clips.

use std::path::PathBuf;

pub const USAGE: &str = "PACKAGE [--clips N] [--threads N] [--prompt TEXT] [--seed N]";

/// One benchmark's clip settings; everything else is the package's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipArgs {
    pub package: PathBuf,
    /// Timed clips after the warm-up clip.
    pub clips: usize,
    /// ONNX Runtime intra-op threads (0: ONNX Runtime decides).
    pub threads: usize,
    pub prompt: String,
    pub seed: u64,
}

impl ClipArgs {
    /// Parses the arguments after the program name.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<ClipArgs, String> {
        let mut args = args.into_iter();
        let usage = || format!("usage: {USAGE}");
        let package = args
            .next()
            .filter(|p| !p.starts_with("--"))
            .ok_or_else(usage)?;
        let mut parsed = ClipArgs {
            package: PathBuf::from(package),
            clips: 5,
            threads: 0,
            prompt: "a red circle moving right on a blue background".into(),
            seed: 1,
        };
        while let Some(flag) = args.next() {
            let value = args
                .next()
                .ok_or_else(|| format!("{flag} needs a value; {}", usage()))?;
            let number = |v: &str| {
                v.parse::<u64>()
                    .map_err(|_| format!("{flag} takes a whole number (got {v:?})"))
            };
            match flag.as_str() {
                "--clips" => parsed.clips = number(&value)?.max(1) as usize,
                "--threads" => parsed.threads = number(&value)? as usize,
                "--seed" => parsed.seed = number(&value)?,
                "--prompt" => parsed.prompt = value,
                _ => return Err(format!("unknown option {flag}; {}", usage())),
            }
        }
        Ok(parsed)
    }

    /// The package's folder name, which names it in the results.
    pub fn package_name(&self) -> String {
        self.package
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.package.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<ClipArgs, String> {
        ClipArgs::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_and_options() {
        let a = parse(&["models/tiny-shapes"]).unwrap();
        assert_eq!((a.clips, a.threads, a.seed), (5, 0, 1));
        assert_eq!(a.package_name(), "tiny-shapes");
        let a = parse(&[
            "p",
            "--clips",
            "3",
            "--threads",
            "2",
            "--prompt",
            "x",
            "--seed",
            "9",
        ])
        .unwrap();
        assert_eq!(
            (a.clips, a.threads, a.prompt.as_str(), a.seed),
            (3, 2, "x", 9)
        );
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(parse(&[]).unwrap_err(), format!("usage: {USAGE}"));
        assert_eq!(
            parse(&["p", "--clips", "many"]).unwrap_err(),
            "--clips takes a whole number (got \"many\")"
        );
        assert_eq!(
            parse(&["p", "--fast", "1"]).unwrap_err(),
            format!("unknown option --fast; usage: {USAGE}")
        );
        assert_eq!(
            parse(&["p", "--seed"]).unwrap_err(),
            format!("--seed needs a value; usage: {USAGE}")
        );
    }
}
