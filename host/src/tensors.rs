//! Named float64 tensors with string metadata, stored as safetensors (readable by PyTorch and numpy users).

use std::collections::{BTreeMap, HashMap};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

/// A problem with a tensor file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TensorError {
    /// Not a readable safetensors file.
    #[error("not a valid safetensors file: {0}")]
    Format(String),
    /// A tensor the caller needs is absent.
    #[error("tensor {0:?} is missing")]
    Missing(String),
    /// A tensor has the wrong dtype or shape.
    #[error("tensor {name:?}: {message}")]
    Invalid {
        /// The tensor.
        name: String,
        /// What is wrong.
        message: String,
    },
}

/// Named float64 tensors plus metadata.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TensorFile {
    /// Tensors by name: (shape, values in row-major order).
    pub tensors: BTreeMap<String, (Vec<usize>, Vec<f64>)>,
    /// Free-form metadata.
    pub metadata: BTreeMap<String, String>,
}

impl TensorFile {
    /// Adds a tensor.
    pub fn insert(&mut self, name: impl Into<String>, shape: Vec<usize>, values: Vec<f64>) {
        self.tensors.insert(name.into(), (shape, values));
    }

    /// The tensor `name`, checked to have `shape`.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<&[f64], TensorError> {
        let (have, values) = self.tensors.get(name).ok_or_else(|| TensorError::Missing(name.to_string()))?;
        if have != shape {
            return Err(TensorError::Invalid {
                name: name.into(),
                message: format!("shape {have:?}, expected {shape:?}"),
            });
        }
        Ok(values)
    }

    /// Serialises to safetensors bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, TensorError> {
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = self
            .tensors
            .iter()
            .map(|(name, (shape, values))| {
                (name.clone(), shape.clone(), values.iter().flat_map(|v| v.to_le_bytes()).collect())
            })
            .collect();
        let views = bytes
            .iter()
            .map(|(name, shape, data)| {
                TensorView::new(Dtype::F64, shape.clone(), data)
                    .map(|v| (name.clone(), v))
                    .map_err(|e| TensorError::Invalid { name: name.clone(), message: e.to_string() })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let metadata: HashMap<String, String> = self.metadata.clone().into_iter().collect();
        safetensors::serialize(views, Some(metadata)).map_err(|e| TensorError::Format(e.to_string()))
    }

    /// Parses safetensors bytes; every tensor must be float64.
    pub fn from_bytes(bytes: &[u8]) -> Result<TensorFile, TensorError> {
        let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| TensorError::Format(e.to_string()))?;
        let parsed = SafeTensors::deserialize(bytes).map_err(|e| TensorError::Format(e.to_string()))?;
        let mut file = TensorFile::default();
        for (name, view) in parsed.tensors() {
            if view.dtype() != Dtype::F64 {
                return Err(TensorError::Invalid { name, message: format!("dtype {:?}, expected F64", view.dtype()) });
            }
            let values =
                view.data().chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect();
            file.tensors.insert(name, (view.shape().to_vec(), values));
        }
        if let Some(m) = meta.metadata() {
            file.metadata = m.clone().into_iter().collect();
        }
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let mut f = TensorFile::default();
        f.insert("layers.1.weights", vec![2, 3], vec![0.5, -1.0, f64::INFINITY, 3.0, 1e-300, -0.0]);
        f.metadata.insert("epoch".into(), "7".into());
        let bytes = f.to_bytes().unwrap();
        let back = TensorFile::from_bytes(&bytes).unwrap();
        assert_eq!(back.tensors, f.tensors);
        assert_eq!(back.metadata["epoch"], "7");
        assert!(matches!(back.get("layers.1.weights", &[3, 2]), Err(TensorError::Invalid { .. })));
        assert!(matches!(back.get("nope", &[1]), Err(TensorError::Missing(_))));
        assert!(TensorFile::from_bytes(b"garbage").is_err());
        assert!(TensorFile::from_bytes(&bytes[..bytes.len() - 3]).is_err());
    }
}
