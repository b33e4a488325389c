//! Named float64 tensors with string metadata, stored as safetensors (readable by PyTorch and numpy users).
//!
//! Reading uses the `safetensors` crate. Writing lays the file out here, because the crate serialises the
//! metadata from a `HashMap`, whose order changes from run to run: we write the same layout (header length,
//! JSON header padded with spaces to a multiple of 8 bytes, then the data) with the metadata and the tensors in
//! name order, so the same tensors and metadata always give the same bytes.

use std::collections::BTreeMap;

use safetensors::SafeTensorError;
use safetensors::tensor::{Dtype, SafeTensors};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

/// The largest header the `safetensors` reader accepts (its `MAX_HEADER_SIZE`); we refuse to write larger ones.
const MAX_HEADER_BYTES: usize = 100_000_000;

/// A problem with a tensor file (a network or a resume point).
#[derive(Debug, thiserror::Error)]
pub enum TensorError {
    /// Not a readable safetensors file.
    #[error("not a valid safetensors file")]
    Format(#[source] SafeTensorError),
    /// A tensor the caller needs is absent.
    #[error("tensor {0:?} is missing")]
    Missing(String),
    /// A tensor has another shape than the network (or optimiser) needs.
    #[error("tensor {name:?} has shape {found:?}, expected {expected:?}")]
    Shape {
        /// The tensor.
        name: String,
        /// Its shape in the file.
        found: Vec<usize>,
        /// The shape required.
        expected: Vec<usize>,
    },
    /// A tensor is not float64.
    #[error("tensor {name:?} has dtype {dtype}, expected F64")]
    DType {
        /// The tensor.
        name: String,
        /// Its dtype in the file.
        dtype: String,
    },
    /// A tensor to be written has a shape whose element count differs from its number of values.
    #[error("tensor {name:?}: shape {shape:?} holds {expected} values, but {found} were given")]
    Length {
        /// The tensor.
        name: String,
        /// Its shape.
        shape: Vec<usize>,
        /// The element count of the shape (saturated at `usize::MAX` on overflow).
        expected: usize,
        /// The number of values given.
        found: usize,
    },
    /// A tensor holds NaN or an infinity where only finite numbers make sense (weights, delays, moments).
    #[error("tensor {name:?} holds {value} at index {index:?}: only finite values are allowed")]
    NonFinite {
        /// The tensor.
        name: String,
        /// The first bad element, one index per dimension.
        index: Vec<usize>,
        /// Its value.
        value: f64,
    },
    /// A tensor named like a layer's parameters that the network has no place for.
    #[error("tensor {0:?} does not belong to any layer of this network")]
    Unexpected(String),
    /// The header to be written exceeds what safetensors readers accept.
    #[error("the header would take {0} bytes, more than safetensors readers accept ({MAX_HEADER_BYTES})")]
    HeaderTooLarge(usize),
    /// The file holds tensors but no resume metadata: it is a network file, not a resume point.
    #[error("no resume metadata: not a resume point")]
    NotAResumePoint,
    /// The resume metadata cannot be read.
    #[error("the resume metadata is not valid")]
    ResumeMetadata(#[source] serde_json::Error),
    /// The resume point was written in another layout.
    #[error("resume point format {found:?}, expected {expected:?}")]
    ResumeFormat {
        /// The format named in the file.
        found: String,
        /// The format this version reads.
        expected: &'static str,
    },
    /// The resume metadata contradicts itself or the network (what is wrong, in words).
    #[error("inconsistent resume point: {0}")]
    Inconsistent(String),
}

/// Named float64 tensors plus metadata.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TensorFile {
    /// Tensors by name: (shape, values in row-major order).
    pub tensors: BTreeMap<String, (Vec<usize>, Vec<f64>)>,
    /// Free-form metadata.
    pub metadata: BTreeMap<String, String>,
}

/// The per-tensor entry of a safetensors header (field order as the `safetensors` crate writes it).
#[derive(Serialize)]
struct Entry<'a> {
    dtype: &'static str,
    shape: &'a [usize],
    data_offsets: [usize; 2],
}

/// The JSON header: `__metadata__` first, then every tensor in name order with consecutive data offsets.
struct Header<'a>(&'a TensorFile);

impl Serialize for Header<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.tensors.len() + 1))?;
        // A BTreeMap: keys in sorted order.
        map.serialize_entry("__metadata__", &self.0.metadata)?;
        let mut offset = 0;
        for (name, (shape, values)) in &self.0.tensors {
            let end = offset + 8 * values.len();
            map.serialize_entry(name, &Entry { dtype: "F64", shape, data_offsets: [offset, end] })?;
            offset = end;
        }
        map.end()
    }
}

impl TensorFile {
    /// Adds a tensor.
    pub fn insert(&mut self, name: impl Into<String>, shape: Vec<usize>, values: Vec<f64>) {
        self.tensors.insert(name.into(), (shape, values));
    }

    /// The tensor `name`, checked to have `shape`.
    fn get(&self, name: &str, shape: &[usize]) -> Result<&[f64], TensorError> {
        let (have, values) = self.tensors.get(name).ok_or_else(|| TensorError::Missing(name.to_string()))?;
        if have != shape {
            return Err(TensorError::Shape { name: name.into(), found: have.clone(), expected: shape.to_vec() });
        }
        Ok(values)
    }

    /// The tensor `name`, checked to have `shape` and to hold only finite values.
    pub fn get_finite(&self, name: &str, shape: &[usize]) -> Result<&[f64], TensorError> {
        let values = self.get(name, shape)?;
        match values.iter().position(|v| !v.is_finite()) {
            None => Ok(values),
            Some(flat) => {
                Err(TensorError::NonFinite { name: name.into(), index: unravel(flat, shape), value: values[flat] })
            }
        }
    }

    /// Serialises to safetensors bytes; the same tensors and metadata always give the same bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, TensorError> {
        for (name, (shape, values)) in &self.tensors {
            let expected = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
            if expected != Some(values.len()) {
                return Err(TensorError::Length {
                    name: name.clone(),
                    shape: shape.clone(),
                    expected: expected.unwrap_or(usize::MAX),
                    found: values.len(),
                });
            }
        }
        let mut header = serde_json::to_vec(&Header(self)).expect("a map of strings and integers serialises to JSON");
        // The data starts 8-byte aligned, as the format recommends and the crate does.
        header.resize(header.len().next_multiple_of(8), b' ');
        if header.len() > MAX_HEADER_BYTES {
            return Err(TensorError::HeaderTooLarge(header.len()));
        }
        let data_len: usize = self.tensors.values().map(|(_, v)| 8 * v.len()).sum();
        let mut out = Vec::with_capacity(8 + header.len() + data_len);
        out.extend_from_slice(&(header.len() as u64).to_le_bytes());
        out.extend_from_slice(&header);
        for (_, values) in self.tensors.values() {
            out.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        }
        Ok(out)
    }

    /// Parses safetensors bytes; every tensor must be float64.
    pub fn from_bytes(bytes: &[u8]) -> Result<TensorFile, TensorError> {
        let parsed = SafeTensors::deserialize(bytes).map_err(TensorError::Format)?;
        let (_, meta) = SafeTensors::read_metadata(bytes).map_err(TensorError::Format)?;
        let mut file = TensorFile::default();
        for (name, view) in parsed.tensors() {
            if view.dtype() != Dtype::F64 {
                return Err(TensorError::DType { name, dtype: format!("{:?}", view.dtype()) });
            }
            let values =
                view.data().chunks_exact(8).map(|c| f64::from_le_bytes(std::array::from_fn(|i| c[i]))).collect();
            file.tensors.insert(name, (view.shape().to_vec(), values));
        }
        if let Some(m) = meta.metadata() {
            file.metadata = m.clone().into_iter().collect();
        }
        Ok(file)
    }
}

/// The multi-index of the element at `flat` in a row-major tensor of `shape`.
fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (i, &d) in shape.iter().enumerate().rev() {
        if d > 0 {
            index[i] = flat % d;
            flat /= d;
        }
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TensorFile {
        let mut f = TensorFile::default();
        f.insert("layers.1.weights", vec![2, 3], vec![0.5, -1.0, f64::INFINITY, 3.0, 1e-300, -0.0]);
        f.insert("layers.0.delays", vec![1], vec![0.25]);
        for k in 0..16 {
            f.metadata.insert(format!("key{k}"), format!("value {k}"));
        }
        f
    }

    #[test]
    fn round_trips_and_rejects_garbage() {
        let mut f = TensorFile::default();
        f.insert("layers.1.weights", vec![2, 3], vec![0.5, -1.0, f64::INFINITY, 3.0, 1e-300, -0.0]);
        f.metadata.insert("epoch".into(), "7".into());
        let bytes = f.to_bytes().unwrap();
        let back = TensorFile::from_bytes(&bytes).unwrap();
        assert_eq!(back.tensors, f.tensors);
        assert_eq!(back.metadata["epoch"], "7");
        assert!(matches!(back.get("layers.1.weights", &[3, 2]), Err(TensorError::Shape { .. })));
        assert!(matches!(back.get("nope", &[1]), Err(TensorError::Missing(_))));
        assert!(TensorFile::from_bytes(b"garbage").is_err());
        assert!(TensorFile::from_bytes(&bytes[..bytes.len() - 3]).is_err());
    }

    #[test]
    fn the_header_is_the_documented_layout_in_name_order() {
        let mut f = TensorFile::default();
        f.insert("b", vec![1, 2], vec![1.0, 2.0]);
        f.insert("a", vec![], vec![3.0]);
        f.metadata.insert("z".into(), "last".into());
        f.metadata.insert("m".into(), "first".into());
        let bytes = f.to_bytes().unwrap();
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert_eq!(n % 8, 0);
        let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
        assert_eq!(
            header.trim_end(),
            r#"{"__metadata__":{"m":"first","z":"last"},"a":{"dtype":"F64","shape":[],"data_offsets":[0,8]},"b":{"dtype":"F64","shape":[1,2],"data_offsets":[8,24]}}"#
        );
        let data: Vec<f64> =
            bytes[8 + n..].chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect();
        assert_eq!(data, [3.0, 1.0, 2.0]);
    }

    #[test]
    fn the_same_file_always_gives_the_same_bytes() {
        // Every HashMap in a process gets its own hash keys, so a layout that followed a HashMap's order (as
        // the safetensors crate's metadata does) would differ among these copies.
        let f = sample();
        let first = f.to_bytes().unwrap();
        for _ in 0..64 {
            assert_eq!(f.clone().to_bytes().unwrap(), first);
        }
        // And it is what the crate reads back.
        assert_eq!(TensorFile::from_bytes(&first).unwrap(), f);
    }

    #[test]
    fn a_shape_that_does_not_fit_the_values_is_refused() {
        let mut f = TensorFile::default();
        f.insert("w", vec![2, 2], vec![1.0; 3]);
        let e = f.to_bytes().unwrap_err();
        assert!(matches!(e, TensorError::Length { expected: 4, found: 3, .. }), "{e:?}");
        f.insert("w", vec![usize::MAX, 2], vec![1.0]);
        assert!(matches!(f.to_bytes(), Err(TensorError::Length { .. })));
    }

    #[test]
    fn non_finite_values_are_named_with_their_index() {
        let mut f = TensorFile::default();
        f.insert("w", vec![2, 3], vec![0.0, 1.0, 2.0, 3.0, f64::NAN, f64::INFINITY]);
        let e = f.get_finite("w", &[2, 3]).unwrap_err();
        assert!(matches!(&e, TensorError::NonFinite { index, .. } if index == &[1, 1]), "{e:?}");
        assert_eq!(e.to_string(), "tensor \"w\" holds NaN at index [1, 1]: only finite values are allowed");
        f.insert("v", vec![3], vec![0.0, 0.0, f64::NEG_INFINITY]);
        assert!(f.get_finite("v", &[3]).unwrap_err().to_string().contains("-inf at index [2]"));
        f.insert("ok", vec![1], vec![1.0]);
        assert_eq!(f.get_finite("ok", &[1]).unwrap(), [1.0]);
    }
}
