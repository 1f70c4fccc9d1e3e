//! Command-line parsing: three subcommands and their flags.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Builds TextToVideo.ofx.bundle, fetches ONNX Runtime and installs the bundle where OpenFX hosts look.
#[derive(Debug, Parser)]
#[command(name = "bundle")]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Debug, PartialEq, Eq, Subcommand)]
pub enum Cmd {
    /// Builds the plugin for Linux and Windows and assembles the bundle under target/bundle.
    Build {
        /// Builds the plugin in release mode.
        #[arg(long)]
        release: bool,
        /// The test-only fault-injection build (Linux only), assembled under target/bundle-faults.
        #[arg(long)]
        faults: bool,
        /// ONNX Runtime's CUDA build, with NVIDIA's CUDA 13 libraries inside (`--cuda`, under
        /// target/bundle-cuda) or the machine's CUDA 13 and cuDNN 9 (`--cuda=system`, under
        /// target/bundle-cuda-system).
        #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "bundled", conflicts_with = "faults")]
        cuda: Option<crate::cuda::Flavour>,
    },
    /// Downloads ONNX Runtime (once) and prints the library's path.
    FetchOrt,
    /// Copies the built bundle to DIR, else the first folder of $OFX_PLUGIN_PATH, else the system folder
    /// (/usr/OFX/Plugins; C:\Program Files\Common Files\OFX\Plugins on Windows).
    Install {
        #[arg(long, value_name = "DIR")]
        dest: Option<PathBuf>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    fn parse(args: &[&str]) -> Result<Cmd, clap::Error> {
        Cli::try_parse_from(std::iter::once("bundle").chain(args.iter().copied())).map(|c| c.cmd)
    }

    /// The error's first line, without styling (what the user reads first).
    fn message(args: &[&str]) -> String {
        let text = parse(args).unwrap_err().to_string();
        text.lines().next().unwrap_or_default().to_string()
    }

    #[test]
    fn parses_each_subcommand() {
        let build = |release, faults| Cmd::Build {
            release,
            faults,
            cuda: None,
        };
        let cuda = |flavour| Cmd::Build {
            release: false,
            faults: false,
            cuda: Some(flavour),
        };
        use crate::cuda::Flavour;
        assert_eq!(parse(&["build", "--cuda"]).unwrap(), cuda(Flavour::Bundled));
        assert_eq!(
            parse(&["build", "--cuda=system"]).unwrap(),
            cuda(Flavour::System)
        );
        assert_eq!(
            parse(&["build", "--cuda=bundled"]).unwrap(),
            cuda(Flavour::Bundled)
        );
        assert_eq!(parse(&["build"]).unwrap(), build(false, false));
        assert_eq!(parse(&["build", "--release"]).unwrap(), build(true, false));
        assert_eq!(parse(&["build", "--faults"]).unwrap(), build(false, true));
        assert_eq!(
            parse(&["build", "--faults", "--release"]).unwrap(),
            build(true, true)
        );
        assert_eq!(parse(&["fetch-ort"]).unwrap(), Cmd::FetchOrt);
        assert_eq!(
            parse(&["install", "--dest", "/x"]).unwrap(),
            Cmd::Install {
                dest: Some(PathBuf::from("/x"))
            }
        );
        assert_eq!(parse(&["install"]).unwrap(), Cmd::Install { dest: None });
        assert_eq!(parse(&["help"]).unwrap_err().kind(), ErrorKind::DisplayHelp);
    }

    #[test]
    fn rejects_bad_arguments() {
        assert_eq!(
            parse(&[]).unwrap_err().kind(),
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        );
        assert_eq!(
            message(&["fetch-ort", "--release"]),
            "error: unexpected argument '--release' found"
        );
        assert_eq!(
            message(&["install", "--dest"]),
            "error: a value is required for '--dest <DIR>' but none was supplied"
        );
        assert_eq!(message(&["bake"]), "error: unrecognized subcommand 'bake'");
        assert_eq!(
            message(&["build", "--cuda=amd"]),
            "error: invalid value 'amd' for '--cuda[=<CUDA>]'"
        );
        assert_eq!(
            message(&["build", "--cuda", "--faults"]),
            "error: the argument '--cuda[=<CUDA>]' cannot be used with '--faults'"
        );
    }
}
