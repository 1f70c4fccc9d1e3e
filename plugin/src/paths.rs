//! Folder parameters (Cache folder, Custom model folder) as the user typed them: kept as OS strings
//! end to end (a folder name need not be UTF-8), with a leading `~` and `$VAR`/`${VAR}` expanded as a
//! shell would, and refused unless absolute — the host's working directory is no place for a cache,
//! and `~` or `$HOME` taken literally would create folders there.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// The folder `raw` names for the parameter labelled `label`; an empty (or blank) value is an empty
/// path, meaning "not set". Errors name the parameter.
pub fn folder(label: &str, raw: &OsStr) -> Result<PathBuf, String> {
    let home = dirs::home_dir();
    let expanded = expand(
        bytes(raw).trim_ascii(),
        |name| std::env::var_os(name),
        home.as_deref(),
    )
    .map_err(|why| format!("{label}: {why}"))?;
    let path = PathBuf::from(os_string(expanded));
    if path.as_os_str().is_empty() || path.is_absolute() {
        Ok(path)
    } else {
        Err(format!(
            "{label} must be an absolute folder (or start with ~ or $VARIABLE), not {:?}",
            path.display().to_string()
        ))
    }
}

/// `raw` with a leading `~` (alone or before `/`) replaced by `home`, and `$NAME` / `${NAME}` by the
/// variable's value (`lookup`). A `$` not followed by a name stays as it is; an unset variable is an
/// error, as is `~` without a home folder.
fn expand(
    raw: &[u8],
    lookup: impl Fn(&str) -> Option<OsString>,
    home: Option<&Path>,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    if rest.first() == Some(&b'~') && matches!(rest.get(1), None | Some(b'/')) {
        let home = home.ok_or("there is no home folder to expand ~ into")?;
        out.extend_from_slice(bytes(home.as_os_str()));
        rest = &rest[1..];
    }
    while let Some(at) = rest.iter().position(|&b| b == b'$') {
        out.extend_from_slice(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, consumed) = match after.first() {
            Some(b'{') => match after.iter().position(|&b| b == b'}') {
                Some(close) if is_name(&after[1..close]) => (&after[1..close], close + 1),
                _ => (&after[..0], 0),
            },
            _ => {
                let len = after
                    .iter()
                    .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_'))
                    .unwrap_or(after.len());
                let name = &after[..len];
                (if is_name(name) { name } else { &name[..0] }, len)
            }
        };
        if name.is_empty() {
            out.push(b'$');
            rest = after;
            continue;
        }
        // A name is ASCII, so this is the exact text.
        let name = String::from_utf8_lossy(name);
        let value = lookup(&name).ok_or_else(|| format!("the variable ${name} is not set"))?;
        out.extend_from_slice(bytes(&value));
        rest = &after[consumed..];
    }
    out.extend_from_slice(rest);
    Ok(out)
}

fn is_name(name: &[u8]) -> bool {
    name.first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
        && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// The bytes of an OS string (on Unix, exactly the bytes the host and the file system use).
#[cfg(unix)]
pub fn bytes(s: &OsStr) -> &[u8] {
    std::os::unix::ffi::OsStrExt::as_bytes(s)
}

#[cfg(unix)]
pub fn os_string(bytes: Vec<u8>) -> OsString {
    std::os::unix::ffi::OsStringExt::from_vec(bytes)
}

#[cfg(not(unix))]
pub fn bytes(s: &OsStr) -> &[u8] {
    s.as_encoded_bytes()
}

#[cfg(not(unix))]
pub fn os_string(bytes: Vec<u8>) -> OsString {
    // SAFETY: built only from `as_encoded_bytes` pieces and ASCII, split at ASCII characters.
    unsafe { OsString::from_encoded_bytes_unchecked(bytes) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<OsString> {
        match name {
            "CACHE" => Some("/data/cache".into()),
            "EMPTY" => Some("".into()),
            _ => None,
        }
    }

    fn run(raw: &str) -> Result<String, String> {
        expand(raw.as_bytes(), env, Some(Path::new("/home/me")))
            .map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn expands_a_leading_tilde_and_variables() {
        assert_eq!(run("~").unwrap(), "/home/me");
        assert_eq!(run("~/clips").unwrap(), "/home/me/clips");
        assert_eq!(run("$CACHE/t2v").unwrap(), "/data/cache/t2v");
        assert_eq!(run("${CACHE}x/$EMPTY/y").unwrap(), "/data/cachex//y");
        assert_eq!(run("/a/~/b").unwrap(), "/a/~/b", "only a leading ~");
        assert_eq!(run("~user/x").unwrap(), "~user/x", "no other users' homes");
        assert_eq!(run("/price$/5$").unwrap(), "/price$/5$");
        assert_eq!(run("/a/${}/${CACHE").unwrap(), "/a/${}/${CACHE");
        assert_eq!(run("/a/$1").unwrap(), "/a/$1");
    }

    #[test]
    fn an_unset_variable_or_a_missing_home_is_an_error() {
        assert_eq!(run("$NOPE/x").unwrap_err(), "the variable $NOPE is not set");
        assert_eq!(run("${NOPE}").unwrap_err(), "the variable $NOPE is not set");
        assert_eq!(
            expand(b"~/x", env, None).unwrap_err(),
            "there is no home folder to expand ~ into"
        );
    }

    #[test]
    fn keeps_bytes_that_are_not_utf8() {
        let out = expand(b"/tmp/caf\xe9/$CACHE", env, None).unwrap();
        assert_eq!(out, b"/tmp/caf\xe9//data/cache");
    }

    #[test]
    fn folders_must_be_absolute_and_blank_means_unset() {
        assert_eq!(
            folder("Cache folder", OsStr::new("  ")).unwrap(),
            PathBuf::new()
        );
        assert_eq!(
            folder("Cache folder", OsStr::new(" /tmp/x \n")).unwrap(),
            PathBuf::from("/tmp/x")
        );
        assert_eq!(
            folder("Cache folder", OsStr::new("clips/here")).unwrap_err(),
            "Cache folder must be an absolute folder (or start with ~ or $VARIABLE), not \
             \"clips/here\""
        );
    }
}
