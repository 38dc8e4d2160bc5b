//! Pagination of build and version lists: the `limit`/`from`/`to` query and the `Link`
//! response headers (`rel="next"` is the older page, `rel="previous"` the newer one).

use serde::{Deserialize, Serialize};

/// Default page size when the request gives no `limit`.
pub const DEFAULT_LIMIT: i64 = 100;

/// A page request: ids (build ids, or version ids for resource versions), newest first.
///
/// `to` asks for items with id ≤ `to` (older page); `from` for items with id ≥ `from` (newer
/// page). With neither, the newest items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// Only items with id ≥ this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<i64>,
    /// Only items with id ≤ this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<i64>,
    /// At most this many items; 0 or absent means [`DEFAULT_LIMIT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

impl Page {
    /// The effective limit.
    pub fn limit_or_default(&self) -> i64 {
        self.limit
            .filter(|limit| *limit > 0)
            .unwrap_or(DEFAULT_LIMIT)
    }

    /// The query string of this page, e.g. `to=12&limit=50`.
    pub fn query(&self) -> String {
        let mut parts = Vec::new();
        if let Some(from) = self.from {
            parts.push(format!("from={from}"));
        }
        if let Some(to) = self.to {
            parts.push(format!("to={to}"));
        }
        parts.push(format!("limit={}", self.limit_or_default()));
        parts.join("&")
    }
}

/// The neighbouring pages of a response, as its `Link` headers name them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pagination {
    /// The newer page (`rel="previous"`).
    pub previous: Option<Page>,
    /// The older page (`rel="next"`).
    pub next: Option<Page>,
}

impl Pagination {
    /// Reads the pages out of `Link` header values; unknown links are ignored.
    pub fn from_link_headers<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut pagination = Pagination::default();
        for value in values {
            for link in value.split(',') {
                let Some((target, params)) = link.trim().split_once(';') else {
                    continue;
                };
                let target = target.trim().trim_start_matches('<').trim_end_matches('>');
                let page = parse_page(target);
                match params.trim() {
                    r#"rel="next""# => pagination.next = Some(page),
                    r#"rel="previous""# => pagination.previous = Some(page),
                    _ => {}
                }
            }
        }
        pagination
    }
}

fn parse_page(url: &str) -> Page {
    let mut page = Page::default();
    let query = url.split_once('?').map_or("", |(_, query)| query);
    for pair in query.split('&') {
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        let value = value.parse().ok();
        match key {
            "from" => page.from = value,
            "to" => page.to = value,
            "limit" => page.limit = value,
            _ => {}
        }
    }
    page
}

/// One `Link` header value: `<{base}{path}?{page query}>; rel="{rel}"`.
pub fn link_header(base: &str, path: &str, page: &Page, rel: &str) -> String {
    format!("<{base}{path}?{}>; rel=\"{rel}\"", page.query())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]
mod tests {
    use super::*;

    #[test]
    fn link_headers_round_trip() {
        let next = Page {
            to: Some(40),
            limit: Some(2),
            from: None,
        };
        let previous = Page {
            from: Some(43),
            limit: Some(2),
            to: None,
        };
        let headers = [
            link_header("http://ci", "/api/v1/builds", &next, "next"),
            link_header("http://ci", "/api/v1/builds", &previous, "previous"),
        ];
        assert_eq!(
            headers[0],
            r#"<http://ci/api/v1/builds?to=40&limit=2>; rel="next""#
        );
        let parsed = Pagination::from_link_headers(headers.iter().map(String::as_str));
        assert_eq!(parsed.next, Some(next));
        assert_eq!(parsed.previous, Some(previous));
    }

    #[test]
    fn limit_defaults_to_one_hundred() {
        assert_eq!(Page::default().limit_or_default(), 100);
        assert_eq!(
            Page {
                limit: Some(0),
                ..Page::default()
            }
            .limit_or_default(),
            100
        );
    }
}
