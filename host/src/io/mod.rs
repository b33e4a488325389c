//! Files: .npy arrays and atomic writes.
