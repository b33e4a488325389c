//! A file written by `torch.save` (`.pt`): a ZIP archive holding `<name>/data.pkl` (the pickled object) and
//! one entry `<name>/data/<key>` per tensor storage, referenced from the pickle by persistent ids. The pickle is
//! read by the restricted reader of [`super::pickle`]; modules (`torch.nn.Module` subclasses) are walked
//! through their `_parameters`, `_buffers` and `_modules` dicts exactly as `state_dict()` walks them.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::pickle::{Id, Pickle, PickleError, Value};

/// Largest entry read from an archive: far above any network, low enough that a forged size cannot exhaust
/// memory.
const MAX_ENTRY_BYTES: u64 = 1 << 30;

/// Depth beyond which a module tree is refused (pickles can be cyclic).
const MAX_MODULE_DEPTH: usize = 32;

/// Why a `.pt` file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PtError {
    /// The file cannot be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not a ZIP archive (legacy `torch.save` files, from before PyTorch 1.6, are not supported either).
    #[error("{}: not a PyTorch file written by torch.save (not a readable ZIP archive)", path.display())]
    NotZip {
        /// The file.
        path: PathBuf,
        /// What the ZIP reader found.
        #[source]
        source: zip::result::ZipError,
    },
    /// An entry of the archive is unreadable (truncated or corrupt file).
    #[error("{}: entry {entry} is unreadable (truncated or corrupt file?)", path.display())]
    Entry {
        /// The file.
        path: PathBuf,
        /// The entry.
        entry: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The pickle was refused or is malformed.
    #[error("{}: {entry}", path.display())]
    Pickle {
        /// The file.
        path: PathBuf,
        /// The pickle's entry.
        entry: String,
        /// What is wrong.
        #[source]
        source: PickleError,
    },
    /// The archive or the pickled object is not laid out as a saved module or tensor.
    #[error("{}: {what}", path.display())]
    Layout {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
}

/// Element type of a storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    /// float64.
    F64,
    /// float32.
    F32,
    /// int64.
    I64,
    /// int32.
    I32,
    /// bool.
    Bool,
}

impl DType {
    fn of_storage(name: &str) -> Option<DType> {
        Some(match name {
            "DoubleStorage" => DType::F64,
            "FloatStorage" => DType::F32,
            "LongStorage" => DType::I64,
            "IntStorage" => DType::I32,
            "BoolStorage" => DType::Bool,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            DType::F64 | DType::I64 => 8,
            DType::F32 | DType::I32 => 4,
            DType::Bool => 1,
        }
    }
}

/// A tensor of the file: a strided view of a storage.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// The storage's key (`data/<key>`).
    pub storage: String,
    /// The storage's element type.
    pub dtype: DType,
    /// Elements in the storage.
    pub storage_len: usize,
    /// Offset of the first element, in elements.
    pub offset: usize,
    /// The shape.
    pub shape: Vec<usize>,
    /// The strides, in elements.
    pub stride: Vec<usize>,
}

/// A `.pt` file read into memory.
#[derive(Debug)]
pub struct PtFile {
    path: PathBuf,
    pickle: Pickle,
    /// Storage bytes by key.
    storages: HashMap<String, Vec<u8>>,
}

impl PtFile {
    /// Reads `path`: the archive, its pickle (refusing any global outside the allowed list) and its storages.
    pub fn open(path: &Path) -> Result<PtFile, PtError> {
        let file = std::fs::File::open(path).map_err(|source| PtError::Read { path: path.into(), source })?;
        let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file))
            .map_err(|source| PtError::NotZip { path: path.into(), source })?;
        let names: Vec<String> = archive
            .file_names()
            .map(|name| name.map(|n| n.into_owned()))
            .collect::<Result<_, _>>()
            .map_err(|source| PtError::NotZip { path: path.into(), source })?;
        let layout = |what: String| PtError::Layout { path: path.into(), what };
        let pickle_entry = names
            .iter()
            .filter(|n| n.ends_with("/data.pkl") || *n == "data.pkl")
            .min_by_key(|n| n.len())
            .ok_or_else(|| layout("no data.pkl in the archive: not a file written by torch.save".into()))?
            .clone();
        let prefix = &pickle_entry[..pickle_entry.len() - "data.pkl".len()];
        if let Some(order) = names.iter().find(|n| n.strip_prefix(prefix) == Some("byteorder")) {
            let order = read_entry(&mut archive, path, order)?;
            if order != b"little" {
                return Err(layout(format!("byte order {:?}: only little-endian files are read", lossy(&order))));
            }
        }
        let data = read_entry(&mut archive, path, &pickle_entry)?;
        let pickle = Pickle::parse(&data).map_err(|source| PtError::Pickle {
            path: path.into(),
            entry: pickle_entry.clone(),
            source,
        })?;
        let mut storages = HashMap::new();
        for name in &names {
            if let Some(key) = name.strip_prefix(prefix).and_then(|rest| rest.strip_prefix("data/")) {
                storages.insert(key.to_owned(), read_entry(&mut archive, path, name)?);
            }
        }
        Ok(PtFile { path: path.into(), pickle, storages })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The pickled object.
    pub fn root(&self) -> Id {
        self.pickle.root
    }

    /// The pickle, for reading attributes.
    pub fn pickle(&self) -> &Pickle {
        &self.pickle
    }

    fn layout(&self, what: String) -> PtError {
        PtError::Layout { path: self.path.clone(), what }
    }

    /// `module.Class` of the object at `id`, if it is an instance of an allowed class.
    pub fn class_of(&self, id: Id) -> Option<String> {
        self.pickle.call(id).map(|((m, n), _, _)| format!("{m}.{n}"))
    }

    /// The `__dict__` of the object at `id` (its `BUILD` state).
    fn state(&self, id: Id) -> Option<Id> {
        self.pickle.call(id).and_then(|(_, _, state)| state).filter(|&s| self.pickle.dict(s).is_some())
    }

    /// The attribute `name` of the object at `id`.
    pub fn attribute(&self, id: Id, name: &str) -> Option<Id> {
        self.pickle.dict_get(self.state(id)?, name)
    }

    /// The entries of the dict attribute `name` of a module (`_parameters`, `_modules`, ...).
    fn dict_attribute(&self, module: Id, name: &str) -> Vec<(String, Id)> {
        let Some(dict) = self.attribute(module, name) else { return Vec::new() };
        let entries = self.pickle.dict(dict).unwrap_or_default();
        entries.iter().filter_map(|(k, v)| Some((self.pickle.str(*k)?.to_owned(), *v))).collect()
    }

    /// The submodules of a module, in order (`_modules`).
    pub fn children(&self, module: Id) -> Vec<(String, Id)> {
        self.dict_attribute(module, "_modules")
    }

    /// The tensors of a module and its submodules as `state_dict()` names them (`layers.1.weights`): parameters
    /// and buffers, in module order. Entries set to `None` are skipped, as torch skips them.
    pub fn state_dict(&self) -> Result<Vec<(String, Tensor)>, PtError> {
        let mut out = Vec::new();
        self.collect(self.root(), "", 0, &mut out)?;
        Ok(out)
    }

    fn collect(&self, module: Id, prefix: &str, depth: usize, out: &mut Vec<(String, Tensor)>) -> Result<(), PtError> {
        if depth > MAX_MODULE_DEPTH {
            return Err(self.layout(format!("modules nested deeper than {MAX_MODULE_DEPTH} (a cycle?)")));
        }
        if self.state(module).is_none() {
            return Err(
                self.layout(format!("{}: not a saved module", if prefix.is_empty() { "the object" } else { prefix }))
            );
        }
        for attribute in ["_parameters", "_buffers"] {
            for (name, value) in self.dict_attribute(module, attribute) {
                if self.pickle.get(value) != &Value::None {
                    out.push((format!("{prefix}{name}"), self.tensor(value)?));
                }
            }
        }
        for (name, child) in self.children(module) {
            if self.pickle.get(child) != &Value::None {
                self.collect(child, &format!("{prefix}{name}."), depth + 1, out)?;
            }
        }
        Ok(())
    }

    /// The tensor at `id`: a `torch._utils._rebuild_tensor_v2` call, possibly wrapped in `_rebuild_parameter`.
    pub fn tensor(&self, id: Id) -> Result<Tensor, PtError> {
        let p = &self.pickle;
        let not_tensor = || self.layout(format!("value #{id} is not a tensor"));
        let ((_, function), args, _) = p.call(id).ok_or_else(not_tensor)?;
        let args = p.items(args).ok_or_else(not_tensor)?;
        match (function, args) {
            ("_rebuild_parameter", [inner, ..]) => self.tensor(*inner),
            ("_rebuild_tensor_v2", [storage, offset, shape, stride, ..]) => {
                let (key, dtype, storage_len) = self.storage(*storage)?;
                let dims = |id: Id, what: &str| -> Result<Vec<usize>, PtError> {
                    p.items(id)
                        .and_then(|items| {
                            items.iter().map(|&i| p.int(i).and_then(|v| usize::try_from(v).ok())).collect()
                        })
                        .ok_or_else(|| {
                            self.layout(format!("tensor in storage {key}: its {what} is not a tuple of sizes"))
                        })
                };
                let offset = p.int(*offset).and_then(|v| usize::try_from(v).ok());
                let offset = offset.ok_or_else(|| self.layout(format!("tensor in storage {key}: bad offset")))?;
                let (shape, stride) = (dims(*shape, "shape")?, dims(*stride, "stride")?);
                if shape.len() != stride.len() {
                    return Err(self.layout(format!("tensor in storage {key}: shape and stride differ in length")));
                }
                Ok(Tensor { storage: key, dtype, storage_len, offset, shape, stride })
            }
            _ => Err(not_tensor()),
        }
    }

    /// `(key, dtype, elements)` of the persistent id `('storage', torch.XStorage, key, location, numel)`.
    fn storage(&self, id: Id) -> Result<(String, DType, usize), PtError> {
        let p = &self.pickle;
        let bad = || self.layout(format!("value #{id} is not a storage reference"));
        let Value::Persistent(pid) = p.get(id) else { return Err(bad()) };
        let [tag, kind, key, _location, numel] = p.items(*pid).ok_or_else(bad)? else { return Err(bad()) };
        if p.str(*tag) != Some("storage") {
            return Err(bad());
        }
        let Value::Global(_, kind) = p.get(*kind) else { return Err(bad()) };
        let dtype = DType::of_storage(kind).ok_or_else(|| self.layout(format!("storages of {kind} are not read")))?;
        let key = p.str(*key).ok_or_else(bad)?.to_owned();
        let numel = p.int(*numel).and_then(|v| usize::try_from(v).ok()).ok_or_else(bad)?;
        Ok((key, dtype, numel))
    }

    /// The tensor's elements in row-major order, as float64 (float32 widened exactly). Integer tensors are
    /// refused: network parameters are floating point.
    pub fn values_f64(&self, tensor: &Tensor) -> Result<Vec<f64>, PtError> {
        let key = &tensor.storage;
        let bytes = self.storages.get(key).ok_or_else(|| self.layout(format!("storage data/{key} is missing")))?;
        let size = tensor.dtype.size();
        if bytes.len() != tensor.storage_len.saturating_mul(size) {
            return Err(self.layout(format!(
                "storage data/{key} holds {} bytes, its tensor says {} elements of {size}",
                bytes.len(),
                tensor.storage_len
            )));
        }
        if !matches!(tensor.dtype, DType::F64 | DType::F32) {
            return Err(
                self.layout(format!("storage data/{key}: a {:?} tensor where floats were expected", tensor.dtype))
            );
        }
        let element = |i: usize| -> f64 {
            let b = &bytes[i * size..(i + 1) * size];
            match tensor.dtype {
                DType::F64 => f64::from_le_bytes(b.try_into().expect("8 bytes")),
                DType::F32 => f64::from(f32::from_le_bytes(b.try_into().expect("4 bytes"))),
                DType::I64 | DType::I32 | DType::Bool => unreachable!("refused above"),
            }
        };
        let past_end = || self.layout(format!("a tensor reaches past the end of storage data/{key}"));
        let count = tensor.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)).ok_or_else(past_end)?;
        // The last element's index bounds every other one (strides are non-negative).
        let last = tensor
            .shape
            .iter()
            .zip(&tensor.stride)
            .try_fold(tensor.offset, |at, (&n, &s)| at.checked_add(n.saturating_sub(1).checked_mul(s)?));
        if count > 0 && last.is_none_or(|last| last >= tensor.storage_len) || count > tensor.storage_len.max(1) << 8 {
            return Err(past_end());
        }
        let mut out = Vec::with_capacity(count);
        let mut index = vec![0usize; tensor.shape.len()];
        for _ in 0..count {
            let at = tensor.offset + index.iter().zip(&tensor.stride).map(|(i, s)| i * s).sum::<usize>();
            out.push(element(at));
            for d in (0..index.len()).rev() {
                index[d] += 1;
                if index[d] < tensor.shape[d] {
                    break;
                }
                index[d] = 0;
            }
        }
        Ok(out)
    }
}

fn read_entry<R: std::io::Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    path: &Path,
    name: &str,
) -> Result<Vec<u8>, PtError> {
    let entry_error = |source| PtError::Entry { path: path.into(), entry: name.into(), source };
    let entry = archive.by_name(name).map_err(|e| entry_error(std::io::Error::other(e)))?;
    let mut bytes = Vec::new();
    entry.take(MAX_ENTRY_BYTES + 1).read_to_end(&mut bytes).map_err(entry_error)?;
    if bytes.len() as u64 > MAX_ENTRY_BYTES {
        return Err(PtError::Layout { path: path.into(), what: format!("entry {name} is larger than 1 GiB") });
    }
    Ok(bytes)
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with_storage(values: &[f64]) -> PtFile {
        let pickle = Pickle::parse(b"\x80\x02N.").unwrap();
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        PtFile { path: "test.pt".into(), pickle, storages: HashMap::from([("0".to_string(), bytes)]) }
    }

    fn tensor(offset: usize, shape: &[usize], stride: &[usize]) -> Tensor {
        Tensor {
            storage: "0".into(),
            dtype: DType::F64,
            storage_len: 6,
            offset,
            shape: shape.to_vec(),
            stride: stride.to_vec(),
        }
    }

    #[test]
    fn strided_views_are_read_in_row_major_order() {
        let file = file_with_storage(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(file.values_f64(&tensor(0, &[2, 3], &[3, 1])).unwrap(), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        // The transpose, and a column starting at an offset.
        assert_eq!(file.values_f64(&tensor(0, &[3, 2], &[1, 3])).unwrap(), [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        assert_eq!(file.values_f64(&tensor(1, &[2], &[3])).unwrap(), [1.0, 4.0]);
    }

    #[test]
    fn views_past_their_storage_or_of_the_wrong_size_are_refused() {
        let file = file_with_storage(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        for (offset, shape, stride) in [
            (1, vec![2, 3], vec![3, 1]),
            (0, vec![7], vec![1]),
            (0, vec![2, usize::MAX], vec![1, 1]),
            (0, vec![2, 2], vec![usize::MAX, 1]),
            (0, vec![1 << 40], vec![0]),
        ] {
            let e = file.values_f64(&tensor(offset, &shape, &stride)).unwrap_err();
            assert!(e.to_string().contains("past the end"), "{shape:?}: {e}");
        }
        let mut short = tensor(0, &[6], &[1]);
        short.storage_len = 7;
        assert!(file.values_f64(&short).unwrap_err().to_string().contains("holds 48 bytes"));
        let mut ints = tensor(0, &[6], &[1]);
        ints.dtype = DType::I64;
        assert!(file.values_f64(&ints).unwrap_err().to_string().contains("where floats were expected"));
    }
}
