//! The mark of a folder the cache owns: a `CACHEDIR.TAG` (the Cache Directory Tagging standard, so backup
//! tools skip the folder too) whose comment names this plugin. The cache removes things only in a folder
//! carrying it.

use crate::nofollow;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

pub(crate) const MARKER: &str = "CACHEDIR.TAG";
const SIGNATURE: &str = "Signature: 8a477f597d28d172789f06886806bc55";
/// The line that says the tag is this cache's, not another program's.
const OWNER: &str =
    "# Clip cache of the Text to Video OpenFX plugin (org.texttovideo.TextToVideo).";

/// Whether `root` carries this cache's tag (a regular file, not followed through a symlink).
pub(crate) fn is_marked(root: &Path) -> bool {
    let Ok(bytes) = nofollow::read_bounded(&root.join(MARKER), 4096) else {
        return false;
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut lines = text.lines();
    lines.next() == Some(SIGNATURE) && lines.any(|l| l == OWNER)
}

/// Tags `root`; a tag that appeared meanwhile (another process marking it too) is fine.
pub(crate) fn mark(root: &Path) -> io::Result<()> {
    let path = root.join(MARKER);
    let mut file = match File::create_new(&path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            // Another process may have created it and not yet written it: give it a moment.
            for _ in 0..50 {
                if is_marked(root) {
                    return Ok(());
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            return Err(e);
        }
        other => other?,
    };
    let text = format!(
        "{SIGNATURE}\n{OWNER}\n# Every <64 hex digits>/ folder here is one generated clip; the plugin \
         evicts them under its size cap.\n# For information about cache directory tags see \
         https://bford.info/cachedir/\n"
    );
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn only_our_tag_marks_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!is_marked(dir.path()));
        fs::write(
            dir.path().join(MARKER),
            format!("{SIGNATURE}\n# other tool\n"),
        )
        .unwrap();
        assert!(!is_marked(dir.path()), "another program's tag");
        assert!(mark(dir.path()).is_err(), "never overwritten");
        fs::remove_file(dir.path().join(MARKER)).unwrap();
        mark(dir.path()).unwrap();
        mark(dir.path()).unwrap();
        assert!(is_marked(dir.path()));
        let text = fs::read_to_string(dir.path().join(MARKER)).unwrap();
        assert!(text.starts_with("Signature: 8a477f597d28d172789f06886806bc55\n# Clip cache of"));
    }
}
