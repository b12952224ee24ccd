//! Market analytics over the price catalog (work in progress).
