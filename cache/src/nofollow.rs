//! Opening files of the cache folder safely: never through a symlink (a planted link must not make the
//! cache read or write outside its folder), never blocking (a FIFO would freeze the caller in `open`), only
//! regular files, and never reading more than the caller allows.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

/// Opens `path` for reading; its last component must be a regular file, not a symlink, FIFO or device.
pub(crate) fn open_regular(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    checked(path, options)
}

/// Opens `path` for writing, creating it if missing (never through a symlink); it must be a regular file.
pub(crate) fn open_or_create(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(false);
    checked(path, options)
}

/// Reads the regular file at `path` whole, refusing (before reading) one larger than `limit` bytes.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let file = open_regular(path)?;
    let len = file.metadata()?.len();
    if len > limit {
        return Err(io::Error::other(format!(
            "{len} bytes, more than the {limit} it may have"
        )));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    // A file growing after the check is read only up to the limit and then fails its size or checksum test.
    file.take(limit).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Bytes `metadata` (of a file not followed through symlinks) occupies on disk: allocated blocks where the
/// platform reports them, so a sparse file counts what it really uses.
pub(crate) fn disk_usage(metadata: &Metadata) -> u64 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        metadata.blocks() * 512
    }
    #[cfg(not(unix))]
    {
        metadata.len()
    }
}

/// Whether two metadata (an open file's, a path's not followed) are of the same file: same device and
/// inode on unix; elsewhere (no such numbers in std) assumed.
pub(crate) fn same_file(a: &Metadata, b: &Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (a.dev(), a.ino()) == (b.dev(), b.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = (a, b);
        true
    }
}

fn checked(path: &Path, mut options: OpenOptions) -> io::Result<File> {
    no_follow(&mut options);
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    Ok(file)
}

#[cfg(unix)]
fn no_follow(options: &mut OpenOptions) {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK only matters for what is refused right after: a FIFO or device opens without waiting.
    options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
}

#[cfg(windows)]
fn no_follow(options: &mut OpenOptions) {
    use std::os::windows::fs::OpenOptionsExt;
    /// Opens a symlink (reparse point) itself, which the regular-file check then refuses.
    const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;
    options.custom_flags(FILE_FLAG_OPEN_REPARSE_POINT);
}

#[cfg(not(any(unix, windows)))]
fn no_follow(_options: &mut OpenOptions) {}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn refuses_symlinks_fifos_devices_and_oversized_files() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::write(&target, b"outside").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let fifo = dir.path().join("fifo");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);

        assert_eq!(
            open_regular(&link).unwrap_err().raw_os_error(),
            Some(libc::ELOOP)
        );
        assert_eq!(
            open_or_create(&link).unwrap_err().raw_os_error(),
            Some(libc::ELOOP)
        );
        assert_eq!(fs::read(&target).unwrap(), b"outside");
        assert_eq!(
            open_regular(&fifo).unwrap_err().to_string(),
            "not a regular file"
        );
        assert_eq!(
            open_regular(Path::new("/dev/zero"))
                .unwrap_err()
                .to_string(),
            "not a regular file"
        );
        assert_eq!(read_bounded(&target, 7).unwrap(), b"outside");
        assert_eq!(
            read_bounded(&target, 6).unwrap_err().to_string(),
            "7 bytes, more than the 6 it may have"
        );
    }
}
