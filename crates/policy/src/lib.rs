//! jevons-policy (work in progress).
