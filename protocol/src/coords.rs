//! Typed chip coordinates (being written).
