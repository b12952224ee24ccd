//! Canonical model ids: one id for the same model served by many providers (e.g. every
//! provider's Llama 3.1 70B Instruct → `llama-3.1-70b-instruct`). Normalization rules
//! plus an explicit alias table for names the rules cannot fix.

use std::sync::OnceLock;

use regex::Regex;

/// Names whose normalized form is irregular: (normalized name, canonical id).
const ALIASES: &[(&str, &str)] = &[
    ("llama-3-70b-8192", "llama-3-70b-instruct"),
    ("llama-3-8b-8192", "llama-3-8b-instruct"),
    ("llama-3.1-8b-instant", "llama-3.1-8b-instruct"),
    ("llama-3.1-405b-instruct-1", "llama-3.1-405b-instruct"),
    ("llama-3.1-70b-instruct-1", "llama-3.1-70b-instruct"),
    ("meta-llama-3.1-405b-instruct", "llama-3.1-405b-instruct"),
    ("llama-3.1-405b", "llama-3.1-405b-instruct"),
    ("gpt-oss-120b-1", "gpt-oss-120b"),
    ("fw-gpt-oss-120b", "gpt-oss-120b"),
    ("databricks-gpt-oss-120b", "gpt-oss-120b"),
    ("gpt-oss-20b-1", "gpt-oss-20b"),
];

/// Rewrite rules applied in order to the lower-cased last path segment.
const RULES: &[(&str, &str)] = &[
    // Bedrock / OCI region and vendor prefixes: `us.meta.llama3-1-70b...`.
    (r"^(us|eu|apac|ap|au|jp|ca|global|us-gov)\.", ""),
    (
        r"^(meta|anthropic|amazon|mistral|cohere|ai21|deepseek|openai|qwen|writer|google|nvidia|moonshot|moonshotai|minimax|zai)\.",
        "",
    ),
    // Version / deployment suffixes that do not change the model.
    (r"(-v\d+)?(:\d+)+$", ""),
    (r"-(maas|versatile|specdec)$", ""),
    (r"-fp8(-fast|-dynamic)?$", ""),
    (r"-turbo$", ""),
    // Llama spellings: meta-llama-3.1, llama3.1, llama3-1, llama-v3p1, llama-3-1.
    (r"^meta-llama-", "llama-"),
    (r"^llama-?v?(\d)(?:p|\.|-)(\d)-", "llama-$1.$2-"),
    (r"^llama-?v?(\d)-(\d+b)", "llama-$1-$2"),
    // Llama served for chat is the instruct model.
    (r"^(llama-\d(?:\.\d)?-\d+b)$", "$1-instruct"),
];

fn rules() -> &'static [(Regex, &'static str)] {
    static CELL: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    CELL.get_or_init(|| {
        RULES
            .iter()
            .filter_map(|(re, to)| Regex::new(re).ok().map(|r| (r, *to)))
            .collect()
    })
}

/// The canonical id of a model key (provider prefix and path ignored).
pub fn canonical_id(model: &str) -> String {
    let last = model.rsplit('/').next().unwrap_or(model);
    let mut s = last
        .to_ascii_lowercase()
        .replace(['_', ' '], "-")
        .replace('@', "-");
    for (re, to) in rules() {
        let next = re.replace(&s, *to).into_owned();
        s = next;
    }
    if let Some((_, c)) = ALIASES.iter().find(|(from, _)| *from == s) {
        return (*c).to_string();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::canonical_id;

    #[test]
    fn llama_31_70b_spellings_group() {
        for k in [
            "azure_ai/Meta-Llama-3.1-70B-Instruct",
            "cerebras/llama3.1-70b",
            "deepinfra/meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo",
            "meta.llama3-1-70b-instruct-v1:0",
            "us.meta.llama3-1-70b-instruct-v1:0",
            "oci/meta.llama-3.1-70b-instruct",
            "ovhcloud/Meta-Llama-3_1-70B-Instruct",
            "fireworks_ai/accounts/fireworks/models/llama-v3p1-70b-instruct",
            "vertex_ai/meta/llama-3.1-70b-instruct-maas",
            "lambda_ai/llama3.1-70b-instruct-fp8",
            "vercel_ai_gateway/meta/llama-3.1-70b",
        ] {
            assert_eq!(canonical_id(k), "llama-3.1-70b-instruct", "{k}");
        }
    }

    #[test]
    fn fine_tunes_stay_apart() {
        assert_eq!(
            canonical_id("deepinfra/NousResearch/Hermes-3-Llama-3.1-70B"),
            "hermes-3-llama-3.1-70b"
        );
        assert_eq!(canonical_id("openai/gpt-oss-120b"), "gpt-oss-120b");
        assert_eq!(canonical_id("llama-3-70b-8192"), "llama-3-70b-instruct");
    }
}
