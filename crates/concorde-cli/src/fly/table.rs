//! fly's tables: two spaces between columns, every cell (the last too) padded to its column's
//! widest text, the header row only on a terminal or with `--print-table-headers`.

use std::io::Write;

use super::style::Style;

/// One cell: its text and style.
#[derive(Debug, Clone)]
pub struct Cell {
    /// The text; widths count its bytes.
    pub text: String,
    /// The style, applied only when colors are on.
    pub style: Style,
}

impl Cell {
    /// A plain cell.
    pub fn plain(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            style: Style::Plain,
        }
    }

    /// A styled cell.
    pub fn styled(text: impl Into<String>, style: Style) -> Cell {
        Cell {
            text: text.into(),
            style,
        }
    }

    /// `yes`/`no`, as fly prints booleans in tables.
    pub fn yes_no(value: bool) -> Cell {
        Cell::plain(if value { "yes" } else { "no" })
    }

    /// A build status, colored as fly colors it.
    pub fn status(status: &str) -> Cell {
        Cell::styled(status, Style::for_status(status))
    }
}

/// A table to render.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// The column headers (bold).
    pub headers: Vec<&'static str>,
    /// The rows, each as long as `headers`.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// A table with these headers and no rows.
    pub fn new(headers: &[&'static str]) -> Table {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Sorts rows by the first column as a plain string, as fly's sorted tables do.
    pub fn sort_by_first_column(&mut self) {
        self.rows.sort_by(|a, b| {
            let key = |row: &Vec<Cell>| {
                row.first()
                    .map(|cell| cell.text.clone())
                    .unwrap_or_default()
            };
            key(a).cmp(&key(b))
        });
    }

    /// Writes the table.
    pub fn render(&self, out: &mut dyn Write, headers: bool, color: bool) -> std::io::Result<()> {
        let columns = self.headers.len();
        let mut widths = vec![0usize; columns];
        if headers {
            for (width, header) in widths.iter_mut().zip(&self.headers) {
                *width = header.len();
            }
        }
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.text.len());
            }
        }
        if headers {
            let cells: Vec<Cell> = self
                .headers
                .iter()
                .map(|header| Cell::styled(*header, Style::Bold))
                .collect();
            write_row(out, &cells, &widths, color)?;
        }
        for row in &self.rows {
            write_row(out, row, &widths, color)?;
        }
        Ok(())
    }
}

fn write_row(
    out: &mut dyn Write,
    row: &[Cell],
    widths: &[usize],
    color: bool,
) -> std::io::Result<()> {
    let mut line = String::new();
    for (index, (cell, width)) in row.iter().zip(widths).enumerate() {
        if index > 0 {
            line.push_str("  ");
        }
        line.push_str(&cell.style.paint(&cell.text, color));
        line.push_str(&" ".repeat(width.saturating_sub(cell.text.len())));
    }
    writeln!(out, "{line}")
}
