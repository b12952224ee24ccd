//! Real token counts (tiktoken BPE, loaded once per encoding, with a bounded memo of counts
//! for repeated strings) and deterministic filler text whose token count is exact.

use std::collections::HashMap;
use std::sync::OnceLock;

use parking_lot::Mutex;
use tiktoken_rs::CoreBPE;

use super::profile::TokenizerKind;

/// Strings shorter than this are encoded directly (cheaper than the memo's lock).
const MEMO_MIN_LEN: usize = 16;
/// Memo entries kept before the memo is cleared.
const MEMO_CAP: usize = 50_000;

/// A BPE encoding plus a memo of counts.
pub struct Tokenizer {
    bpe: Option<CoreBPE>,
    memo: Mutex<HashMap<u64, u32>>,
}

impl Tokenizer {
    fn load(kind: TokenizerKind) -> Self {
        let bpe = match kind {
            TokenizerKind::Cl100kBase => tiktoken_rs::cl100k_base(),
            TokenizerKind::O200kBase => tiktoken_rs::o200k_base(),
        };
        if let Err(e) = &bpe {
            tracing::warn!("tokenizer {kind:?} failed to load ({e}); estimating 4 bytes/token");
        }
        Self {
            bpe: bpe.ok(),
            memo: Mutex::new(HashMap::new()),
        }
    }

    /// The shared tokenizer for an encoding (loaded on first use).
    pub fn get(kind: TokenizerKind) -> &'static Tokenizer {
        static CL: OnceLock<Tokenizer> = OnceLock::new();
        static O2: OnceLock<Tokenizer> = OnceLock::new();
        match kind {
            TokenizerKind::Cl100kBase => CL.get_or_init(|| Self::load(kind)),
            TokenizerKind::O200kBase => O2.get_or_init(|| Self::load(kind)),
        }
    }

    fn encode_len(&self, text: &str) -> u32 {
        match &self.bpe {
            Some(b) => u32::try_from(b.encode_ordinary(text).len()).unwrap_or(u32::MAX),
            None => u32::try_from(text.len().div_ceil(4)).unwrap_or(u32::MAX),
        }
    }

    /// Number of tokens in `text`.
    pub fn count(&self, text: &str) -> u32 {
        if text.len() < MEMO_MIN_LEN {
            return self.encode_len(text);
        }
        let key = super::generate::hash_bytes(text.as_bytes());
        if let Some(n) = self.memo.lock().get(&key) {
            return *n;
        }
        let n = self.encode_len(text);
        let mut memo = self.memo.lock();
        if memo.len() >= MEMO_CAP {
            memo.clear();
        }
        memo.insert(key, n);
        n
    }
}

/// Words that are exactly one token each (with their leading space) in cl100k and o200k,
/// so `n` filler words are `n` tokens.
pub const FILLER: &[&str] = &[
    " the", " of", " and", " to", " in", " is", " that", " for", " it", " with", " as", " was",
    " on", " be", " at", " by", " this", " have", " from", " or", " one", " had", " not", " but",
    " what", " all", " were", " when", " we", " there", " can", " an", " your", " which", " their",
    " said", " if", " do", " will", " each", " about", " how", " up", " out", " them", " then",
    " she", " many", " some", " so", " these", " would", " other", " into", " has", " more",
    " her", " two", " like", " him", " see", " time", " could", " no", " make", " than", " first",
    " been", " its", " who", " now", " people", " my", " made", " over", " did", " down", " only",
    " way", " find", " use", " may", " water", " long", " little", " very", " after", " words",
    " called", " just", " where", " most", " know",
];

/// The first word of every answer (one token, no leading space).
pub const FIRST_WORD: &str = "The";

/// The `i`-th word of the answer seeded by `seed`.
pub fn word(seed: u64, i: u32) -> &'static str {
    if i == 0 {
        return FIRST_WORD;
    }
    let h = super::faults::mix(seed, u64::from(i), 7);
    FILLER[(h % FILLER.len() as u64) as usize]
}

/// `n` words of deterministic filler text (`n` tokens).
pub fn filler(seed: u64, n: u32) -> String {
    let mut s = String::with_capacity(n as usize * 6);
    for i in 0..n {
        s.push_str(word(seed, i));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_filler_word_is_one_token_in_both_encodings() {
        for kind in [TokenizerKind::Cl100kBase, TokenizerKind::O200kBase] {
            let t = Tokenizer::get(kind);
            for w in FILLER.iter().chain([&FIRST_WORD]) {
                assert_eq!(t.count(w), 1, "{w:?} in {kind:?}");
            }
        }
    }

    #[test]
    fn filler_text_counts_exactly() {
        let t = Tokenizer::get(TokenizerKind::Cl100kBase);
        for (seed, n) in [(1, 1), (2, 17), (3, 300), (99, 1000)] {
            assert_eq!(t.count(&filler(seed, n)), n);
        }
        assert_eq!(filler(5, 40), filler(5, 40));
        assert_ne!(filler(5, 40), filler(6, 40));
    }

    #[test]
    fn memo_returns_the_same_counts() {
        let t = Tokenizer::get(TokenizerKind::Cl100kBase);
        let long = "hello world, this is a fairly long sentence to pass the memo threshold!";
        assert_eq!(t.count(long), t.count(long));
        assert!(t.count(long) > 10);
    }
}
