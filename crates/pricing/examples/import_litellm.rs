//! Regenerates `data/catalog.json` from a LiteLLM snapshot without building the CLI:
//! `cargo run -p jevons-pricing --example import_litellm -- FILE OUT VERSION AS_OF`.

use jevons_pricing::import::litellm;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    let [_, file, out, version, as_of] = a.as_slice() else {
        return Err("usage: import_litellm FILE OUT VERSION AS_OF".into());
    };
    let src = std::fs::read_to_string(file)?;
    let (cat, report) = litellm::import(&src, file, litellm::litellm_source(version), as_of)?;
    std::fs::write(out, cat.to_json()?)?;
    println!("{report:#?}");
    Ok(())
}
