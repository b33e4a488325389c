//! Chip configuration containers as omnibus words (being written).
