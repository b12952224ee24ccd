//! jevons-ledger (work in progress).
