//! Adapter from the pricing crate's `Catalog` to market `PricePoint`s: one point per chat
//! entry that lists both an input and an output price (standard tier, base context tier,
//! list price before any negotiated discount).

use jevons_pricing::catalog::Catalog;

use super::price_point::{PricePoint, PriceSet};

/// Price points of every priced chat entry, with the catalog's source line.
pub fn price_set_from_catalog(catalog: &Catalog) -> PriceSet {
    let points = catalog
        .entries()
        .iter()
        .filter(|e| e.mode == "chat")
        .filter_map(|e| {
            let p = &e.standard.prices;
            Some(PricePoint {
                provider: e.provider.clone(),
                model: e.model.clone(),
                canonical: e.canonical.clone(),
                input_per_mtok: p.input?,
                output_per_mtok: p.output?,
            })
        })
        .collect();
    let m = catalog.meta();
    let source = format!(
        "price catalog: {} ({} licence, {}; {}), as of {}; chat entries, standard tier, list prices",
        m.source.name, m.source.license, m.source.copyright, m.source.url, m.as_of
    );
    PriceSet::new(points, source)
}
