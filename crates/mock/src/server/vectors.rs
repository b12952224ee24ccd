//! Deterministic embedding vectors (unit length, seeded by the input's hash) and their
//! base64 encoding (little-endian f32, what OpenAI returns for `encoding_format=base64`).

use super::faults::{mix, unit_float};

/// A unit vector of `dims` floats derived from `seed`.
pub fn unit_vector(seed: u64, dims: u32) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dims)
        .map(|i| (unit_float(mix(seed, u64::from(i), 9)) * 2.0 - 1.0) as f32)
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 (with padding) of the little-endian bytes of `v`.
pub fn base64_f32(v: &[f32]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        let idx = [n >> 18, n >> 12, n >> 6, n];
        for (k, i) in idx.iter().enumerate() {
            if k <= c.len() {
                out.push(B64[(i & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_known_values() {
        assert_eq!(base64_f32(&[1.0]), "AACAPw==");
        assert_eq!(base64_f32(&[]), "");
        assert_eq!(base64_f32(&[0.0, 1.0]), "AAAAAAAAgD8=");
    }

    #[test]
    fn vectors_are_unit_and_deterministic() {
        let v = unit_vector(7, 64);
        let n: f32 = v.iter().map(|x| x * x).sum();
        assert!((n - 1.0).abs() < 1e-4);
        assert_eq!(v, unit_vector(7, 64));
        assert_ne!(v, unit_vector(8, 64));
    }
}
