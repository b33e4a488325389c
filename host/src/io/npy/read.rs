//! Reading .npy arrays of float64 and int64, for this crate's tests: the whole file, its header parsed by
//! `npyz`, then checked here before any element is decoded (dtype, order, and that the data section has exactly
//! the size the shape requires), so a corrupt or hostile file (huge shape, truncated data, deeply nested
//! header) yields an [`IoError`] naming the file instead of a panic or a giant allocation.

use std::path::Path;

use npyz::{DType, Order, TypeChar};

use crate::io::{IoError, NpyError};

/// Reads a float64 .npy file (either byte order, C order) and returns its shape and its elements in C order.
///
/// # Errors
/// [`IoError::Os`] if the file cannot be read, [`IoError::Format`] or [`IoError::HeaderLength`] if it is not a
/// well-formed .npy file, [`IoError::DType`] if it does not hold float64, [`IoError::FortranOrder`] for a
/// Fortran-order matrix, [`IoError::DataLength`] if the data section does not match the shape.
pub fn read_npy_f64(path: &Path) -> Result<(Vec<usize>, Vec<f64>), IoError> {
    read_npy(path, TypeChar::Float, "float64")
}

/// Reads an int64 .npy file (either byte order, C order) and returns its shape and its elements in C order.
///
/// # Errors
/// As [`read_npy_f64`], with int64 as the expected dtype.
#[cfg(test)]
pub fn read_npy_i64(path: &Path) -> Result<(Vec<usize>, Vec<i64>), IoError> {
    read_npy(path, TypeChar::Int, "int64")
}

/// Both element types we read are 8 bytes wide.
const ELEMENT_BYTES: u64 = 8;

fn read_npy<T: npyz::Deserialize>(
    path: &Path,
    kind: TypeChar,
    expected_name: &'static str,
) -> Result<(Vec<usize>, Vec<T>), IoError> {
    let bytes = std::fs::read(path).map_err(|e| IoError::os(path, e))?;
    check_header_length(path, &bytes)?;
    let format = |e| IoError::Format { path: path.to_path_buf(), source: NpyError(e) };
    let mut data = bytes.as_slice();
    let header = npyz::NpyHeader::from_reader(&mut data).map_err(format)?;

    match header.dtype() {
        DType::Plain(t) if t.type_char() == kind && t.size_field() == ELEMENT_BYTES => {}
        other => {
            return Err(IoError::DType {
                path: path.to_path_buf(),
                expected: expected_name,
                found: numpy_name(&other),
            });
        }
    }
    let shape = header.shape().to_vec();
    // For 0-d and 1-d arrays the two orders coincide; only real matrices would need a transpose.
    if header.order() == Order::Fortran && shape.len() > 1 {
        return Err(IoError::FortranOrder { path: path.to_path_buf(), shape: dims(&shape) });
    }
    // Checked here, not trusted from `npyz` (whose element count wraps around on overflow).
    let count = shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
    let expected_bytes = count.and_then(|c| c.checked_mul(ELEMENT_BYTES));
    let found_bytes = data.len() as u64;
    if expected_bytes != Some(found_bytes) {
        return Err(IoError::DataLength {
            path: path.to_path_buf(),
            shape: dims(&shape),
            expected_bytes: expected_bytes.unwrap_or(u64::MAX),
            found_bytes,
        });
    }
    let values = npyz::NpyFile::with_header(header, data).into_vec::<T>().map_err(format)?;
    Ok((dims(&shape), values))
}

/// Dimensions as `usize`, saturated (a dimension that large fails the length check anyway).
fn dims(shape: &[u64]) -> Vec<usize> {
    shape.iter().map(|&d| usize::try_from(d).unwrap_or(usize::MAX)).collect()
}

/// Checks that the header length in the preamble fits in the file, before `npyz` allocates a buffer of that
/// length (up to 4 GiB). Files too short for a preamble are left to `npyz`, which names what is missing.
fn check_header_length(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    // Version 1 has a 2-byte header length after the 8 bytes of magic and version, versions 2 and 3 a 4-byte one.
    let (claimed, start) = match (bytes.get(6), bytes.get(8..12)) {
        (Some(1), Some(len)) => (u64::from(u16::from_le_bytes([len[0], len[1]])), 10),
        (Some(2 | 3), Some(len)) => (u64::from(u32::from_le_bytes([len[0], len[1], len[2], len[3]])), 12),
        _ => return Ok(()),
    };
    let available = bytes.len().saturating_sub(start) as u64;
    if claimed > available {
        return Err(IoError::HeaderLength { path: path.to_path_buf(), claimed, available });
    }
    Ok(())
}

/// numpy's name for a dtype (`<i4` → `int32`), for error messages; unknown ones are quoted verbatim.
fn numpy_name(dtype: &DType) -> String {
    let DType::Plain(t) = dtype else { return format!("the structured dtype {}", dtype.descr()) };
    let name = match (t.type_char(), t.size_field()) {
        (TypeChar::Bool, 1) => "bool",
        (TypeChar::Float, 2) => "float16",
        (TypeChar::Float, 4) => "float32",
        (TypeChar::Float, 8) => "float64",
        (TypeChar::Float, 16) => "float128",
        (TypeChar::Int, 1) => "int8",
        (TypeChar::Int, 2) => "int16",
        (TypeChar::Int, 4) => "int32",
        (TypeChar::Int, 8) => "int64",
        (TypeChar::Uint, 1) => "uint8",
        (TypeChar::Uint, 2) => "uint16",
        (TypeChar::Uint, 4) => "uint32",
        (TypeChar::Uint, 8) => "uint64",
        (TypeChar::Complex, 8) => "complex64",
        (TypeChar::Complex, 16) => "complex128",
        (TypeChar::Object, _) => "object",
        _ => return format!("'{t}'"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::io::{write_npy_f64, write_npy_i64};
    use proptest::prelude::*;

    /// Builds a version-1 .npy file from a header dict and raw data, as numpy lays it out.
    fn npy_bytes(dict: &str, data: &[u8]) -> Vec<u8> {
        let mut header = dict.as_bytes().to_vec();
        while !(10 + header.len() + 1).is_multiple_of(64) {
            header.push(b' ');
        }
        header.push(b'\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(data);
        out
    }

    /// The error with its causes, as the CLI prints it.
    fn chain(err: &IoError) -> String {
        let mut text = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(s) = source {
            text = format!("{text}: {s}");
            source = s.source();
        }
        text
    }

    fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write fixture");
        path
    }

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/yinyang").join(name)
    }

    #[test]
    fn f64_round_trip_preserves_bits_and_shape() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.npy");
        let data = [0.1, -0.0, f64::INFINITY, f64::NEG_INFINITY, 1e-310, f64::MAX, 2.5];
        let nan = f64::from_bits(0x7ff8_0000_dead_beef);
        let mut all = data.to_vec();
        all.push(nan);
        write_npy_f64(&path, &[2, 4], &all).expect("write");
        let (shape, back) = read_npy_f64(&path).expect("read");
        assert_eq!(shape, vec![2, 4]);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back), bits(&all));
        // Little-endian `<f8`, C order, as numpy writes it.
        let raw = std::fs::read(&path).expect("read raw");
        let text = String::from_utf8_lossy(&raw[10..]);
        assert!(text.contains("'descr': '<f8'") && text.contains("'fortran_order': False"), "{text}");
    }

    #[test]
    fn i64_round_trip_including_0d_and_empty_arrays() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("b.npy");
        let data = [i64::MIN, -1, 0, 1, i64::MAX, 42];
        write_npy_i64(&path, &[3, 1, 2], &data).expect("write");
        assert_eq!(read_npy_i64(&path).expect("read"), (vec![3, 1, 2], data.to_vec()));

        write_npy_i64(&path, &[], &[7]).expect("write 0-d");
        assert_eq!(read_npy_i64(&path).expect("read 0-d"), (vec![], vec![7]));

        write_npy_f64(&path, &[0, 4], &[]).expect("write empty");
        assert_eq!(read_npy_f64(&path).expect("read empty"), (vec![0, 4], vec![]));
    }

    #[test]
    fn reads_published_yinyang_fixture() {
        let (shape, samples) = read_npy_f64(&fixture("test_samples.npy")).expect("samples");
        assert_eq!(shape, vec![1000, 4]);
        assert_eq!(samples.len(), 4000);
        // Each row is (x, y, 1-x, 1-y).
        for row in samples.chunks_exact(4) {
            assert_eq!((1.0 - row[0]).to_bits(), row[2].to_bits());
            assert_eq!((1.0 - row[1]).to_bits(), row[3].to_bits());
        }
        let (shape, labels) = read_npy_i64(&fixture("test_labels.npy")).expect("labels");
        assert_eq!(shape, vec![1000]);
        assert!(labels.iter().all(|&l| (0..3).contains(&l)));
    }

    #[test]
    fn wrong_dtype_names_path_and_both_types() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_file(
            dir.path(),
            "x.npy",
            &npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", &[0; 8]),
        );
        let err = read_npy_f64(&path).expect_err("must fail");
        assert_eq!(err.to_string(), format!("{}: expected dtype float64, found int32", path.display()));

        let err = read_npy_i64(&fixture("test_samples.npy")).expect_err("float file read as int");
        assert!(err.to_string().ends_with("test_samples.npy: expected dtype int64, found float64"), "{err}");

        let path = write_file(
            dir.path(),
            "s.npy",
            &npy_bytes("{'descr': '|S3', 'fortran_order': False, 'shape': (1,), }", b"abc"),
        );
        let err = read_npy_i64(&path).expect_err("must fail");
        assert!(err.to_string().ends_with("expected dtype int64, found '|S3'"), "{err}");
    }

    #[test]
    fn big_endian_headers_are_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut data = Vec::new();
        for v in [1.5f64, -2.25] {
            data.extend_from_slice(&v.to_be_bytes());
        }
        let path = write_file(
            dir.path(),
            "be.npy",
            &npy_bytes("{\"descr\": \">f8\", \"fortran_order\": False, \"shape\": (1, 2)}", &data),
        );
        assert_eq!(read_npy_f64(&path).expect("read"), (vec![1, 2], vec![1.5, -2.25]));
    }

    #[test]
    fn fortran_order_matrices_are_rejected_but_vectors_accepted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = [0u8; 32];
        let path = write_file(
            dir.path(),
            "f.npy",
            &npy_bytes("{'descr': '<i8', 'fortran_order': True, 'shape': (2, 2), }", &data),
        );
        assert!(matches!(read_npy_i64(&path), Err(IoError::FortranOrder { .. })));
        let path = write_file(
            dir.path(),
            "v.npy",
            &npy_bytes("{'descr': '<i8', 'fortran_order': True, 'shape': (4,), }", &data),
        );
        assert_eq!(read_npy_i64(&path).expect("read").1, vec![0; 4]);
    }

    #[test]
    fn bad_files_give_errors_not_panics() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("empty", vec![], "magic"),
            ("text", b"hello world, not numpy".to_vec(), "magic"),
            ("version", b"\x93NUMPY\x09\x00\x10\x00".to_vec(), "unsupported version: (9, 0)"),
            ("short_len", b"\x93NUMPY\x01\x00\x10".to_vec(), "failed to fill whole buffer"),
            (
                "long_header",
                b"\x93NUMPY\x01\x00\xff\xff{}".to_vec(),
                "the header claims 65535 bytes, but only 2 follow",
            ),
            ("truncated", npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", &[0; 16]), "needs 24"),
            ("trailing", npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", &[0; 9]), "holds 9"),
            (
                "overflow",
                npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", &[]),
                "needs 18446744073709551615",
            ),
            (
                "huge_int",
                npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,), }", &[]),
                "larger than u64",
            ),
            ("negative", npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", &[]), "negative"),
            ("missing", npy_bytes("{'descr': '<f8', 'shape': (1,), }", &[0; 8]), "missing key 'fortran_order'"),
            (
                "wrong_type",
                npy_bytes("{'descr': '<f8', 'fortran_order': 0, 'shape': (1,), }", &[0; 8]),
                "'fortran_order' value is not a bool",
            ),
            ("not_dict", npy_bytes("[1, 2]", &[]), "expected a python dict literal"),
            ("unterminated", npy_bytes("{'descr: '<f8'}", &[]), "could not parse Python expression"),
            (
                "found the structured dtype [('a', '<f8'), ]",
                npy_bytes("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }", &[0; 8]),
                "found the structured dtype [('a', '<f8'), ]",
            ),
            (
                "nested",
                npy_bytes(&format!("{{'shape': {}1{}}}", "(".repeat(5000), ")".repeat(5000)), &[]),
                "could not parse Python expression",
            ),
            ("latin1", b"\x93NUMPY\x01\x00\x02\x00\xff\xfe".to_vec(), "could not parse utf-8"),
            // Nesting far beyond what the parser recurses into, in a version-2 header (4-byte length).
            (
                "deep",
                {
                    let text = format!("{{'shape': {}1{}}}\n", "(".repeat(1_000_000), ")".repeat(1_000_000));
                    let mut b = b"\x93NUMPY\x02\x00".to_vec();
                    b.extend_from_slice(&(text.len() as u32).to_le_bytes());
                    b.extend_from_slice(text.as_bytes());
                    b
                },
                "syntax error",
            ),
        ];
        for (name, bytes, needle) in cases {
            let path = write_file(dir.path(), &format!("{name}.npy"), &bytes);
            let err = read_npy_f64(&path).expect_err(name);
            let msg = chain(&err);
            assert!(msg.contains(&format!("{name}.npy")), "{name}: {msg}");
            assert!(msg.contains(needle), "{name}: expected '{needle}' in: {msg}");
            // Each cause on one line, however long the header it quotes.
            assert!(!msg.contains('\n') && msg.len() < 400, "{name}: {msg}");
        }
        let err = read_npy_f64(&dir.path().join("absent.npy")).expect_err("missing file");
        assert!(matches!(err, IoError::Os { .. }) && err.to_string().contains("absent.npy"), "{err}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Arbitrary corruption of a valid file is either read or rejected, never a panic.
        #[test]
        fn corrupted_files_never_panic(
            flips in proptest::collection::vec((0usize..200, any::<u8>()), 0..8),
            cut in 0usize..200,
        ) {
            let dir = tempfile::tempdir().expect("tempdir");
            let mut bytes = npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", &[0x3f; 48]);
            for (i, b) in flips {
                let n = bytes.len();
                bytes[i % n] = b;
            }
            bytes.truncate(cut.max(1));
            let path = write_file(dir.path(), "p.npy", &bytes);
            let _ = read_npy_f64(&path);
            let _ = read_npy_i64(&path);
        }

        /// Whatever shape and values are written come back identical.
        #[test]
        fn round_trip_any_shape(dims in proptest::collection::vec(0usize..4, 0..4), seed in any::<u64>()) {
            let dir = tempfile::tempdir().expect("tempdir");
            let n: usize = dims.iter().product();
            let data: Vec<i64> = (0..n as u64).map(|i| (i.wrapping_mul(seed) ^ seed) as i64).collect();
            let path = dir.path().join("r.npy");
            write_npy_i64(&path, &dims, &data).expect("write");
            prop_assert_eq!(read_npy_i64(&path).expect("read"), (dims, data));
        }
    }
}
