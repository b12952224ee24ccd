//! The body sent upstream: the client's JSON object with a few keys removed or replaced,
//! written straight from the parsed request without copying it (a prompt can be megabytes).

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

/// `base` with the keys in `remove` left out and those in `set` written with new values.
pub(crate) struct Patched<'a> {
    /// The client's object.
    pub(crate) base: &'a Map<String, Value>,
    /// Keys not sent.
    pub(crate) remove: &'a [&'a str],
    /// Keys sent with these values (added when missing).
    pub(crate) set: Vec<(&'a str, Value)>,
}

impl Patched<'_> {
    /// The JSON bytes.
    pub(crate) fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        // Writing a `Map` of `Value`s into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut out, self);
        out
    }
}

impl Serialize for Patched<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        for (k, v) in self.base {
            let k = k.as_str();
            if self.remove.contains(&k) || self.set.iter().any(|(n, _)| *n == k) {
                continue;
            }
            m.serialize_entry(k, v)?;
        }
        for (k, v) in &self.set {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn removes_replaces_and_adds() {
        let base = obj(
            serde_json::json!({"model": "a", "max_price": 1, "messages": [{"role": "user", "content": "hi"}]}),
        );
        let p = Patched {
            base: &base,
            remove: &["max_price", "absent"],
            set: vec![("model", "b".into()), ("max_tokens", 5.into())],
        };
        let got: Value = serde_json::from_slice(&p.to_vec()).unwrap_or_default();
        assert_eq!(
            got,
            serde_json::json!({"model": "b", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
        );
    }

    proptest! {
        /// The same object as cloning, editing and serializing would give.
        #[test]
        fn equals_the_edited_copy(
            keys in proptest::collection::btree_map("[a-e]{1,2}", any::<i32>(), 0..12),
            remove in proptest::collection::vec("[a-e]{1,2}", 0..3),
            set in proptest::collection::btree_map("[a-e]{1,2}", any::<i32>(), 0..3),
        ) {
            let base: Map<String, Value> = keys.into_iter().map(|(k, v)| (k, v.into())).collect();
            let remove: Vec<&str> = remove.iter().map(String::as_str).collect();
            let p = Patched {
                base: &base,
                remove: &remove,
                set: set.iter().map(|(k, v)| (k.as_str(), Value::from(*v))).collect(),
            };
            let mut want = base.clone();
            for k in &remove {
                want.remove(*k);
            }
            for (k, v) in &set {
                want.insert(k.clone(), (*v).into());
            }
            let got: Value = serde_json::from_slice(&p.to_vec()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(got, Value::Object(want));
        }
    }
}
