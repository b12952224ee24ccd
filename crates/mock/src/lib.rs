//! jevons-mock (work in progress).
