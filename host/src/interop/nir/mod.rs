//! Networks as NIR graphs (HDF5, as the `nir` Python package reads and writes them): export and import.

pub mod export;
pub mod graph;
pub mod import;

pub use export::{ExportError, to_graph};
pub use graph::{CubaLif, Graph, Meta, NirFileError, Node};
pub use import::{ImportError, from_graph};
