//! jevons-analytics (work in progress).
