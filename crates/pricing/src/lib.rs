//! jevons-pricing: the price catalog (bundled from LiteLLM's public price map, plus user
//! overrides), lookups by name and canonical model id, and the exact cost engine.
//!
//! ```no_run
//! use jevons_pricing::{cost, Catalog, ServiceTier};
//! let cat = Catalog::bundled()?;
//! let e = cat.resolve("gpt-4o")?;
//! let u = jevons_core::Usage { input: 1000, output: 200, ..Default::default() };
//! let c = cost(e, &u, ServiceTier::Standard)?;
//! println!("{}", c.total);
//! # Ok::<(), jevons_pricing::PricingError>(())
//! ```

pub mod canonical;
pub mod catalog;
pub mod engine;
pub mod error;
pub mod format;
pub mod import;
pub mod lookup;
pub mod overrides;
pub mod price;
pub mod rates;

pub use canonical::canonical_id;
pub use catalog::Catalog;
pub use engine::{cost, CostBreakdown};
pub use error::{Issue, PricingError};
pub use format::{CatalogMeta, SourceInfo};
pub use overrides::Overrides;
pub use price::{ContextTier, Dim, Discount, Plan, PriceEntry, PriceSet, ServiceTier};
