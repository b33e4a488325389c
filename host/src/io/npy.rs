//! Writing .npy arrays of float64 and int64 with `npyz`: little-endian `<f8` / `<i8`, C order, through
//! [`write_atomic_with`]. Reading (in `read`) serves the reference's
//! results folders (`bss2 eval` of one) and this crate's tests.

mod read;

use std::io;
use std::path::Path;

use npyz::WriterBuilder;

pub(crate) use read::read_npy_f64;
#[cfg(test)]
pub(crate) use read::read_npy_i64;

use super::{IoError, write_atomic_with};

/// Writes a float64 array of the given shape (C order, little-endian `<f8`) to `path` atomically.
///
/// `shape` may be empty (a 0-d array holding one value). Fails with [`IoError::ShapeMismatch`] when the element
/// count of `shape` differs from `data.len()`, before touching the file system.
///
/// # Errors
/// [`IoError::ShapeMismatch`], or any error of [`write_atomic_with`].
pub fn write_npy_f64(path: &Path, shape: &[usize], data: &[f64]) -> Result<(), IoError> {
    write_npy(path, shape, data, "<f8")
}

/// Writes an int64 array of the given shape (C order, little-endian `<i8`) to `path` atomically.
///
/// See [`write_npy_f64`] for the shape rules.
///
/// # Errors
/// [`IoError::ShapeMismatch`], or any error of [`write_atomic_with`].
pub fn write_npy_i64(path: &Path, shape: &[usize], data: &[i64]) -> Result<(), IoError> {
    write_npy(path, shape, data, "<i8")
}

fn write_npy<T>(path: &Path, shape: &[usize], data: &[T], descr: &str) -> Result<(), IoError>
where
    T: npyz::Serialize + Copy,
{
    let expected = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    if expected != Some(data.len()) {
        return Err(IoError::ShapeMismatch {
            path: path.to_path_buf(),
            shape: shape.to_vec(),
            expected: expected.unwrap_or(usize::MAX),
            found: data.len(),
        });
    }
    let shape_u64: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    write_atomic_with(path, |w| {
        // An explicit little-endian descriptor makes files identical on every host.
        let type_str: npyz::TypeStr = descr.parse().map_err(io::Error::other)?;
        let mut writer = npyz::WriteOptions::<T>::new()
            .dtype(npyz::DType::Plain(type_str))
            .shape(&shape_u64)
            .writer(w)
            .begin_nd()?;
        writer.extend(data.iter().copied())?;
        writer.finish()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_mismatch_on_write_is_reported_and_writes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.npy");
        let err = write_npy_f64(&path, &[2, 3], &[1.0; 5]).expect_err("must fail");
        assert!(matches!(err, IoError::ShapeMismatch { expected: 6, found: 5, .. }), "{err:?}");
        assert!(err.to_string().contains("c.npy"), "{err}");
        let err = write_npy_f64(&path, &[usize::MAX, 2], &[1.0]).expect_err("overflowing shape");
        assert!(matches!(err, IoError::ShapeMismatch { .. }), "{err:?}");
        assert!(!path.exists());
    }
}
