//! Concourse's identifier rule for names of jobs, resources, steps and friends.

/// What is wrong with an identifier, if anything, as the text after `'<id>' is not a valid
/// identifier: `. An empty identifier is reported separately (it is an error, not a warning).
pub fn identifier_problem(identifier: &str) -> Option<String> {
    let mut characters = identifier.chars();
    let first = characters.next()?;
    if identifier.chars().all(|c| c.is_ascii_digit()) {
        return Some("cannot be just numbers".to_owned());
    }
    if !(is_lowercase_letter(first) || first.is_numeric()) {
        return Some("must start with a lowercase letter or a number".to_owned());
    }
    characters
        .find(|&c| !(is_lowercase_letter(c) || c.is_numeric() || matches!(c, '-' | '_' | '.')))
        .map(|c| format!("illegal character '{c}'"))
}

/// Unicode Ll, Lt, Lm and Lo: letters that are not uppercase.
fn is_lowercase_letter(character: char) -> bool {
    character.is_alphabetic() && !character.is_uppercase()
}

/// The warning or error for an identifier in context, if any: `(is_error, message)`.
pub(crate) fn check_identifier(context: &str, identifier: &str) -> Option<(bool, String)> {
    if identifier.is_empty() {
        return Some((
            true,
            format!("{context}: identifier cannot be an empty string"),
        ));
    }
    identifier_problem(identifier).map(|reason| {
        (
            false,
            format!("{context}: '{identifier}' is not a valid identifier: {reason}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_the_identifier_rule() {
        assert_eq!(identifier_problem("good-name_1.2"), None);
        assert_eq!(identifier_problem("über"), None);
        assert_eq!(identifier_problem("1st"), None);
        assert_eq!(
            identifier_problem("123").as_deref(),
            Some("cannot be just numbers")
        );
        assert_eq!(
            identifier_problem("Bad").as_deref(),
            Some("must start with a lowercase letter or a number")
        );
        assert_eq!(
            identifier_problem("_x").as_deref(),
            Some("must start with a lowercase letter or a number")
        );
        assert_eq!(
            identifier_problem("a b").as_deref(),
            Some("illegal character ' '")
        );
        assert_eq!(
            identifier_problem("aB").as_deref(),
            Some("illegal character 'B'")
        );
    }
}
