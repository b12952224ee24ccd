//! The user population: users ranked by activity (Zipf over rank, so user 1 is the biggest
//! whale), each belonging to one customer (customers are Zipf-sized too). Built once per
//! plan from the seed.

use rand::distributions::{Distribution, WeightedIndex};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

use super::scenario::Users;
use super::LoadgenError;

/// Users, their customers, and the activity sampler.
#[derive(Debug, Clone)]
pub struct Population {
    users: Vec<Arc<str>>,
    customers: Vec<Arc<str>>,
    customer_of: Vec<u32>,
    activity: WeightedIndex<f64>,
}

/// Weights `1 / rank^s` for ranks 1..=n.
pub fn zipf_weights(n: u32, s: f64) -> Vec<f64> {
    (1..=n).map(|k| 1.0 / f64::from(k).powf(s)).collect()
}

impl Population {
    /// Builds the population deterministically from `rng`.
    pub fn new(u: &Users, rng: &mut ChaCha8Rng) -> Result<Population, LoadgenError> {
        let bad = |e: rand::distributions::WeightedError| {
            LoadgenError::BadConfig(format!(
                "users: cannot build the activity distribution: {e}"
            ))
        };
        let activity = WeightedIndex::new(zipf_weights(u.count, u.zipf_exponent)).map_err(bad)?;
        let size =
            WeightedIndex::new(zipf_weights(u.customers, u.customer_zipf_exponent)).map_err(bad)?;
        let customer_of = (0..u.count).map(|_| sample_u32(&size, rng)).collect();
        Ok(Population {
            users: (1..=u.count)
                .map(|i| Arc::from(format!("user-{i:05}")))
                .collect(),
            customers: (1..=u.customers)
                .map(|i| Arc::from(format!("cust-{i:04}")))
                .collect(),
            customer_of,
            activity,
        })
    }

    /// Draws a user index, weighted by activity.
    pub fn pick(&self, rng: &mut impl Rng) -> usize {
        self.activity.sample(rng)
    }

    /// The user's id (`user-00001` is the most active).
    pub fn user(&self, i: usize) -> Arc<str> {
        self.users
            .get(i)
            .cloned()
            .unwrap_or_else(|| Arc::from("user-unknown"))
    }

    /// The user's customer id.
    pub fn customer(&self, i: usize) -> Arc<str> {
        self.customer_of
            .get(i)
            .and_then(|c| self.customers.get(*c as usize))
            .cloned()
            .unwrap_or_else(|| Arc::from("cust-unknown"))
    }
}

fn sample_u32(d: &WeightedIndex<f64>, rng: &mut impl Rng) -> u32 {
    u32::try_from(d.sample(rng)).unwrap_or(0)
}
