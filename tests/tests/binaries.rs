//! What the bundle's binaries export and need, read from the files as auditwheel reads a wheel: each
//! `.ofx` exports only the OpenFX entry points (nothing a host's own symbols could be interposed by or
//! on — a known Flame crash), the Linux one needs no glibc newer than the floor (Rocky/RHEL 8), and
//! neither brings a C++ runtime of its own (Resolve crashes on a second libstdc++).

#![cfg(not(windows))] // reads both platforms' files from the Linux side

mod common;

use object::read::elf::ElfFile64;
use object::read::NameOrOrdinal;
use object::{elf, Endianness, Object};
use std::path::PathBuf;

/// glibc 2.28: Rocky/RHEL 8 (ONNX Runtime's manylinux_2_28 wheel needs it too).
const GLIBC_FLOOR: (u32, u32) = (2, 28);

const ENTRY_POINTS: [&str; 3] = ["OfxGetNumberOfPlugins", "OfxGetPlugin", "OfxSetHost"];

fn binary(arch: &str) -> Vec<u8> {
    let path: PathBuf = common::bundle()
        .join("Contents")
        .join(arch)
        .join("TextToVideo.ofx");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn exports(data: &[u8]) -> Vec<String> {
    let file = object::File::parse(data).unwrap();
    let mut names: Vec<String> = file
        .exports()
        .unwrap()
        .map(|e| match e.unwrap().name() {
            NameOrOrdinal::Name(name) => String::from_utf8_lossy(name).into_owned(),
            NameOrOrdinal::Ordinal(n) => format!("#{n}"),
        })
        .collect();
    names.sort();
    names
}

/// The ELF file's DT_NEEDED libraries and the `GLIBC_x.y` versions it needs (from `.gnu.version_r`).
fn elf_needs(data: &[u8]) -> (Vec<String>, Vec<(u32, u32)>) {
    let file = ElfFile64::<Endianness>::parse(data).unwrap();
    let endian = file.endian();
    let dynamic = file.elf_dynamic_table().unwrap();
    let needed = dynamic
        .iter()
        .filter(|d| d.tag == elf::DT_NEEDED)
        .map(|d| String::from_utf8_lossy(dynamic.string(d).unwrap()).into_owned())
        .collect();
    let sections = file.elf_section_table();
    let mut glibc = Vec::new();
    if let Some((mut verneeds, link)) = sections.gnu_verneed(endian, data).unwrap() {
        let strings = sections.strings(endian, data, link).unwrap();
        while let Some((_, mut auxes)) = verneeds.next().unwrap() {
            while let Some(aux) = auxes.next().unwrap() {
                let name = String::from_utf8_lossy(aux.name(endian, strings).unwrap()).into_owned();
                if let Some(version) = name.strip_prefix("GLIBC_").and_then(parse_version) {
                    glibc.push(version);
                }
            }
        }
    }
    (needed, glibc)
}

/// "2.28" → (2, 28); other version names (GLIBC_PRIVATE) → None.
fn parse_version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.split('.').map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next().flatten().unwrap_or(0)))
}

/// The DLLs a PE file imports from, lower-cased and sorted.
fn dll_imports(data: &[u8]) -> Vec<String> {
    let file = object::File::parse(data).unwrap();
    let mut dlls: Vec<String> = file
        .imports()
        .unwrap()
        .map(|i| String::from_utf8_lossy(i.unwrap().library()).to_ascii_lowercase())
        .collect();
    dlls.sort();
    dlls.dedup();
    dlls
}

#[test]
fn both_binaries_export_only_the_openfx_entry_points() {
    for arch in ["Linux-x86-64", "Win64"] {
        assert_eq!(exports(&binary(arch)), ENTRY_POINTS, "{arch}");
    }
}

#[test]
fn the_linux_binary_needs_only_glibc_up_to_the_floor_and_no_cpp_runtime() {
    let (needed, glibc) = elf_needs(&binary("Linux-x86-64"));
    let newest = glibc.iter().max().copied().unwrap_or_default();
    assert!(
        newest <= GLIBC_FLOOR,
        "needs GLIBC_{}.{}, newer than the {}.{} floor",
        newest.0,
        newest.1,
        GLIBC_FLOOR.0,
        GLIBC_FLOOR.1
    );
    assert!(!glibc.is_empty(), "no glibc version needs found");
    let system = [
        "libc.so.6",
        "libm.so.6",
        "libdl.so.2",
        "libpthread.so.0",
        "librt.so.1",
        "libgcc_s.so.1",
        "ld-linux-x86-64.so.2",
    ];
    let foreign: Vec<&String> = needed
        .iter()
        .filter(|n| !system.contains(&n.as_str()))
        .collect();
    assert!(foreign.is_empty(), "needs {foreign:?} (all: {needed:?})");
}

#[test]
fn the_windows_binary_imports_only_system_dlls() {
    let dlls = dll_imports(&binary("Win64"));
    let system = |dll: &str| {
        dll.starts_with("api-ms-win-")
            || [
                "advapi32.dll",
                "bcrypt.dll",
                "bcryptprimitives.dll",
                "combase.dll",
                "kernel32.dll",
                "msvcrt.dll",
                "ntdll.dll",
                "ole32.dll",
                "shell32.dll",
                "userenv.dll",
                "ws2_32.dll",
            ]
            .contains(&dll)
    };
    let foreign: Vec<&String> = dlls.iter().filter(|d| !system(d)).collect();
    assert!(
        foreign.is_empty(),
        "imports {foreign:?} (mingw's libstdc++/libgcc/libwinpthread are not on users' machines; all: {dlls:?})"
    );
    assert!(dlls.iter().any(|d| d == "kernel32.dll"), "{dlls:?}");
}

#[test]
fn versions_read_as_numbers() {
    assert_eq!(parse_version("2.28"), Some((2, 28)));
    assert_eq!(parse_version("2.2.5"), Some((2, 2)));
    assert_eq!(parse_version("2.34"), Some((2, 34)));
    assert!(parse_version("2.34") > Some(GLIBC_FLOOR));
    assert_eq!(parse_version("PRIVATE"), None);
}
