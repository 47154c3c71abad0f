//! A JUnit XML report for CI: one `<testcase>` per scenario, its failures
//! as `<failure>`, its printed run as `<system-out>`.

use std::fmt::Write;

/// One scenario's run, as the report needs it.
#[derive(Debug, Clone, Default)]
pub struct CaseReport {
    pub name: String,
    pub description: String,
    pub seconds: f64,
    /// Failed expectations, waits and actions.
    pub failures: Vec<String>,
    /// The run could not happen at all (the cluster did not start).
    pub error: Option<String>,
    /// Everything printed while it ran.
    pub output: String,
}

impl CaseReport {
    pub fn passed(&self) -> bool {
        self.failures.is_empty() && self.error.is_none()
    }
}

pub fn render(cases: &[CaseReport]) -> String {
    let failures = cases.iter().filter(|c| !c.failures.is_empty()).count();
    let errors = cases.iter().filter(|c| c.error.is_some()).count();
    let time: f64 = cases.iter().map(|c| c.seconds).sum();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let totals = format!(
        "tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{time:.3}\"",
        cases.len()
    );
    let _ = writeln!(xml, "<testsuites name=\"replog demo\" {totals}>");
    let _ = writeln!(xml, "  <testsuite name=\"replog demo\" {totals}>");
    for case in cases {
        let _ = writeln!(
            xml,
            "    <testcase classname=\"replog.demo\" name=\"{}\" time=\"{:.3}\">",
            escape(&case.name),
            case.seconds
        );
        if let Some(error) = &case.error {
            let _ = writeln!(
                xml,
                "      <error message=\"{}\">{}</error>",
                escape(error),
                escape(error)
            );
        }
        if !case.failures.is_empty() {
            let message = format!(
                "{} of the scenario's checks failed: {}",
                case.failures.len(),
                case.failures[0]
            );
            let _ = writeln!(
                xml,
                "      <failure message=\"{}\">{}</failure>",
                escape(&message),
                escape(&case.failures.join("\n"))
            );
        }
        let _ = writeln!(
            xml,
            "      <system-out>{}</system-out>",
            escape(&format!("{}\n{}", case.description, case.output))
        );
        let _ = writeln!(xml, "    </testcase>");
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

/// Text safe in XML content and attribute values. Characters XML 1.0 cannot
/// carry at all (most control characters) become U+FFFD.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Kept literal in content; in attributes they would be
            // normalised to spaces, which is fine for a message.
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_control_characters() {
        assert_eq!(
            escape("a<b>&\"c\" 'd'\u{1b}[31m"),
            "a&lt;b&gt;&amp;&quot;c&quot; &apos;d&apos;\u{FFFD}[31m"
        );
    }

    #[test]
    fn one_testcase_per_scenario_with_failures() {
        let cases = vec![
            CaseReport {
                name: "ok".into(),
                seconds: 1.5,
                ..Default::default()
            },
            CaseReport {
                name: "bad <one>".into(),
                failures: vec!["s2 shows [a] — saw []".into()],
                ..Default::default()
            },
        ];
        let xml = render(&cases);
        assert_eq!(xml.matches("<testcase ").count(), 2);
        assert_eq!(xml.matches("<failure ").count(), 1);
        assert!(xml.contains("name=\"bad &lt;one&gt;\""));
        assert!(xml.contains("tests=\"2\" failures=\"1\" errors=\"0\""));
    }
}
