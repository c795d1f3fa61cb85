//! Targeted edits of a text file: each `old_text` is matched exactly or,
//! when it does not occur exactly, line by line ignoring leading and
//! trailing whitespace; it must match `expected_replacements` times. Edits
//! apply in order, each to the result of the ones before; one that fails
//! fails them all. [`diff`] gives the unified diff of a change.

use schemars::JsonSchema;
use serde::Serialize;
use similar::TextDiff;

use crate::error::{Error, Result};

/// One replacement asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub old_text: String,
    pub new_text: String,
    pub expected_replacements: usize,
}

/// How an edit matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Matched {
    /// `exact`, or `lines` (line by line, ignoring leading/trailing
    /// whitespace; the new text was re-indented like the lines it replaced).
    pub how: &'static str,
    /// The line (1-based, in the text the edit was applied to) where each
    /// replacement starts.
    pub lines: Vec<usize>,
}

/// Line numbers (1-based) of byte offsets `at` (sorted) in `text`.
fn line_numbers(text: &str, at: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(at.len());
    let mut line = 1;
    let mut pos = 0;
    for &a in at {
        line += text.as_bytes()[pos..a]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        pos = a;
        out.push(line);
    }
    out
}

fn which(i: usize) -> String {
    format!("edits[{i}]")
}

/// Applies `edits` to `text` in order.
pub fn apply(text: &str, edits: &[Edit]) -> Result<(String, Vec<Matched>)> {
    let mut cur = text.to_string();
    let mut report = Vec::with_capacity(edits.len());
    for (i, e) in edits.iter().enumerate() {
        if e.old_text.is_empty() {
            return Err(Error::invalid(format!(
                "{}.old_text is empty; give the exact text to replace (to add text, include a line next to where it goes)",
                which(i)
            )));
        }
        let (next, m) = apply_one(&cur, e).map_err(|why| {
            Error::invalid(format!(
                "{}: {why}; no edit was applied and the file was not changed",
                which(i)
            ))
        })?;
        cur = next;
        report.push(m);
    }
    Ok((cur, report))
}

fn apply_one(text: &str, e: &Edit) -> std::result::Result<(String, Matched), String> {
    let want = e.expected_replacements;
    let exact: Vec<usize> = text.match_indices(&e.old_text).map(|(i, _)| i).collect();
    if !exact.is_empty() {
        if exact.len() != want {
            return Err(count_error(
                exact.len(),
                want,
                &line_numbers(text, &exact),
                "exactly",
            ));
        }
        let lines = line_numbers(text, &exact);
        return Ok((
            text.replace(&e.old_text, &e.new_text),
            Matched {
                how: "exact",
                lines,
            },
        ));
    }
    let old: Vec<&str> = e.old_text.lines().map(str::trim).collect();
    // Blank lines around the old text carry no position.
    let first = old.iter().position(|l| !l.is_empty());
    let last = old.iter().rposition(|l| !l.is_empty());
    let (Some(first), Some(last)) = (first, last) else {
        return Err("old_text has only whitespace, which cannot be matched line by line".into());
    };
    let old = &old[first..=last];
    let old_indent = e
        .old_text
        .lines()
        .nth(first)
        .map(leading_ws)
        .unwrap_or_default();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut starts = Vec::new();
    let mut i = 0;
    while i + old.len() <= lines.len() {
        if lines[i..i + old.len()]
            .iter()
            .zip(old)
            .all(|(l, o)| l.trim() == *o)
        {
            starts.push(i);
            i += old.len();
        } else {
            i += 1;
        }
    }
    if starts.is_empty() {
        let hint = lines
            .iter()
            .position(|l| l.trim() == old[0])
            .map(|n| {
                format!(
                    " (its first line occurs at line {}, but the lines after it differ)",
                    n + 1
                )
            })
            .unwrap_or_default();
        return Err(format!(
            "old_text was not found, neither exactly nor line by line ignoring leading/trailing whitespace{hint}; read the file again and copy the text to replace"
        ));
    }
    let numbers: Vec<usize> = starts.iter().map(|s| s + 1).collect();
    if starts.len() != want {
        return Err(count_error(
            starts.len(),
            want,
            &numbers,
            "line by line (ignoring leading/trailing whitespace)",
        ));
    }
    let mut out = String::with_capacity(text.len() + e.new_text.len());
    let mut at = 0;
    for &s in &starts {
        for l in &lines[at..s] {
            out.push_str(l);
        }
        let replaced = &lines[s..s + old.len()];
        let file_indent = leading_ws(replaced[0]);
        let eol = if replaced[0].ends_with("\r\n") {
            "\r\n"
        } else {
            "\n"
        };
        let last_end = replaced[replaced.len() - 1];
        let ends_open = !last_end.ends_with('\n');
        let new_lines: Vec<&str> = e.new_text.lines().collect();
        for (k, nl) in new_lines.iter().enumerate() {
            if !nl.trim().is_empty() {
                let body = nl.strip_prefix(old_indent).unwrap_or(nl);
                out.push_str(file_indent);
                out.push_str(body);
            }
            if !(ends_open && k + 1 == new_lines.len()) {
                out.push_str(eol);
            }
        }
        at = s + old.len();
    }
    for l in &lines[at..] {
        out.push_str(l);
    }
    Ok((
        out,
        Matched {
            how: "lines",
            lines: numbers,
        },
    ))
}

fn leading_ws(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}

fn count_error(found: usize, want: usize, lines: &[usize], how: &str) -> String {
    let shown: Vec<String> = lines.iter().take(10).map(usize::to_string).collect();
    let more = if lines.len() > 10 { ", …" } else { "" };
    format!(
        "old_text matches {found} times {how} (at lines {}{more}) but expected_replacements is {want}; include more surrounding text to pick one, or set expected_replacements to {found} to replace them all",
        shown.join(", ")
    )
}

/// The unified diff (3 lines of context) from `old` to `new` of the file
/// `rel`; empty when they are equal.
pub fn diff(rel: &str, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{rel}"), &format!("b/{rel}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(old: &str, new: &str) -> Edit {
        Edit {
            old_text: old.into(),
            new_text: new.into(),
            expected_replacements: 1,
        }
    }

    #[test]
    fn an_exact_match_is_replaced_and_its_line_reported() {
        let (out, m) = apply("a\nb\nc\n", &[edit("b\n", "B\nB2\n")]).unwrap();
        assert_eq!(out, "a\nB\nB2\nc\n");
        assert_eq!(
            m,
            vec![Matched {
                how: "exact",
                lines: vec![2]
            }]
        );
    }

    #[test]
    fn edits_apply_in_order_each_to_the_result_of_the_one_before() {
        let (out, _) = apply("x = 1\n", &[edit("x = 1", "x = 2"), edit("x = 2", "y = 3")]).unwrap();
        assert_eq!(out, "y = 3\n");
    }

    #[test]
    fn a_wrong_count_is_refused_with_the_lines_and_nothing_applies() {
        let e = apply("a\nb\na\n", &[edit("b", "c"), edit("a", "z")])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("edits[1]: old_text matches 2 times exactly (at lines 1, 3) but expected_replacements is 1"), "{e}");
        let two = Edit {
            expected_replacements: 2,
            ..edit("a", "z")
        };
        assert_eq!(apply("a\nb\na\n", &[two]).unwrap().0, "z\nb\nz\n");
    }

    #[test]
    fn whitespace_differences_match_line_by_line_and_keep_the_files_indentation() {
        let text = "fn f() {\n        let x = 1;\n        let y = 2;\n}\n";
        // The agent copied the lines without their indentation and with
        // trailing spaces.
        let (out, m) = apply(
            text,
            &[edit(
                "let x = 1;  \nlet y = 2;",
                "let x = 10;\nif x {\n    go();\n}",
            )],
        )
        .unwrap();
        assert_eq!(
            out,
            "fn f() {\n        let x = 10;\n        if x {\n            go();\n        }\n}\n"
        );
        assert_eq!(
            m[0],
            Matched {
                how: "lines",
                lines: vec![2]
            }
        );
    }

    #[test]
    fn line_matches_keep_crlf_and_a_missing_final_newline() {
        let (out, _) = apply("a\r\n  b\r\n  c", &[edit("b\nc", "B\nC")]).unwrap();
        assert_eq!(out, "a\r\n  B\r\n  C");
    }

    #[test]
    fn a_missing_match_says_where_its_first_line_occurs() {
        let e = apply("one\ntwo\nthree\n", &[edit("two\nfour", "x")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("old_text was not found"), "{e}");
        assert!(e.contains("its first line occurs at line 2"), "{e}");
        let e = apply("one\n", &[edit("", "x")]).unwrap_err().to_string();
        assert!(e.contains("edits[0].old_text is empty"), "{e}");
    }

    #[test]
    fn an_empty_new_text_removes_the_matched_lines() {
        let (out, _) = apply("a\n  b\nc\n", &[edit("b", "")]).unwrap();
        // exact match: only the text goes
        assert_eq!(out, "a\n  \nc\n");
        let (out, _) = apply("a\n  b\n  c\nd\n", &[edit("b \n c", "")]).unwrap();
        assert_eq!(out, "a\nd\n");
    }

    #[test]
    fn the_diff_is_unified_with_headers_and_context() {
        let d = diff(
            "src/a.rs",
            "1\n2\n3\n4\n5\n6\n7\n8\n",
            "1\n2\n3\n4\nfive\n6\n7\n8\n",
        );
        assert_eq!(
            d,
            "--- a/src/a.rs\n+++ b/src/a.rs\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"
        );
        assert_eq!(diff("a", "x", "x"), "");
    }
}
