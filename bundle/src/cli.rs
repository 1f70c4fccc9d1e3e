//! Command-line parsing (no dependency: three subcommands and three flags).

use std::path::PathBuf;

pub const USAGE: &str =
    "usage: bundle build [--release] [--faults] | fetch-ort | install [--dest DIR]";

#[derive(Debug, PartialEq, Eq)]
pub enum Cmd {
    /// `faults`: the test-only fault-injection build, assembled under `target/bundle-faults`.
    Build {
        release: bool,
        faults: bool,
    },
    FetchOrt,
    Install {
        dest: Option<PathBuf>,
    },
    Help,
}

pub fn parse(args: &[String]) -> Result<Cmd, String> {
    let (sub, rest) = match args.split_first() {
        Some((sub, rest)) => (sub.as_str(), rest),
        None => return Err("missing subcommand".into()),
    };
    let mut release = false;
    let mut faults = false;
    let mut dest = None;
    let mut it = rest.iter();
    while let Some(arg) = it.next() {
        match (sub, arg.as_str()) {
            ("build", "--release") => release = true,
            ("build", "--faults") => faults = true,
            ("install", "--dest") => {
                let dir = it.next().ok_or("--dest needs a directory")?;
                dest = Some(PathBuf::from(dir));
            }
            _ => return Err(format!("unexpected argument `{arg}` for `{sub}`")),
        }
    }
    match sub {
        "build" => Ok(Cmd::Build { release, faults }),
        "fetch-ort" => Ok(Cmd::FetchOrt),
        "install" => Ok(Cmd::Install { dest }),
        "help" | "--help" | "-h" => Ok(Cmd::Help),
        other => Err(format!("unknown subcommand `{other}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_each_subcommand() {
        assert_eq!(
            parse(&args(&["build"])),
            Ok(Cmd::Build {
                release: false,
                faults: false
            })
        );
        assert_eq!(
            parse(&args(&["build", "--release"])),
            Ok(Cmd::Build {
                release: true,
                faults: false
            })
        );
        assert_eq!(
            parse(&args(&["build", "--faults"])),
            Ok(Cmd::Build {
                release: false,
                faults: true
            })
        );
        assert_eq!(parse(&args(&["fetch-ort"])), Ok(Cmd::FetchOrt));
        assert_eq!(
            parse(&args(&["install", "--dest", "/x"])),
            Ok(Cmd::Install {
                dest: Some(PathBuf::from("/x"))
            })
        );
        assert_eq!(parse(&args(&["install"])), Ok(Cmd::Install { dest: None }));
    }

    #[test]
    fn rejects_bad_arguments() {
        assert_eq!(parse(&[]), Err("missing subcommand".into()));
        assert_eq!(
            parse(&args(&["fetch-ort", "--release"])),
            Err("unexpected argument `--release` for `fetch-ort`".into())
        );
        assert_eq!(
            parse(&args(&["install", "--dest"])),
            Err("--dest needs a directory".into())
        );
        assert_eq!(
            parse(&args(&["bake"])),
            Err("unknown subcommand `bake`".into())
        );
    }
}
