//! Provider usage blocks and their normalization into `jevons_core::Usage` (work in progress).
