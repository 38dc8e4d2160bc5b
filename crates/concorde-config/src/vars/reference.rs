//! Parsing `((source:name.field."quoted.field"))` references.

use crate::vars::VarError;

/// A parsed var reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VarRef {
    /// The var source (`((source:name))`); `Some(".")` for local vars `((.:name))`.
    pub source: Option<String>,
    /// The var's name.
    pub name: String,
    /// Fields to walk into the var's value.
    pub fields: Vec<String>,
    /// The reference exactly as written between the parentheses.
    pub raw: String,
}

impl VarRef {
    /// Parses the text between `((` and `))`.
    pub fn parse(raw: &str) -> Result<VarRef, VarError> {
        let invalid = |reason: &str| VarError::InvalidReference {
            var: raw.to_owned(),
            reason: reason.to_owned(),
        };
        let text = raw.trim();
        let (source, path) = match split_source(text) {
            Some((source, path)) => {
                if source.starts_with('"') {
                    return Err(invalid("source must not be quoted"));
                }
                (Some(source.to_owned()), path)
            }
            None => (None, text),
        };
        let segments = split_path(path).ok_or_else(|| invalid("empty field"))?;
        let mut segments = segments.into_iter();
        let name = segments.next().ok_or_else(|| invalid("empty field"))?;
        Ok(VarRef {
            source,
            name,
            fields: segments.collect(),
            raw: raw.to_owned(),
        })
    }

    /// Whether this is a build-local var (`((.:name))`).
    pub fn is_local(&self) -> bool {
        self.source.as_deref() == Some(".")
    }
}

/// Splits `source:rest` on the first colon outside double quotes.
fn split_source(text: &str) -> Option<(&str, &str)> {
    let mut in_quotes = false;
    for (index, character) in text.char_indices() {
        match character {
            '"' => in_quotes = !in_quotes,
            ':' if !in_quotes => return Some((&text[..index], &text[index + 1..])),
            _ => {}
        }
    }
    None
}

/// Splits a dotted path; quoted segments may contain dots. `None` if a segment is empty.
fn split_path(path: &str) -> Option<Vec<String>> {
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    let mut was_quoted = false;
    for character in path.chars() {
        match character {
            '"' => {
                in_quotes = !in_quotes;
                was_quoted = true;
            }
            '.' if !in_quotes => {
                if current.is_empty() && !was_quoted {
                    return None;
                }
                segments.push(std::mem::take(&mut current));
                was_quoted = false;
            }
            other => current.push(other),
        }
    }
    if current.is_empty() && !was_quoted {
        return None;
    }
    segments.push(current);
    Some(segments)
}

/// Whether a character may appear inside `((...))`.
fn is_ref_char(character: char) -> bool {
    character.is_alphanumeric()
        || matches!(character, '_' | '-' | '/' | '.' | ':' | '@' | '"' | ' ')
}

/// Finds every `((ref))` in a string: the byte range of the whole `((...))` and the inner text.
pub fn find_var_refs(text: &str) -> Vec<(std::ops::Range<usize>, &str)> {
    let mut found = Vec::new();
    let mut search_from = 0;
    while let Some(offset) = text[search_from..].find("((") {
        let start = search_from + offset;
        let inner_start = start + 2;
        let Some(inner_len) = text[inner_start..].find("))") else {
            break;
        };
        let inner = &text[inner_start..inner_start + inner_len];
        if !inner.trim().is_empty() && inner.chars().all(is_ref_char) {
            found.push((start..inner_start + inner_len + 2, inner));
            search_from = inner_start + inner_len + 2;
        } else {
            search_from = start + 1;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
        let var = VarRef::parse("vault:secret.\"dotted.key\".inner").unwrap();
        assert_eq!(var.source.as_deref(), Some("vault"));
        assert_eq!(var.name, "secret");
        assert_eq!(var.fields, vec!["dotted.key", "inner"]);
        let local = VarRef::parse(".:branch").unwrap();
        assert!(local.is_local());
        assert_eq!(local.name, "branch");
        assert_eq!(
            VarRef::parse("a..b").unwrap_err().to_string(),
            "invalid var 'a..b': empty field"
        );
        assert_eq!(
            VarRef::parse("\"src\":x").unwrap_err().to_string(),
            "invalid var '\"src\":x': source must not be quoted"
        );
    }

    #[test]
    fn finds_references_in_text() {
        let text = "a ((x)) b ((y.z)) (( )) ((not closed";
        let inner: Vec<&str> = find_var_refs(text)
            .into_iter()
            .map(|(_, inner)| inner)
            .collect();
        assert_eq!(inner, vec!["x", "y.z"]);
    }
}
