//! Reports made of several tables, as one machine-readable output. CSV: one file whose first
//! column, `section`, names the table a row belongs to; the other columns are the union of
//! the tables' columns (in order of first appearance), empty where a table has no such
//! column. JSON: one object with a key per section (an array of row objects), for reports
//! whose JSON is not already their full result struct.

use serde_json::{Map, Value};

use crate::output::{emit, Format, Rows};

/// Several named tables.
#[derive(Debug, Default)]
pub(crate) struct Sections {
    parts: Vec<(String, Rows)>,
}

impl Sections {
    /// Appends a table under `name`.
    pub(crate) fn add(&mut self, name: &str, rows: Rows) {
        self.parts.push((name.to_string(), rows));
    }

    /// The single CSV table with a leading `section` column.
    pub(crate) fn to_csv_rows(&self) -> Rows {
        let mut headers: Vec<String> = vec!["section".into()];
        for (_, r) in &self.parts {
            for h in &r.headers {
                if !headers.contains(h) {
                    headers.push(h.clone());
                }
            }
        }
        let mut out = Rows::new(headers.clone());
        for (name, r) in &self.parts {
            for row in &r.rows {
                let mut cells = vec![String::new(); headers.len()];
                cells[0] = name.clone();
                for (h, c) in r.headers.iter().zip(row) {
                    if let Some(i) = headers.iter().position(|x| x == h) {
                        cells[i] = c.clone();
                    }
                }
                out.push(cells);
            }
        }
        out
    }

    /// `{section: [row objects]}`.
    pub(crate) fn to_json(&self) -> Value {
        let mut m = Map::new();
        for (name, r) in &self.parts {
            m.insert(name.clone(), r.to_json());
        }
        Value::Object(m)
    }

    /// Prints in `format`: tables one after the other (each preceded by its title line when
    /// `titles`), or the CSV / JSON forms above.
    pub(crate) fn print(&self, format: Format, titles: bool) -> anyhow::Result<()> {
        match format {
            Format::Csv => self.to_csv_rows().print(Format::Csv),
            Format::Json => emit(&format!(
                "{}\n",
                serde_json::to_string_pretty(&self.to_json())?
            )),
            Format::Table => {
                for (name, r) in &self.parts {
                    if titles {
                        emit(&format!("{name}\n"))?;
                    }
                    r.print(Format::Table)?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_a_section_column_and_the_union_of_columns() {
        let mut a = Rows::new(["k", "v"]);
        a.push(["x", "1"]);
        let mut b = Rows::new(["k", "w"]);
        b.push(["y", "2"]);
        let mut s = Sections::default();
        s.add("first", a);
        s.add("second", b);
        let csv = s.to_csv_rows().to_csv().unwrap_or_default();
        assert_eq!(csv, "section,k,v,w\nfirst,x,1,\nsecond,y,,2\n");
        let j = s.to_json();
        assert_eq!(j["second"][0]["w"], "2");
    }
}
