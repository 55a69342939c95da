//! CSV written by any of the tools: one writer that neutralises every cell a spreadsheet would
//! run as a formula (CSV injection), so no writer can forget a column.
//!
//! A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading single
//! quote, which spreadsheets show as text. Reading a decisions file back strips that quote
//! where it matters (the e-mail column).

use std::borrow::Cow;
use std::io::Write;

/// The cell, with a leading single quote when a spreadsheet would run it as a formula.
pub fn csv_safe(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// A CSV writer whose every cell goes through [`csv_safe`].
pub struct SafeCsvWriter<W: Write> {
    inner: csv::Writer<W>,
}

impl<W: Write> SafeCsvWriter<W> {
    pub fn new(out: W) -> Self {
        SafeCsvWriter {
            inner: csv::Writer::from_writer(out),
        }
    }

    /// Writes one row, every cell neutralised.
    pub fn write_record<I, S>(&mut self, record: I) -> Result<(), csv::Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.inner.write_record(
            record
                .into_iter()
                .map(|c| csv_safe(c.as_ref()).into_owned()),
        )
    }

    /// Flushes and returns the output.
    pub fn into_inner(self) -> Result<W, std::io::Error> {
        self.inner.into_inner().map_err(|e| e.into_error())
    }
}

impl SafeCsvWriter<Vec<u8>> {
    /// A writer into memory.
    pub fn in_memory() -> Self {
        SafeCsvWriter::new(Vec::new())
    }

    /// The text written so far, flushed.
    pub fn into_string(self) -> Result<String, std::io::Error> {
        let bytes = self.into_inner()?;
        String::from_utf8(bytes).map_err(std::io::Error::other)
    }
}

/// The same CSV (header included) with every cell neutralised: what a tool keeps as evidence
/// of a file someone else wrote (a reviewer's decisions).
pub fn neutralise(text: &str) -> Result<String, csv::Error> {
    let mut rd = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut w = SafeCsvWriter::in_memory();
    for rec in rd.records() {
        w.write_record(rec?.iter())?;
    }
    Ok(w.into_string()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_quoted_and_others_kept() {
        assert_eq!(csv_safe("plain"), "plain");
        assert_eq!(csv_safe("\tx"), "'\tx");
        for f in ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\rA"] {
            assert_eq!(csv_safe(f), format!("'{f}"));
        }
        let mut w = SafeCsvWriter::in_memory();
        w.write_record(["a", "=1+1"]).unwrap();
        assert_eq!(w.into_string().unwrap(), "a,'=1+1\n");
    }

    #[test]
    fn neutralise_keeps_the_rows_and_quotes_every_formula() {
        let text = "email,justification\nana@x.example,\"=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\"\nbo@x.example,fine\n";
        let out = neutralise(text).unwrap();
        let mut rd = csv::Reader::from_reader(out.as_bytes());
        let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(&rows[0][1], "'=HYPERLINK(\"http://evil\",\"x\")");
        assert_eq!(&rows[1][1], "fine");
        // Idempotent: already quoted cells stay as they are.
        assert_eq!(neutralise(&out).unwrap(), out);
    }
}
