//! Glob patterns over job names: group entries use the gobwas syntax (`*`, `?`, `[abc]`,
//! `{a,b}`), `passed` entries use Go's `path.Match` (`*`, `?`, `[...]`).

/// A compiled group job glob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupGlob {
    tokens: Vec<Token>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Literal(char),
    AnySequence,
    AnyOne,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    Alternatives(Vec<Vec<Token>>),
}

impl GroupGlob {
    /// Compiles a gobwas-style glob; `None` when it is malformed.
    pub fn compile(pattern: &str) -> Option<GroupGlob> {
        let characters: Vec<char> = pattern.chars().collect();
        let mut position = 0;
        let tokens = parse_sequence(&characters, &mut position, true, false)?;
        (position == characters.len()).then_some(GroupGlob { tokens })
    }

    /// Whether `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        let characters: Vec<char> = name.chars().collect();
        match_tokens(&self.tokens, &characters, false)
    }
}

/// Go's `path.Match`: `Some(matched)`, or `None` for a malformed pattern.
pub fn path_match(pattern: &str, name: &str) -> Option<bool> {
    let characters: Vec<char> = pattern.chars().collect();
    let mut position = 0;
    let tokens = parse_sequence(&characters, &mut position, false, false)?;
    if position != characters.len() {
        return None;
    }
    let name: Vec<char> = name.chars().collect();
    Some(match_tokens(&tokens, &name, true))
}

/// Whether a `passed` entry is a pattern rather than a plain job name.
pub fn has_glob_meta(pattern: &str) -> bool {
    pattern.contains(['*', '?', '[', '\\'])
}

fn parse_sequence(
    pattern: &[char],
    position: &mut usize,
    braces: bool,
    in_braces: bool,
) -> Option<Vec<Token>> {
    let mut tokens = Vec::new();
    while *position < pattern.len() {
        let character = pattern[*position];
        match character {
            '*' => {
                *position += 1;
                tokens.push(Token::AnySequence);
            }
            '?' => {
                *position += 1;
                tokens.push(Token::AnyOne);
            }
            '[' => tokens.push(parse_class(pattern, position)?),
            '\\' => {
                let escaped = *pattern.get(*position + 1)?;
                *position += 2;
                tokens.push(Token::Literal(escaped));
            }
            '{' if braces => {
                *position += 1;
                let mut alternatives = Vec::new();
                loop {
                    alternatives.push(parse_sequence(pattern, position, braces, true)?);
                    match pattern.get(*position) {
                        Some(',') => *position += 1,
                        Some('}') => {
                            *position += 1;
                            break;
                        }
                        _ => return None,
                    }
                }
                tokens.push(Token::Alternatives(alternatives));
            }
            ',' | '}' if in_braces => return Some(tokens),
            '}' if braces => return None,
            other => {
                *position += 1;
                tokens.push(Token::Literal(other));
            }
        }
    }
    if in_braces { None } else { Some(tokens) }
}

fn parse_class(pattern: &[char], position: &mut usize) -> Option<Token> {
    *position += 1;
    let negated = matches!(pattern.get(*position), Some('!' | '^'));
    if negated {
        *position += 1;
    }
    let mut ranges = Vec::new();
    loop {
        let mut low = *pattern.get(*position)?;
        if low == ']' && !ranges.is_empty() {
            *position += 1;
            return Some(Token::Class { negated, ranges });
        }
        if low == ']' {
            return None;
        }
        if low == '\\' {
            *position += 1;
            low = *pattern.get(*position)?;
        }
        *position += 1;
        let mut high = low;
        if pattern.get(*position) == Some(&'-')
            && pattern.get(*position + 1).is_some_and(|c| *c != ']')
        {
            high = pattern[*position + 1];
            *position += 2;
            if high < low {
                return None;
            }
        }
        ranges.push((low, high));
    }
}

fn match_tokens(tokens: &[Token], name: &[char], slash_is_separator: bool) -> bool {
    let Some((first, rest)) = tokens.split_first() else {
        return name.is_empty();
    };
    match first {
        Token::Literal(expected) => {
            name.first() == Some(expected) && match_tokens(rest, &name[1..], slash_is_separator)
        }
        Token::AnyOne => {
            name.first()
                .is_some_and(|c| !(slash_is_separator && *c == '/'))
                && match_tokens(rest, &name[1..], slash_is_separator)
        }
        Token::AnySequence => (0..=name.len())
            .take_while(|&skip| skip == 0 || !(slash_is_separator && name[skip - 1] == '/'))
            .any(|skip| match_tokens(rest, &name[skip..], slash_is_separator)),
        Token::Class { negated, ranges } => {
            name.first().is_some_and(|c| {
                let inside = ranges.iter().any(|(low, high)| (low..=high).contains(&c));
                inside != *negated
            }) && match_tokens(rest, &name[1..], slash_is_separator)
        }
        Token::Alternatives(alternatives) => alternatives.iter().any(|alternative| {
            let mut combined = alternative.clone();
            combined.extend_from_slice(rest);
            match_tokens(&combined, name, slash_is_separator)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_globs_match_like_gobwas() {
        let glob = |p: &str| GroupGlob::compile(p).unwrap();
        assert!(glob("unit-*").matches("unit-linux"));
        assert!(glob("{build,test}-?").matches("test-1"));
        assert!(!glob("{build,test}-?").matches("deploy-1"));
        assert!(glob("[a-c]x").matches("bx"));
        assert!(glob("[!a-c]x").matches("dx"));
        assert!(GroupGlob::compile("[abc").is_none());
        assert!(GroupGlob::compile("{a,b").is_none());
    }

    #[test]
    fn passed_globs_match_like_path_match() {
        assert_eq!(path_match("build-*", "build-linux"), Some(true));
        assert_eq!(path_match("build-*", "test"), Some(false));
        assert_eq!(path_match("[", "x"), None);
        assert_eq!(path_match("{a,b}", "{a,b}"), Some(true));
    }
}
