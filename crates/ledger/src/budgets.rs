//! Budget specs: `budgets(name, spec_json, updated_ms)`. The policy crate owns the spec
//! type; this table stores its JSON text (checked to be valid JSON).

use rusqlite::params;
use serde::Serialize;

use crate::error::LedgerError;
use crate::keys::AdminStore;

/// One stored budget spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BudgetSpecRow {
    /// Unique name.
    pub name: String,
    /// The policy crate's spec, as JSON text.
    pub spec_json: String,
    /// Last update, ms.
    pub updated_ms: i64,
}

impl AdminStore {
    /// Inserts or replaces a budget spec.
    pub fn put_budget(&self, name: &str, spec_json: &str, now_ms: i64) -> Result<(), LedgerError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 256 || name.chars().any(char::is_control) {
            return Err(LedgerError::Invalid(format!(
                "budget name '{name}' must be 1-256 printable characters"
            )));
        }
        serde_json::from_str::<serde_json::Value>(spec_json).map_err(|e| {
            LedgerError::Invalid(format!("budget '{name}' spec is not valid JSON: {e}"))
        })?;
        self.conn.execute(
            "INSERT INTO budgets(name, spec_json, updated_ms) VALUES(?1, ?2, ?3) \
             ON CONFLICT(name) DO UPDATE SET spec_json=excluded.spec_json, updated_ms=excluded.updated_ms",
            params![name, spec_json, now_ms],
        )?;
        Ok(())
    }

    /// All budget specs, by name.
    pub fn list_budgets(&self) -> Result<Vec<BudgetSpecRow>, LedgerError> {
        let mut st = self
            .conn
            .prepare("SELECT name, spec_json, updated_ms FROM budgets ORDER BY name")?;
        let rows = st.query_map([], |r| {
            Ok(BudgetSpecRow {
                name: r.get(0)?,
                spec_json: r.get(1)?,
                updated_ms: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes a spec; false when there was none.
    pub fn delete_budget(&self, name: &str) -> Result<bool, LedgerError> {
        Ok(self
            .conn
            .execute("DELETE FROM budgets WHERE name=?1", [name.trim()])?
            > 0)
    }
}
