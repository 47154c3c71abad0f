//! Base URLs of nodes as users type them: `http://host:port`, or just
//! `host:port` (http is assumed). One normalizer for every URL flag and
//! for the primary's `--secondary ID=URL`.

use reqwest::Url;

/// Checks and normalizes a node's base URL to `scheme://host[:port]`, with
/// no trailing slash. Accepts `host:port` without a scheme. Refuses other
/// schemes than http(s), an empty host, and anything a base URL cannot
/// carry (a path, query, fragment or credentials). The error names the URL.
pub fn normalize(input: &str) -> Result<String, String> {
    let trimmed = input.trim();
    let bad = |why: &str| format!("invalid URL {input:?}: {why}");
    if trimmed.is_empty() {
        return Err(bad("empty"));
    }
    // Without "://" a URL parser would read `localhost:7000` as scheme
    // `localhost`; such input is a host and port.
    let full = match trimmed.split_once("://") {
        Some((scheme, _)) if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") => {
            return Err(bad(&format!(
                "scheme {scheme:?} is not supported (use http or https)"
            )));
        }
        Some(_) => trimmed.to_string(),
        None => format!("http://{trimmed}"),
    };
    let url = Url::parse(&full).map_err(|e| bad(&e.to_string()))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("credentials are not supported in a node URL"));
    }
    if url.path() != "/" {
        return Err(bad("a node URL has no path (expected scheme://host:port)"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            "a node URL has no query or fragment (expected scheme://host:port)",
        ));
    }
    Ok(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn accepts_and_normalizes() {
        let table = [
            ("http://127.0.0.1:7000", "http://127.0.0.1:7000"),
            ("http://127.0.0.1:7000/", "http://127.0.0.1:7000"),
            ("127.0.0.1:7000", "http://127.0.0.1:7000"),
            ("  127.0.0.1:7000  ", "http://127.0.0.1:7000"),
            ("localhost:7000", "http://localhost:7000"),
            ("s1:7000", "http://s1:7000"),
            ("localhost", "http://localhost"),
            ("HTTP://Example.COM:8080", "http://example.com:8080"),
            ("https://replog.example:443/", "https://replog.example"),
            ("[::1]:7000", "http://[::1]:7000"),
            ("http://[::1]:7000", "http://[::1]:7000"),
        ];
        for (input, want) in table {
            assert_eq!(normalize(input).as_deref(), Ok(want), "input {input:?}");
        }
    }

    #[test]
    fn rejects_with_the_url_named() {
        let table = [
            ("", "empty"),
            ("   ", "empty"),
            ("ht!tp://x", "scheme \"ht!tp\" is not supported"),
            ("://x", "scheme \"\" is not supported"),
            ("ftp://127.0.0.1:7000", "scheme \"ftp\""),
            ("http://", "http://"),
            ("http://:7000", "http://:7000"),
            ("127.0.0.1:99999", "invalid port"),
            ("127.0.0.1:7000/messages", "no path"),
            ("http://h:1/x/", "no path"),
            ("http://h:1?a=b", "no query"),
            ("http://h:1/#frag", "no query"),
            ("http://u:pw@h:1", "credentials"),
            ("http://h:1 x", "invalid"),
        ];
        for (input, want) in table {
            match normalize(input) {
                Ok(url) => panic!("{input:?} was accepted as {url:?}"),
                Err(e) => {
                    assert!(e.starts_with("invalid URL \""), "{input:?}: {e}");
                    assert!(e.contains(want), "{input:?}: {e} (want {want:?})");
                    assert!(!e.contains('\n'), "one line: {e}");
                }
            }
        }
    }
}
