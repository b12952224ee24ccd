//! jevons-gateway (work in progress).
