//! The arguments both clip benchmarks (`engine_clip`, `disk_vs_regen`) and `models/bench_reference.py` take,
//! so the engine and the reference run exactly the same clips.

use std::path::PathBuf;

use clap::builder::RangedU64ValueParser;
use clap::Parser;

/// One benchmark's clip settings; everything else is the package's defaults.
#[derive(Debug, Clone, PartialEq, Parser)]
#[command(
    about = "Times clips of a model package's default request (one warm-up clip first); prints one JSON line"
)]
pub struct ClipArgs {
    /// The model package folder.
    pub package: PathBuf,
    /// Timed clips after the warm-up clip.
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    pub clips: usize,
    /// ONNX Runtime intra-op threads (0: ONNX Runtime decides).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,
    #[arg(
        long,
        value_name = "TEXT",
        default_value = "a red circle moving right on a blue background"
    )]
    pub prompt: String,
    /// The seed every clip uses.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
}

impl ClipArgs {
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

    fn parse(args: &[&str]) -> Result<ClipArgs, clap::Error> {
        ClipArgs::try_parse_from(std::iter::once("engine_clip").chain(args.iter().copied()))
    }

    /// The first line of the error clap prints for `args`.
    fn error(args: &[&str]) -> String {
        let text = parse(args).unwrap_err().to_string();
        text.lines().next().unwrap_or_default().to_string()
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
        assert_eq!(
            error(&[]),
            "error: the following required arguments were not provided:"
        );
        assert_eq!(
            error(&["p", "--clips", "many"]),
            "error: invalid value 'many' for '--clips <N>': invalid digit found in string"
        );
        assert_eq!(
            error(&["p", "--clips", "0"]),
            "error: invalid value '0' for '--clips <N>': 0 is not in 1..18446744073709551615"
        );
        assert_eq!(
            error(&["p", "--fast", "1"]),
            "error: unexpected argument '--fast' found"
        );
        assert_eq!(
            error(&["p", "--seed"]),
            "error: a value is required for '--seed <N>' but none was supplied"
        );
    }
}
