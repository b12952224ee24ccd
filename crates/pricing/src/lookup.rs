//! Model-name resolution: exact key, then a unique match ignoring provider prefix and
//! case; otherwise an error listing the closest names (substring, then edit distance).

use crate::catalog::{bare_key, Catalog};
use crate::error::PricingError;
use crate::price::PriceEntry;

const MAX_SUGGESTIONS: usize = 8;

impl Catalog {
    /// Resolves a model name as a client would send it: `gpt-4o`, `openai/gpt-4o`,
    /// `together_ai/meta-llama/...`, in any case.
    pub fn resolve(&self, name: &str) -> Result<&PriceEntry, PricingError> {
        let name = name.trim();
        // 1. Exact: the model key as LiteLLM names it, then `provider/model`.
        let by_model: Vec<usize> = self.by_model.get(name).cloned().unwrap_or_default();
        if by_model.len() == 1 {
            return Ok(&self.entries[by_model[0]]);
        }
        let exact: Vec<usize> = if by_model.is_empty() {
            self.by_full_key.get(name).cloned().unwrap_or_default()
        } else {
            by_model
        };
        if exact.len() == 1 {
            return Ok(&self.entries[exact[0]]);
        }
        // 2. Loose: case-insensitive, provider prefix ignored.
        let lower = name.to_ascii_lowercase();
        let mut loose: Vec<usize> = self.by_bare.get(&lower).cloned().unwrap_or_default();
        if let Some((p, rest)) = lower.split_once('/') {
            for (i, e) in self.entries.iter().enumerate() {
                if e.provider.eq_ignore_ascii_case(p) && bare_key(&e.provider, &e.model) == rest {
                    loose.push(i);
                }
            }
        }
        if !exact.is_empty() {
            loose = exact;
        }
        loose.sort_unstable();
        loose.dedup();
        match loose.len() {
            1 => Ok(&self.entries[loose[0]]),
            0 => Err(PricingError::UnknownModel {
                name: name.to_string(),
                candidates: self.closest(&lower),
            }),
            _ => Err(PricingError::AmbiguousModel {
                name: name.to_string(),
                candidates: loose.iter().map(|&i| self.label(i)).collect(),
            }),
        }
    }

    /// A name that resolves to entry `i` exactly: its model key when that is unique,
    /// else `provider/model`.
    fn label(&self, i: usize) -> String {
        let e = &self.entries[i];
        if self.by_model.get(&e.model).map_or(0, Vec::len) == 1 {
            e.model.clone()
        } else {
            e.key()
        }
    }

    /// The names closest to `query`: substring matches first (shortest first), then the
    /// smallest edit distance.
    pub fn closest(&self, query: &str) -> Vec<String> {
        let q = query.to_ascii_lowercase();
        let mut scored: Vec<(usize, usize, String)> = self
            .entries
            .iter()
            .map(|e| {
                let key = e.key();
                let bare = bare_key(&e.provider, &e.model);
                let score = if bare.contains(&q) || q.contains(&bare) {
                    bare.len().abs_diff(q.len())
                } else {
                    1000 + levenshtein(&q, &bare)
                };
                (score, key.len(), key)
            })
            .collect();
        scored.sort();
        scored
            .into_iter()
            .take(MAX_SUGGESTIONS)
            .map(|(_, _, k)| k)
            .collect()
    }
}

/// Edit distance (insert/delete/substitute) over chars.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::levenshtein;

    #[test]
    fn edit_distance() {
        assert_eq!(levenshtein("gpt-4o", "gpt-4o"), 0);
        assert_eq!(levenshtein("gpt4o", "gpt-4o"), 1);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }
}
