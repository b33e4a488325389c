//! Networks made elsewhere: the reference implementation's results folders (a `torch.save`d module, read
//! without executing anything from the file) and NIR graphs.

pub mod nir;
pub mod pickle;
pub mod pt;
pub mod reference_run;

pub use reference_run::{ReferenceError, ReferenceNetwork, ReferenceRun};
