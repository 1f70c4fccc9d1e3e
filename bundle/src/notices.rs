//! The licences of every Rust crate compiled into the plugin, for `Contents/Resources/Licenses`: the
//! crates come from `cargo metadata` (normal dependencies of the plugin, on each shipped target), each
//! one's licence must be on [`ALLOWED`] (evaluated as an SPDX expression), and the notices file carries
//! the licence files each crate ships — or, for a crate that ships none, the licence's standard text.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

/// The plugin's package, whose dependency tree ships.
const PLUGIN_PACKAGE: &str = "text-to-video-ofx";

/// Licences a crate compiled into the plugin may carry: permissive ones, fine in a closed host, and
/// MPL-2.0, whose copyleft is per file: met by the unmodified sources on crates.io (`dirs` → `option-ext`).
const ALLOWED: [&str; 14] = [
    "0BSD",
    "Apache-2.0",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "BSL-1.0",
    "CC0-1.0",
    "ISC",
    "MIT",
    "MIT-0",
    "MPL-2.0",
    "Unicode-3.0",
    "Unicode-DFS-2016",
    "Unlicense",
    "Zlib",
];

/// One crate compiled into the plugin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crate {
    pub name: String,
    pub version: String,
    /// The SPDX expression from its Cargo.toml.
    pub license: String,
    /// Its licence files (LICENSE*, LICENCE*, COPYING*, NOTICE*, or Cargo.toml's `license-file`).
    pub files: Vec<PathBuf>,
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    resolve: Resolve,
}

#[derive(Deserialize)]
struct Package {
    id: String,
    name: String,
    version: String,
    license: Option<String>,
    license_file: Option<PathBuf>,
    manifest_path: PathBuf,
    /// `None` for the workspace's own crates (under the repository's LICENSE).
    source: Option<String>,
}

#[derive(Deserialize)]
struct Resolve {
    nodes: Vec<Node>,
}

#[derive(Deserialize)]
struct Node {
    id: String,
    deps: Vec<Dep>,
}

#[derive(Deserialize)]
struct Dep {
    pkg: String,
    dep_kinds: Vec<DepKind>,
}

#[derive(Deserialize)]
struct DepKind {
    /// `None` for a normal dependency, else "build" or "dev" (not compiled into the plugin).
    kind: Option<String>,
}

/// The crates compiled into the plugin for any of `triples`, by name and version; those from outside
/// the workspace only.
pub fn plugin_crates(root: &Path, triples: &[&str]) -> Result<Vec<Crate>, String> {
    let mut all = BTreeMap::new();
    for triple in triples {
        for c in from_metadata(&cargo_metadata(root, triple)?)? {
            all.insert((c.name.clone(), c.version.clone()), c);
        }
    }
    Ok(all.into_values().collect())
}

fn cargo_metadata(root: &Path, triple: &str) -> Result<Vec<u8>, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--locked"])
        .args(["--filter-platform", triple])
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(output.stdout)
}

/// The crates `cargo metadata`'s JSON says the plugin package reaches through normal dependencies.
fn from_metadata(json: &[u8]) -> Result<Vec<Crate>, String> {
    let metadata: Metadata =
        serde_json::from_slice(json).map_err(|e| format!("cargo metadata: {e}"))?;
    let packages: BTreeMap<&str, &Package> = metadata
        .packages
        .iter()
        .map(|p| (p.id.as_str(), p))
        .collect();
    let nodes: BTreeMap<&str, &Node> = metadata
        .resolve
        .nodes
        .iter()
        .map(|n| (n.id.as_str(), n))
        .collect();
    let root = metadata
        .packages
        .iter()
        .find(|p| p.name == PLUGIN_PACKAGE && p.source.is_none())
        .ok_or_else(|| format!("cargo metadata lists no {PLUGIN_PACKAGE} package"))?;
    let mut reached = BTreeSet::new();
    let mut todo = vec![root.id.as_str()];
    while let Some(id) = todo.pop() {
        if !reached.insert(id) {
            continue;
        }
        let node = nodes
            .get(id)
            .ok_or_else(|| format!("cargo metadata does not resolve {id}"))?;
        todo.extend(
            node.deps
                .iter()
                .filter(|d| d.dep_kinds.iter().any(|k| k.kind.is_none()))
                .map(|d| d.pkg.as_str()),
        );
    }
    reached
        .into_iter()
        .filter_map(|id| packages.get(id).copied())
        .filter(|p| p.source.is_some())
        .map(|p| {
            Ok(Crate {
                name: p.name.clone(),
                version: p.version.clone(),
                license: p
                    .license
                    .clone()
                    .ok_or_else(|| format!("{} {} declares no licence", p.name, p.version))?,
                files: licence_files(p)?,
            })
        })
        .collect()
}

/// The licence files in a package's folder, sorted, with Cargo.toml's `license-file` first.
fn licence_files(package: &Package) -> Result<Vec<PathBuf>, String> {
    let dir = package.manifest_path.parent().unwrap_or(Path::new("."));
    let mut files: Vec<PathBuf> = package.license_file.iter().map(|f| dir.join(f)).collect();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && is_licence_name(p) && !files.contains(p))
        .collect();
    found.sort();
    files.extend(found);
    Ok(files)
}

fn is_licence_name(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_uppercase())
        .unwrap_or_default();
    ["LICENSE", "LICENCE", "COPYING", "NOTICE", "UNLICENSE"]
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

/// Fails naming every crate whose licence expression is not satisfied by [`ALLOWED`] alone.
pub fn check_allowed(crates: &[Crate]) -> Result<(), String> {
    let refused: Vec<String> = crates
        .iter()
        .filter(|c| !is_allowed(&c.license))
        .map(|c| format!("{} {} ({})", c.name, c.version, c.license))
        .collect();
    if refused.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "crates under licences the plugin may not ship: {}",
            refused.join(", ")
        ))
    }
}

fn is_allowed(expression: &str) -> bool {
    // crates.io still has old "MIT/Apache-2.0" spellings: the lax mode reads them as OR.
    spdx::Expression::parse_mode(expression, spdx::ParseMode::LAX).is_ok_and(|e| {
        e.evaluate(|req| {
            req.license
                .id()
                .is_some_and(|id| ALLOWED.contains(&id.name))
        })
    })
}

/// The notices file: a list of every crate and its licence, then each crate's licence files, then the
/// standard texts of the licences named by crates that ship no licence file.
pub fn render(crates: &[Crate]) -> Result<String, String> {
    let mut out = String::from(
        "Rust crates compiled into TextToVideo.ofx, with their licences\n\
         ==============================================================\n\n",
    );
    for c in crates {
        let _ = writeln!(out, "{} {}: {}", c.name, c.version, c.license);
    }
    let mut standard = BTreeSet::new();
    for c in crates {
        let _ = write!(
            out,
            "\n\n---- {} {} ({}) ----\n",
            c.name, c.version, c.license
        );
        if c.files.is_empty() {
            let ids = licence_ids(&c.license);
            let _ = writeln!(
                out,
                "\nThis crate ships no licence file; the standard text of {} is at the end.",
                ids.join(", ")
            );
            standard.extend(ids);
        }
        for file in &c.files {
            let text = std::fs::read_to_string(file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let name = file.file_name().unwrap_or_default().to_string_lossy();
            let _ = write!(out, "\n[{name}]\n\n{}\n", text.trim_end());
        }
    }
    for id in standard {
        let text = spdx::license_id(&id).map_or("", |l| l.text());
        let _ = write!(
            out,
            "\n\n---- {id} (standard text) ----\n\n{}\n",
            text.trim_end()
        );
    }
    Ok(out)
}

/// The SPDX licence identifiers an expression names.
fn licence_ids(expression: &str) -> Vec<String> {
    spdx::Expression::parse_mode(expression, spdx::ParseMode::LAX)
        .map(|e| {
            e.requirements()
                .filter_map(|r| r.req.license.id().map(|id| id.name.to_string()))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_permissive_licences_and_names_the_others() {
        for ok in [
            "MIT OR Apache-2.0",
            "MIT/Apache-2.0",
            "(MIT OR Apache-2.0) AND Unicode-3.0",
            "Apache-2.0 WITH LLVM-exception OR MIT",
            "GPL-3.0 OR MIT",
        ] {
            assert!(is_allowed(ok), "{ok}");
        }
        for refused in [
            "GPL-3.0",
            "MIT AND LGPL-2.1",
            "not a licence",
            "AGPL-3.0-only",
        ] {
            assert!(!is_allowed(refused), "{refused}");
        }
        let crate_of = |name: &str, license: &str| Crate {
            name: name.into(),
            version: "1.0.0".into(),
            license: license.into(),
            files: Vec::new(),
        };
        let crates = [
            crate_of("fine", "MIT"),
            crate_of("copyleft", "GPL-2.0-only"),
        ];
        assert_eq!(
            check_allowed(&crates).unwrap_err(),
            "crates under licences the plugin may not ship: copyleft 1.0.0 (GPL-2.0-only)"
        );
    }

    /// A workspace of three crates: the plugin, a normal dependency with a licence file, a build-only
    /// dependency, and a dev-only one; plus the workspace's own engine crate.
    fn metadata(dir: &Path) -> String {
        let manifest = |name: &str| dir.join(name).join("Cargo.toml");
        let package = |id: &str, name: &str, license: &str, source: &str| {
            format!(
                r#"{{"id":"{id}","name":"{name}","version":"1.0.0","license":{license},
                "license_file":null,"manifest_path":{:?},"source":{source}}}"#,
                manifest(name)
            )
        };
        let reg = r#""registry+https://github.com/rust-lang/crates.io-index""#;
        format!(
            r#"{{"packages":[{},{},{},{},{}],
            "resolve":{{"nodes":[
              {{"id":"p","deps":[{{"pkg":"e","dep_kinds":[{{"kind":null}}]}},
                                 {{"pkg":"b","dep_kinds":[{{"kind":"build"}}]}},
                                 {{"pkg":"d","dep_kinds":[{{"kind":"dev"}}]}}]}},
              {{"id":"e","deps":[{{"pkg":"n","dep_kinds":[{{"kind":null}}]}}]}},
              {{"id":"n","deps":[]}},{{"id":"b","deps":[]}},{{"id":"d","deps":[]}}]}}}}"#,
            package("p", PLUGIN_PACKAGE, "\"Apache-2.0\"", "null"),
            package("e", "t2v-engine", "\"Apache-2.0\"", "null"),
            package("n", "normal", "\"MIT OR Apache-2.0\"", reg),
            package("b", "build-only", "\"MIT\"", reg),
            package("d", "dev-only", "\"MIT\"", reg),
        )
    }

    #[test]
    fn lists_the_normal_dependencies_from_outside_the_workspace() {
        let tmp = tempfile::tempdir().unwrap();
        for name in [
            PLUGIN_PACKAGE,
            "t2v-engine",
            "normal",
            "build-only",
            "dev-only",
        ] {
            std::fs::create_dir_all(tmp.path().join(name)).unwrap();
        }
        let normal = tmp.path().join("normal");
        std::fs::write(normal.join("LICENSE-MIT"), "MIT text of normal\n").unwrap();
        std::fs::write(normal.join("license-apache"), "Apache text of normal\n").unwrap();
        std::fs::write(normal.join("lib.rs"), "").unwrap();

        let crates = from_metadata(metadata(tmp.path()).as_bytes()).unwrap();
        assert_eq!(
            crates,
            [Crate {
                name: "normal".into(),
                version: "1.0.0".into(),
                license: "MIT OR Apache-2.0".into(),
                files: vec![normal.join("LICENSE-MIT"), normal.join("license-apache")],
            }]
        );
        let text = render(&crates).unwrap();
        assert!(text.contains("normal 1.0.0: MIT OR Apache-2.0\n"), "{text}");
        assert!(
            text.contains("[LICENSE-MIT]\n\nMIT text of normal\n"),
            "{text}"
        );
        assert!(
            text.contains("[license-apache]\n\nApache text of normal\n"),
            "{text}"
        );
    }

    #[test]
    fn a_crate_without_licence_files_gets_the_standard_text() {
        let crates = [Crate {
            name: "bare".into(),
            version: "0.1.0".into(),
            license: "MIT".into(),
            files: Vec::new(),
        }];
        let text = render(&crates).unwrap();
        assert!(
            text.contains(
                "This crate ships no licence file; the standard text of MIT is at the end."
            ),
            "{text}"
        );
        assert!(text.contains("---- MIT (standard text) ----"), "{text}");
        assert!(
            text.contains("Permission is hereby granted, free of charge"),
            "{text}"
        );
    }
}
