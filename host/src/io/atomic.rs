//! Atomic file writes: write a temporary file next to the target, fsync it, then rename it over the target.
//!
//! A rename within one directory is atomic on POSIX file systems (and replaces the target on Windows), so a
//! reader sees either the old complete file or the new complete file, never a partial one. The temporary file
//! lives in the target's directory because a rename across file systems is not atomic (and often fails).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::IoError;

/// Distinguishes temporary files of concurrent writes from the same process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// How often to retry when a temporary name is already taken (e.g. left over by a killed process).
const MAX_NAME_ATTEMPTS: u32 = 64;

/// Writes `bytes` to `path` atomically: the file at `path` is either left untouched or replaced as a whole.
///
/// The parent directory must exist. On error the temporary file is removed.
///
/// # Errors
/// [`IoError::InvalidPath`] if `path` has no file name; [`IoError::Os`] if creating, writing, syncing or renaming
/// fails.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Writes the output of `write` to `path` atomically, for streaming writers.
///
/// `write` receives a buffered writer into a temporary file in the same directory as `path`. When it returns
/// `Ok`, the data is flushed, fsynced and renamed over `path`; when it (or any later step) fails, the temporary
/// file is removed and `path` is left as it was.
///
/// # Errors
/// As [`write_atomic`]; an error returned by `write` is reported as [`IoError::Os`] with the target path.
pub fn write_atomic_with<F>(path: &Path, write: F) -> Result<(), IoError>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let file_name = path.file_name().ok_or_else(|| IoError::InvalidPath { path: path.to_path_buf() })?;
    // `Path::parent` is `Some("")` for a bare file name: that means the current directory.
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let (tmp_path, file) = create_temp(&dir, file_name, path)?;

    let result = fill_and_sync(file, write).and_then(|()| fs::rename(&tmp_path, path));
    if let Err(source) = result {
        // Best effort: the original error is what matters to the caller.
        let _ = fs::remove_file(&tmp_path);
        return Err(IoError::os(path, source));
    }
    sync_dir(&dir);
    Ok(())
}

/// Creates a fresh temporary file `.<name>.<pid>.<n>.tmp` in `dir`, never reusing an existing one.
fn create_temp(dir: &Path, file_name: &std::ffi::OsStr, target: &Path) -> Result<(PathBuf, File), IoError> {
    let pid = std::process::id();
    let mut last_err = None;
    for _ in 0..MAX_NAME_ATTEMPTS {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut name = std::ffi::OsString::from(".");
        name.push(file_name);
        name.push(format!(".{pid}.{n}.tmp"));
        let tmp_path = dir.join(name);
        match OpenOptions::new().write(true).create_new(true).open(&tmp_path) {
            Ok(file) => return Ok((tmp_path, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_err = Some(e),
            Err(e) => return Err(IoError::os(target, e)),
        }
    }
    let err = last_err.unwrap_or_else(|| io::Error::other("could not create a temporary file"));
    Err(IoError::os(target, err))
}

/// Runs the caller's writer, then flushes and fsyncs so the data is on disk before the rename makes it visible.
fn fill_and_sync<F>(file: File, write: F) -> io::Result<()>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let mut buffered = BufWriter::new(file);
    write(&mut buffered)?;
    buffered.flush()?;
    let file = buffered.into_inner().map_err(io::IntoInnerError::into_error)?;
    file.sync_all()
}

/// Fsyncs the directory so the rename itself survives a crash. Best effort: some file systems refuse to fsync a
/// directory, and by now the new file is already complete and in place.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Removes temporary files that [`write_atomic`] left in `dir` when its process was killed mid-write
/// (`.<name>.<pid>.<n>.tmp`). The files they were meant to replace are intact. Returns how many were removed.
pub fn remove_stale_temporaries(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with('.') && name.ends_with(".tmp") && name.matches('.').count() >= 4
        })
        .filter(|e| fs::remove_file(e.path()).is_ok())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn writes_and_replaces_without_leftovers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out.bin");
        write_atomic(&path, b"first").expect("first write");
        assert_eq!(fs::read(&path).expect("read"), b"first");
        write_atomic(&path, b"second, longer").expect("second write");
        assert_eq!(fs::read(&path).expect("read"), b"second, longer");
        assert_eq!(entries(dir.path()), vec!["out.bin".to_string()]);
    }

    #[test]
    fn failing_writer_keeps_old_file_and_removes_temp() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keep.txt");
        write_atomic(&path, b"old").expect("write");
        let err = write_atomic_with(&path, |w| {
            w.write_all(b"partial new content")?;
            Err(io::Error::other("writer gave up"))
        })
        .expect_err("must fail");
        // The path, then the writer's own error as the cause.
        let cause = std::error::Error::source(&err).map(ToString::to_string).unwrap_or_default();
        assert!(err.to_string().contains("keep.txt") && cause == "writer gave up", "{err:?}");
        assert_eq!(fs::read(&path).expect("read"), b"old");
        assert_eq!(entries(dir.path()), vec!["keep.txt".to_string()]);
    }

    #[test]
    fn streaming_writer_output_lands_in_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("stream.txt");
        write_atomic_with(&path, |w| {
            for i in 0..1000 {
                writeln!(w, "{i}")?;
            }
            Ok(())
        })
        .expect("write");
        let text = fs::read_to_string(&path).expect("read");
        assert_eq!(text.lines().count(), 1000);
        assert_eq!(text.lines().last(), Some("999"));
    }

    #[test]
    fn missing_directory_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("no/such/dir/x.npy");
        let err = write_atomic(&path, b"x").expect_err("must fail");
        assert!(matches!(err, IoError::Os { .. }));
        assert!(err.to_string().contains("no/such/dir/x.npy"), "{err}");
    }

    #[test]
    fn path_without_file_name_is_rejected() {
        let err = write_atomic(Path::new(".."), b"x").expect_err("must fail");
        assert!(matches!(err, IoError::InvalidPath { .. }), "{err:?}");
    }
}
