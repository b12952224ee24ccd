//! jevons-pricing (work in progress).
