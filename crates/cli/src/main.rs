//! The `jevons` binary.
fn main() {}
