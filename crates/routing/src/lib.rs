//! jevons-routing (work in progress).
