//! The lexer of the command language: bare words, `"quoted strings"` and
//! `[lists, of, items]`, read one at a time from a line, so that a command
//! such as `send` can take the rest of the line as its text.

use super::grammar_error::GrammarError;

/// One token of a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Word(String),
    /// A `"…"` string, unescaped.
    Quoted(String),
    /// A `[…]` list of items (bare or quoted), unescaped.
    List(Vec<String>),
}

impl Token {
    /// The token as a plain string (a word or a quoted string).
    pub fn text(self) -> Option<String> {
        match self {
            Token::Word(w) | Token::Quoted(w) => Some(w),
            Token::List(_) => None,
        }
    }
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Token::Word(w) => f.write_str(w),
            Token::Quoted(q) => f.write_str(&quote(q)),
            Token::List(items) => f.write_str(&quote_list(items)),
        }
    }
}

/// A cursor over one line.
pub struct Words<'a> {
    rest: &'a str,
}

impl<'a> Words<'a> {
    pub fn new(line: &'a str) -> Self {
        Words { rest: line.trim() }
    }

    /// What is left of the line, trimmed.
    pub fn rest(&self) -> &'a str {
        self.rest.trim()
    }

    /// The next bare word without consuming it (`None` for a quote or list).
    pub fn peek_word(&self) -> Option<&'a str> {
        let rest = self.rest.trim_start();
        if rest.is_empty() || rest.starts_with('"') || rest.starts_with('[') {
            return None;
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        Some(&rest[..end])
    }

    /// Consumes `n` bytes of the (left-trimmed) rest.
    /// Whether a `[list]` comes next.
    pub fn rest_starts_with_list(&self) -> bool {
        self.rest.trim_start().starts_with('[')
    }

    pub fn skip(&mut self, n: usize) {
        let rest = self.rest.trim_start();
        self.rest = &rest[n.min(rest.len())..];
    }

    pub fn next_token(&mut self) -> Result<Option<Token>, GrammarError> {
        let rest = self.rest.trim_start();
        if rest.is_empty() {
            self.rest = rest;
            return Ok(None);
        }
        if rest.starts_with('"') {
            let (text, used) = quoted(rest)?;
            self.rest = &rest[used..];
            return Ok(Some(Token::Quoted(text)));
        }
        if let Some(body) = rest.strip_prefix('[') {
            let (items, used) = list(body)?;
            self.rest = &body[used..];
            return Ok(Some(Token::List(items)));
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        self.rest = &rest[end..];
        Ok(Some(Token::Word(rest[..end].to_string())))
    }

    /// The next token as a string (word or quoted), or what is missing.
    pub fn string(&mut self, what: &'static str) -> Result<String, GrammarError> {
        match self.next_token()? {
            Some(token) => token.text().ok_or(GrammarError::Missing {
                what,
                got: "a list",
            }),
            None => Err(GrammarError::Missing {
                what,
                got: "the end of the line",
            }),
        }
    }
}

/// Reads `"…"` at the start of `s`; returns the text and the bytes used.
fn quoted(s: &str) -> Result<(String, usize), GrammarError> {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, i + 1)),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, c)) => out.push(c),
                None => break,
            },
            c => out.push(c),
        }
    }
    Err(GrammarError::Unclosed("\""))
}

/// Reads list items up to the closing `]` (the `[` is already consumed).
fn list(s: &str) -> Result<(Vec<String>, usize), GrammarError> {
    let mut items = Vec::new();
    let mut pos = 0;
    loop {
        let rest = &s[pos..];
        let trimmed = rest.trim_start();
        pos += rest.len() - trimmed.len();
        if let Some(after) = trimmed.strip_prefix(']') {
            let _ = after;
            return Ok((items, pos + 1));
        }
        if trimmed.is_empty() {
            return Err(GrammarError::Unclosed("["));
        }
        if trimmed.starts_with('"') {
            let (item, used) = quoted(trimmed)?;
            items.push(item);
            pos += used;
        } else {
            let end = trimmed.find([',', ']']).unwrap_or(trimmed.len());
            let item = trimmed[..end].trim();
            if item.is_empty() {
                return Err(GrammarError::EmptyItem);
            }
            items.push(item.to_string());
            pos += end;
        }
        let rest = &s[pos..];
        let trimmed = rest.trim_start();
        pos += rest.len() - trimmed.len();
        if let Some(_after) = trimmed.strip_prefix(',') {
            pos += 1;
        } else if !trimmed.starts_with(']') {
            return Err(GrammarError::Unclosed("["));
        }
    }
}

/// A string as one token: bare when that reads back the same, else quoted.
pub fn quote(s: &str) -> String {
    let bare = !s.is_empty()
        && !s.starts_with(['"', '['])
        && !s.contains(|c: char| c.is_whitespace() || c == '\\');
    if bare {
        s.to_string()
    } else {
        always_quoted(s)
    }
}

fn always_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A list as one token; items that would not read back bare are quoted.
pub fn quote_list(items: &[String]) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|item| {
            let bare = !item.is_empty()
                && item.trim() == item
                && !item.starts_with('"')
                && !item.contains([',', ']', '\\', '\n', '\t']);
            if bare {
                item.clone()
            } else {
                always_quoted(item)
            }
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_words_quotes_and_lists() {
        let mut w = Words::new(r#" s1 shows [a, "b, c", d e]  "x \"y\"" rest of it "#);
        assert_eq!(w.next_token(), Ok(Some(Token::Word("s1".into()))));
        assert_eq!(w.peek_word(), Some("shows"));
        assert_eq!(w.next_token(), Ok(Some(Token::Word("shows".into()))));
        assert_eq!(
            w.next_token(),
            Ok(Some(Token::List(vec![
                "a".into(),
                "b, c".into(),
                "d e".into()
            ])))
        );
        assert_eq!(w.next_token(), Ok(Some(Token::Quoted("x \"y\"".into()))));
        assert_eq!(w.rest(), "rest of it");
        assert_eq!(Words::new("[]").next_token(), Ok(Some(Token::List(vec![]))));
        assert!(Words::new("[a, b").next_token().is_err());
        assert!(Words::new("\"open").next_token().is_err());
        assert!(Words::new("[a,,b]").next_token().is_err());
    }

    #[test]
    fn quoting_reads_back() {
        for s in [
            "plain",
            "two words",
            "",
            "\"q\"",
            "[x",
            "back\\slash",
            "tab\there",
        ] {
            let mut w = Words::new(Box::leak(quote(s).into_boxed_str()));
            assert_eq!(w.string("x"), Ok(s.to_string()), "{s:?}");
        }
        let items = vec!["a".to_string(), " b".into(), "c,d".into(), "".into()];
        let text = quote_list(&items);
        assert_eq!(Words::new(&text).next_token(), Ok(Some(Token::List(items))));
    }
}
