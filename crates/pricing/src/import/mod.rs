//! Importers that turn public price maps into the jevons catalog format.

pub mod litellm;
pub mod number;
pub mod report;
