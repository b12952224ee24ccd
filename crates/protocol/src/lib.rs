//! jevons-protocol (work in progress).
