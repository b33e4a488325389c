//! Reading and writing .npy arrays of float64 and int64.
//!
//! Writing uses `npyz` (little-endian `<f8` / `<i8`, C order) through [`write_atomic_with`]. Reading uses a small
//! parser of our own: it reads the whole file, checks magic, version, header length, the header dict, the dtype
//! and that the data section has exactly the size the shape requires, before decoding anything. That way a
//! corrupt or hostile file (huge shape, truncated data, deeply nested header) yields an [`IoError`] instead of a
//! panic, an overflow or a giant allocation.

use std::io;
use std::path::Path;

use npyz::WriterBuilder;

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

/// Reads a float64 .npy file (either byte order, C order) and returns its shape and its elements in C order.
///
/// # Errors
/// [`IoError::Os`] if the file cannot be read, [`IoError::Format`] if it is not a well-formed .npy file,
/// [`IoError::DType`] if it does not hold float64, [`IoError::FortranOrder`] for a Fortran-order matrix,
/// [`IoError::DataLength`] if the data section does not match the shape.
pub fn read_npy_f64(path: &Path) -> Result<(Vec<usize>, Vec<f64>), IoError> {
    read_npy(
        path,
        ElemKind::Float,
        "float64",
        |b, little| if little { f64::from_le_bytes(b) } else { f64::from_be_bytes(b) },
    )
}

/// Reads an int64 .npy file (either byte order, C order) and returns its shape and its elements in C order.
///
/// # Errors
/// As [`read_npy_f64`], with int64 as the expected dtype.
pub fn read_npy_i64(path: &Path) -> Result<(Vec<usize>, Vec<i64>), IoError> {
    read_npy(
        path,
        ElemKind::Int,
        "int64",
        |b, little| if little { i64::from_le_bytes(b) } else { i64::from_be_bytes(b) },
    )
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

/// The element kinds we can decode (both 8 bytes wide).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ElemKind {
    Float,
    Int,
}

fn read_npy<T>(
    path: &Path,
    kind: ElemKind,
    expected_name: &'static str,
    decode: impl Fn([u8; 8], bool) -> T,
) -> Result<(Vec<usize>, Vec<T>), IoError> {
    let bytes = std::fs::read(path).map_err(|e| IoError::os(path, e))?;
    let (header, data) = split_header(path, &bytes)?;
    let header = parse_header(path, header)?;

    let dtype = parse_descr(&header.descr);
    let little = match dtype {
        Some(Descr { kind: k, size: 8, little }) if k == kind => little,
        _ => {
            return Err(IoError::DType {
                path: path.to_path_buf(),
                expected: expected_name,
                found: numpy_name(&header.descr),
            });
        }
    };
    // For 0-d and 1-d arrays the two orders coincide; only real matrices would need a transpose.
    if header.fortran_order && header.shape.len() > 1 {
        return Err(IoError::FortranOrder { path: path.to_path_buf(), shape: header.shape });
    }

    let count = header.shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d as u64));
    let expected_bytes = count.and_then(|c| c.checked_mul(8));
    let found_bytes = data.len() as u64;
    if expected_bytes != Some(found_bytes) {
        return Err(IoError::DataLength {
            path: path.to_path_buf(),
            shape: header.shape,
            expected_bytes: expected_bytes.unwrap_or(u64::MAX),
            found_bytes,
        });
    }
    let values = data
        .chunks_exact(8)
        .map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            decode(b, little)
        })
        .collect();
    Ok((header.shape, values))
}

/// Splits a .npy file into its header text and its data section, checking magic, version and header length.
fn split_header<'a>(path: &Path, bytes: &'a [u8]) -> Result<(&'a [u8], &'a [u8]), IoError> {
    const MAGIC: &[u8] = b"\x93NUMPY";
    if bytes.len() < MAGIC.len() + 2 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(IoError::format(path, "missing the \\x93NUMPY magic"));
    }
    let (major, minor) = (bytes[6], bytes[7]);
    // Version 1 has a 2-byte header length, versions 2 and 3 a 4-byte one.
    let (len_bytes, start): (usize, usize) = match major {
        1 => (2, 10),
        2 | 3 => (4, 12),
        _ => return Err(IoError::format(path, format!("unsupported format version {major}.{minor}"))),
    };
    let Some(len_field) = bytes.get(8..8 + len_bytes) else {
        return Err(IoError::format(path, "file ends inside the header length"));
    };
    let header_len = len_field.iter().rev().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    let end = start.saturating_add(header_len);
    if end > bytes.len() {
        return Err(IoError::format(
            path,
            format!(
                "header claims {header_len} bytes, but the file has only {} after the preamble",
                bytes.len() - start
            ),
        ));
    }
    Ok((&bytes[start..end], &bytes[end..]))
}

/// The three fields of a .npy header that matter to us.
#[derive(Debug)]
struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

fn parse_header(path: &Path, text: &[u8]) -> Result<Header, IoError> {
    let text = std::str::from_utf8(text).map_err(|_| IoError::format(path, "header is not valid UTF-8"))?;
    let mut parser = Parser { s: text.as_bytes(), pos: 0 };
    let entries = parser.dict().map_err(|reason| IoError::format(path, format!("bad header dict: {reason}")))?;

    let mut descr = None;
    let mut fortran_order = None;
    let mut shape = None;
    for (key, value) in entries {
        match (key.as_str(), value) {
            ("descr", Value::Str(s)) => descr = Some(s),
            ("descr", Value::Seq(_)) => {
                return Err(IoError::format(path, "structured dtypes are not supported"));
            }
            ("fortran_order", Value::Bool(b)) => fortran_order = Some(b),
            ("shape", Value::Seq(items)) => {
                let dims = items
                    .into_iter()
                    .map(|v| match v {
                        Value::Int(n) => usize::try_from(n).map_err(|_| format!("dimension {n} is too large")),
                        _ => Err("shape entries must be non-negative integers".to_string()),
                    })
                    .collect::<Result<Vec<usize>, String>>()
                    .map_err(|reason| IoError::format(path, reason))?;
                shape = Some(dims);
            }
            ("descr" | "fortran_order" | "shape", _) => {
                return Err(IoError::format(path, format!("header key '{key}' has the wrong type")));
            }
            // numpy never writes other keys; ignoring them is harmless.
            _ => {}
        }
    }
    let missing = |k: &str| IoError::format(path, format!("header lacks the key '{k}'"));
    Ok(Header {
        descr: descr.ok_or_else(|| missing("descr"))?,
        fortran_order: fortran_order.ok_or_else(|| missing("fortran_order"))?,
        shape: shape.ok_or_else(|| missing("shape"))?,
    })
}

/// A Python literal as it can appear in a .npy header (only what numpy writes).
#[derive(Debug)]
enum Value {
    Str(String),
    Bool(bool),
    Int(u64),
    None,
    Seq(Vec<Value>),
}

/// Nesting limit for tuples and lists: real headers nest at most a few levels (structured dtypes).
const MAX_DEPTH: usize = 32;

/// A recursive-descent parser for the header dict, with bounded nesting so a hostile header cannot overflow
/// the stack.
struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' at byte {}", c as char, self.pos))
        }
    }

    fn dict(&mut self) -> Result<Vec<(String, Value)>, String> {
        self.expect(b'{')?;
        let mut entries = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(b'}') {
                self.pos += 1;
                break;
            }
            let Value::Str(key) = self.value(0)? else {
                return Err(format!("dict key at byte {} is not a string", self.pos));
            };
            self.expect(b':')?;
            let value = self.value(0)?;
            entries.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => return Err(format!("expected ',' or '}}' at byte {}", self.pos)),
            }
        }
        self.skip_ws();
        if self.pos != self.s.len() {
            return Err(format!("unexpected text after the dict at byte {}", self.pos));
        }
        Ok(entries)
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        self.skip_ws();
        match self.peek() {
            Some(q @ (b'\'' | b'"')) => self.string(q),
            Some(open @ (b'(' | b'[')) => {
                if depth >= MAX_DEPTH {
                    return Err("header nests too deeply".to_string());
                }
                self.pos += 1;
                let close = if open == b'(' { b')' } else { b']' };
                let mut items = Vec::new();
                loop {
                    self.skip_ws();
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        return Ok(Value::Seq(items));
                    }
                    items.push(self.value(depth + 1)?);
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(c) if c == close => {}
                        _ => return Err(format!("expected ',' or '{}' at byte {}", close as char, self.pos)),
                    }
                }
            }
            Some(b'0'..=b'9') => self.int(),
            Some(b'-') => Err(format!("negative number at byte {}", self.pos)),
            Some(_) => self.word(),
            None => Err("header ends where a value was expected".to_string()),
        }
    }

    fn string(&mut self, quote: u8) -> Result<Value, String> {
        let start = self.pos + 1;
        let Some(len) = self.s[start..].iter().position(|&c| c == quote) else {
            return Err(format!("unterminated string at byte {}", self.pos));
        };
        let raw = &self.s[start..start + len];
        if raw.contains(&b'\\') {
            return Err(format!("escape sequences in strings are not supported (byte {})", self.pos));
        }
        self.pos = start + len + 1;
        // The slice lies between ASCII quotes of a valid UTF-8 string, so it is valid UTF-8 itself.
        Ok(Value::Str(String::from_utf8_lossy(raw).into_owned()))
    }

    fn int(&mut self) -> Result<Value, String> {
        let start = self.pos;
        let mut n: u64 = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(c - b'0')))
                .ok_or_else(|| format!("integer at byte {start} is too large"))?;
            self.pos += 1;
        }
        // Python 2 era files wrote long integers as `3L`.
        if self.peek() == Some(b'L') {
            self.pos += 1;
        }
        Ok(Value::Int(n))
    }

    fn word(&mut self) -> Result<Value, String> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_') {
            self.pos += 1;
        }
        match &self.s[start..self.pos] {
            b"True" => Ok(Value::Bool(true)),
            b"False" => Ok(Value::Bool(false)),
            b"None" => Ok(Value::None),
            _ => Err(format!("unexpected token at byte {start}")),
        }
    }
}

/// A decoded plain dtype descriptor such as `<f8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Descr {
    kind: ElemKind,
    size: usize,
    little: bool,
}

/// Parses the descriptors we can read; `None` for anything else (the caller reports it by name).
fn parse_descr(descr: &str) -> Option<Descr> {
    let (order, rest) = split_byte_order(descr);
    let little = match order {
        '<' => true,
        '>' => false,
        // '=' (native) and '|' (not applicable) both mean the machine's order.
        _ => cfg!(target_endian = "little"),
    };
    let kind = match rest.as_bytes().first()? {
        b'f' => ElemKind::Float,
        b'i' => ElemKind::Int,
        _ => return None,
    };
    let size = rest[1..].parse().ok()?;
    Some(Descr { kind, size, little })
}

fn split_byte_order(descr: &str) -> (char, &str) {
    match descr.chars().next() {
        Some(c @ ('<' | '>' | '=' | '|')) => (c, &descr[1..]),
        _ => ('=', descr),
    }
}

/// numpy's name for a descriptor (`<i4` → `int32`), for error messages; unknown ones are returned verbatim.
fn numpy_name(descr: &str) -> String {
    let (_, rest) = split_byte_order(descr);
    let name = match rest {
        "b1" | "?" => "bool",
        "f2" => "float16",
        "f4" => "float32",
        "f8" => "float64",
        "f16" => "float128",
        "i1" => "int8",
        "i2" => "int16",
        "i4" => "int32",
        "i8" => "int64",
        "u1" => "uint8",
        "u2" => "uint16",
        "u4" => "uint32",
        "u8" => "uint64",
        "c8" => "complex64",
        "c16" => "complex128",
        "O" | "O8" => "object",
        _ => return format!("'{descr}'"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
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
    fn big_endian_and_python2_headers_are_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut data = Vec::new();
        for v in [1.5f64, -2.25] {
            data.extend_from_slice(&v.to_be_bytes());
        }
        let path = write_file(
            dir.path(),
            "be.npy",
            &npy_bytes("{\"descr\": \">f8\", \"fortran_order\": False, \"shape\": (1L, 2L)}", &data),
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
            ("version", b"\x93NUMPY\x09\x00\x10\x00".to_vec(), "version 9.0"),
            ("short_len", b"\x93NUMPY\x01\x00\x10".to_vec(), "header length"),
            ("long_header", b"\x93NUMPY\x01\x00\xff\xff{}".to_vec(), "header claims 65535 bytes"),
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
                "too large",
            ),
            ("negative", npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", &[]), "negative"),
            ("missing", npy_bytes("{'descr': '<f8', 'shape': (1,), }", &[0; 8]), "lacks the key 'fortran_order'"),
            ("wrong_type", npy_bytes("{'descr': '<f8', 'fortran_order': 0, 'shape': (1,), }", &[0; 8]), "wrong type"),
            ("not_dict", npy_bytes("[1, 2]", &[]), "expected '{'"),
            ("unterminated", npy_bytes("{'descr: '<f8'}", &[]), "bad header"),
            (
                "structured",
                npy_bytes("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }", &[0; 8]),
                "structured",
            ),
            (
                "nested",
                npy_bytes(&format!("{{'shape': {}1{}}}", "(".repeat(5000), ")".repeat(5000)), &[]),
                "nests too deeply",
            ),
            ("latin1", b"\x93NUMPY\x01\x00\x02\x00\xff\xfe".to_vec(), "UTF-8"),
        ];
        for (name, bytes, needle) in cases {
            let path = write_file(dir.path(), &format!("{name}.npy"), &bytes);
            let err = read_npy_f64(&path).expect_err(name);
            let msg = err.to_string();
            assert!(msg.contains(&format!("{name}.npy")), "{name}: {msg}");
            assert!(msg.contains(needle), "{name}: expected '{needle}' in: {msg}");
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
