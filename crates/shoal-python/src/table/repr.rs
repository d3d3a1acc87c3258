//! `repr(t)` and the HTML preview notebooks show.

use pyo3::prelude::*;

use super::{row_objects, PyTable};

#[pymethods]
impl PyTable {
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let this = slf.get();
        let n = this.read()?.inner.len();
        let name = &this.schema.get().record_name;
        let mut out = format!("Table[{name}] with {n} rows");
        for part in preview_rows(n) {
            out.push_str("\n  ");
            match part {
                Some(i) => out.push_str(&Self::row_handle(slf, i)?.repr()?.to_string()),
                None => out.push_str("..."),
            }
        }
        Ok(out)
    }

    fn _repr_html_(slf: &Bound<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        let this = slf.get();
        let schema = this.schema.get();
        let n = this.read()?.inner.len();
        let mut html = String::from("<table class=\"shoal\"><thead><tr><th></th>");
        for f in schema.core.fields() {
            html += &format!("<th>{}<br><small>{}</small></th>", escape(&f.name), f.dtype);
        }
        html += "</tr></thead><tbody>";
        for part in preview_rows(n) {
            match part {
                Some(i) => {
                    html += &format!("<tr><th>{i}</th>");
                    for v in row_objects(slf, i)? {
                        html += &format!("<td>{}</td>", escape(&v.repr()?.to_string()));
                    }
                    html += "</tr>";
                }
                None => html += &format!("<tr><td colspan=\"{}\">...</td></tr>", schema.len() + 1),
            }
        }
        let _ = py;
        html += &format!(
            "</tbody></table><p>Table[{}]: {n} rows, {} bytes in columns</p>",
            escape(&schema.record_name),
            this.read()?.inner.nbytes()
        );
        Ok(html)
    }
}

/// Which rows a preview shows: all of up to 10, else the first 5, a gap, and the last 5.
pub(crate) fn preview_rows(n: usize) -> Vec<Option<usize>> {
    if n <= 10 {
        (0..n).map(Some).collect()
    } else {
        (0..5)
            .map(Some)
            .chain([None])
            .chain((n - 5..n).map(Some))
            .collect()
    }
}

pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
