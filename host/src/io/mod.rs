//! Files: .npy arrays and atomic writes.
//!
//! Every write goes through [`write_atomic`] or [`write_atomic_with`], so a crash or a full disk never leaves a
//! half-written result file behind. Readers check every field of a file before trusting it; a bad file gives an
//! [`IoError`] that names the path and what is wrong, never a panic. The tool reads .npy files only from the
//! reference's results folders; the reader serves the crate's own tests too.

pub mod atomic;
pub mod npy;

use std::path::PathBuf;

pub use atomic::{remove_stale_temporaries, write_atomic, write_atomic_with};
pub(crate) use npy::read_npy_f64;
#[cfg(test)]
pub(crate) use npy::read_npy_i64;
pub use npy::{write_npy_f64, write_npy_i64};

/// Errors of the file layer. Each variant names the file it concerns.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// The operating system refused an operation (open, read, write, fsync, rename).
    #[error("{}", path.display())]
    Os {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The path cannot name a file to write (it has no file name, e.g. `/` or `..`).
    #[error("{}: not a file path", path.display())]
    InvalidPath {
        /// The offending path.
        path: PathBuf,
    },
    /// The file does not start like a .npy file, its header cannot be parsed, or its data cannot be decoded.
    #[error("{}: not a valid .npy file", path.display())]
    Format {
        /// The file concerned.
        path: PathBuf,
        /// What `npyz` found wrong.
        #[source]
        source: NpyError,
    },
    /// The preamble of a .npy file claims a header longer than the rest of the file.
    #[error("{}: not a valid .npy file: the header claims {claimed} bytes, but only {available} follow the preamble", path.display())]
    HeaderLength {
        /// The file concerned.
        path: PathBuf,
        /// The header length in the preamble.
        claimed: u64,
        /// The bytes after the preamble.
        available: u64,
    },
    /// The .npy file holds a different element type than requested.
    #[error("{}: expected dtype {expected}, found {found}", path.display())]
    DType {
        /// The file concerned.
        path: PathBuf,
        /// The numpy name of the requested type, e.g. `float64`.
        expected: &'static str,
        /// The numpy name (or the raw descriptor) of the type in the file, e.g. `int32`.
        found: String,
    },
    /// The .npy file stores a multi-dimensional array in Fortran (column-major) order.
    #[error("{}: Fortran-order array of shape {shape:?} is not supported (save it in C order)", path.display())]
    FortranOrder {
        /// The file concerned.
        path: PathBuf,
        /// The shape from the header.
        shape: Vec<usize>,
    },
    /// The data section of a .npy file is shorter or longer than its header's shape requires.
    #[error("{}: shape {shape:?} needs {expected_bytes} data bytes, but the file holds {found_bytes}", path.display())]
    DataLength {
        /// The file concerned.
        path: PathBuf,
        /// The shape from the header.
        shape: Vec<usize>,
        /// Bytes the shape requires.
        expected_bytes: u64,
        /// Bytes actually present after the header.
        found_bytes: u64,
    },
    /// A write was asked for with a shape whose element count differs from the data length.
    #[error("{}: shape {shape:?} holds {expected} elements, but {found} values were given", path.display())]
    ShapeMismatch {
        /// The file that was to be written.
        path: PathBuf,
        /// The requested shape.
        shape: Vec<usize>,
        /// The element count of the shape (saturated at `usize::MAX` on overflow).
        expected: usize,
        /// The number of values given.
        found: usize,
    },
}

/// What `npyz` found wrong with a .npy file: its message cut to the first line and at most 200 characters (its
/// parser quotes the header, which a hostile file can make arbitrarily long). The full error is kept.
#[derive(Debug, thiserror::Error)]
#[error("{}", cut(&.0.to_string()))]
pub struct NpyError(pub std::io::Error);

/// The first line of `text`, at most 200 characters of it.
fn cut(text: &str) -> String {
    const MAX: usize = 200;
    let line = text.lines().next().unwrap_or_default().trim_end();
    match line.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &line[..i]),
        None => line.to_string(),
    }
}

impl IoError {
    /// Wraps an operating-system error with the path it concerns.
    pub(crate) fn os(path: &std::path::Path, source: std::io::Error) -> Self {
        IoError::Os { path: path.to_path_buf(), source }
    }
}
