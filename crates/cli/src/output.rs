//! Output for every command: aligned tables (comfy-table) by default, or CSV / JSON with
//! stable field names. Money goes out as decimal strings.

use std::io::Write;

use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, ContentArrangement, Table};
use serde_json::Value;

/// How a command prints its result.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Aligned table for humans.
    #[default]
    Table,
    /// JSON (stable field names; money as decimal strings).
    Json,
    /// CSV with a header row.
    Csv,
}

/// A rectangular result: headers and rows of display strings, plus the JSON form.
#[derive(Debug, Default, Clone)]
pub struct Rows {
    /// Column names (also the JSON/CSV field names).
    pub headers: Vec<String>,
    /// Cells, already formatted.
    pub rows: Vec<Vec<String>>,
}

#[allow(dead_code)]
impl Rows {
    /// New table with these headers.
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Self {
        Rows {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends one row.
    pub fn push<S: ToString>(&mut self, row: impl IntoIterator<Item = S>) {
        self.rows
            .push(row.into_iter().map(|c| c.to_string()).collect());
    }

    /// Renders an aligned table; numeric-looking cells are right-aligned.
    pub fn to_table(&self) -> String {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Disabled)
            .set_header(self.headers.clone());
        for r in &self.rows {
            t.add_row(r.clone());
        }
        for (i, col) in t.column_iter_mut().enumerate() {
            let numeric = self
                .rows
                .iter()
                .all(|r| r.get(i).is_some_and(|c| looks_numeric(c)));
            if numeric && !self.rows.is_empty() {
                col.set_cell_alignment(CellAlignment::Right);
            }
        }
        t.to_string()
    }

    /// CSV with a header row.
    pub fn to_csv(&self) -> anyhow::Result<String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&self.headers)?;
        for r in &self.rows {
            w.write_record(r)?;
        }
        Ok(String::from_utf8(
            w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?,
        )?)
    }

    /// JSON array of objects keyed by header.
    pub fn to_json(&self) -> Value {
        Value::Array(
            self.rows
                .iter()
                .map(|r| {
                    Value::Object(
                        self.headers
                            .iter()
                            .zip(r)
                            .map(|(h, c)| (h.clone(), Value::String(c.clone())))
                            .collect(),
                    )
                })
                .collect(),
        )
    }

    /// Prints in the chosen format (a closed pipe, e.g. `| head`, is not an error).
    pub fn print(&self, format: Format) -> anyhow::Result<()> {
        let text = match format {
            Format::Table => format!("{}\n", self.to_table()),
            Format::Csv => self.to_csv()?,
            Format::Json => format!("{}\n", serde_json::to_string_pretty(&self.to_json())?),
        };
        emit(&text)
    }
}

/// Prints any serializable value as pretty JSON.
#[allow(dead_code)]
pub fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    emit(&format!("{}\n", serde_json::to_string_pretty(v)?))
}

/// Writes to stdout; a reader that went away (broken pipe) ends output quietly.
pub fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

fn looks_numeric(s: &str) -> bool {
    let t = s
        .trim_start_matches(['$', '-'])
        .trim_end_matches(['%', 'x']);
    !t.is_empty()
        && t.chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let mut r = Rows::new(["model", "usd"]);
        r.push(["a,b", "1.50"]);
        assert!(r.to_table().contains("1.50"));
        assert_eq!(r.to_csv().unwrap(), "model,usd\n\"a,b\",1.50\n");
        assert_eq!(r.to_json()[0]["usd"], "1.50");
    }
}
