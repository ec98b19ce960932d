//! `docs/asvs-coverage.md` cannot rot: every test it cites (`path::function`) exists and is a
//! test or a conformance-suite case, every document and heading it links to exists, every
//! in-scope OWASP ASVS 5.0 item has exactly one summary row and one entry with the same level
//! and status, Covered and Partial entries cite at least one test, and the summary counts add
//! up. A renamed test, a moved file or a forgotten item fails here, not in a reader's hands.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const DOC: &str = "docs/asvs-coverage.md";

/// Every Level 1 and Level 2 item of ASVS 5.0 V7, V9, V3.3 and V3.5, with its level.
const ITEMS: &[(&str, u8)] = &[
    ("V7.1.1", 2),
    ("V7.1.2", 2),
    ("V7.1.3", 2),
    ("V7.2.1", 1),
    ("V7.2.2", 1),
    ("V7.2.3", 1),
    ("V7.2.4", 1),
    ("V7.3.1", 2),
    ("V7.3.2", 2),
    ("V7.4.1", 1),
    ("V7.4.2", 1),
    ("V7.4.3", 2),
    ("V7.4.4", 2),
    ("V7.4.5", 2),
    ("V7.5.1", 2),
    ("V7.5.2", 2),
    ("V7.6.1", 2),
    ("V7.6.2", 2),
    ("V9.1.1", 1),
    ("V9.1.2", 1),
    ("V9.1.3", 1),
    ("V9.2.1", 1),
    ("V9.2.2", 2),
    ("V9.2.3", 2),
    ("V9.2.4", 2),
    ("V3.3.1", 1),
    ("V3.3.2", 2),
    ("V3.3.3", 2),
    ("V3.3.4", 2),
    ("V3.5.1", 1),
    ("V3.5.2", 1),
    ("V3.5.3", 1),
    ("V3.5.4", 2),
    ("V3.5.5", 2),
];

/// The statuses, in the order of the summary's count columns.
const STATUSES: [&str; 4] = ["Covered", "Partial", "Not covered", "Not applicable"];

/// The chapters of the count table, by the prefix of their items' IDs.
const CHAPTERS: [&str; 4] = ["V7", "V9", "V3.3", "V3.5"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn chapter_of(id: &str) -> &'static str {
    CHAPTERS
        .into_iter()
        .rev()
        .find(|c| id.strip_prefix(c).is_some_and(|rest| rest.starts_with('.')))
        .unwrap_or_else(|| panic!("{id}: no chapter"))
}

/// The text between backticks, in order (a code span per odd segment).
fn code_spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// `path::function` citations among `spans`.
fn citations<'a>(spans: &[&'a str]) -> Vec<(&'a str, &'a str)> {
    spans.iter().filter(|s| s.contains(".rs::")).filter_map(|s| s.rsplit_once("::")).collect()
}

/// Whether `source` defines `fn name` as a test: a `#[test]` or `#[tokio::test…]` attribute
/// above it (past doc comments and other attributes), or, when `suite_case` holds, a
/// `pub async fn` (a case of a conformance suite, which its mount macro turns into a test).
fn is_test_fn(source: &str, name: &str, suite_case: bool) -> Result<(), String> {
    let lines: Vec<&str> = source.lines().collect();
    let needle = format!("fn {name}");
    let defined: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            l.match_indices(&needle).any(|(at, _)| {
                let before = l[..at].chars().next_back();
                let after = l[at + needle.len()..].chars().next();
                before.is_none_or(char::is_whitespace) && matches!(after, Some('(' | '<'))
            })
        })
        .map(|(i, _)| i)
        .collect();
    if defined.is_empty() {
        return Err(format!("no `fn {name}`"));
    }
    for &i in &defined {
        if suite_case && lines[i].trim_start().starts_with("pub async fn ") {
            return Ok(());
        }
        for above in lines[..i].iter().rev().map(|l| l.trim()) {
            if above.starts_with("#[test]") || above.starts_with("#[tokio::test") {
                return Ok(());
            }
            if !(above.starts_with("///") || above.starts_with("//") || above.starts_with("#[")) {
                break;
            }
        }
    }
    Err(format!("`fn {name}` is not a test"))
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown document's headings (outside fenced code blocks).
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut fenced = false;
    let mut out = BTreeSet::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            out.insert(slug(line.trim_start_matches('#')));
        }
    }
    out
}

/// Relative link targets `](target)` of a Markdown text.
fn links(text: &str) -> Vec<&str> {
    text.match_indices("](")
        .filter_map(|(at, _)| text[at + 2..].split_once(')').map(|(target, _)| target))
        .filter(|t| !t.starts_with("http://") && !t.starts_with("https://"))
        .collect()
}

/// The cells of a table row, trimmed, or `None` for a line that is not one.
fn cells(line: &str) -> Option<Vec<&str>> {
    let inner = line.trim().strip_prefix('|')?.strip_suffix('|')?;
    Some(inner.split('|').map(str::trim).collect())
}

/// One item's entry: its heading's text and everything up to the next heading.
struct Entry<'a> {
    body: &'a str,
}

/// `### V… …` entries by ID (each ID's entries, to catch duplicates).
fn entries(doc: &str) -> BTreeMap<&str, Vec<Entry<'_>>> {
    let mut out: BTreeMap<&str, Vec<Entry<'_>>> = BTreeMap::new();
    let starts: Vec<usize> = doc.match_indices("\n#").map(|(at, _)| at + 1).collect();
    for (n, &start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(doc.len());
        let section = &doc[start..end];
        let Some(heading) = section.strip_prefix("### ") else { continue };
        let id = heading.split_whitespace().next().unwrap();
        out.entry(id).or_default().push(Entry { body: section });
    }
    out
}

#[test]
fn every_citation_of_the_coverage_table_is_a_real_test() {
    let doc = read(DOC);
    let spans = code_spans(&doc);
    let cited: BTreeSet<(&str, &str)> = citations(&spans).into_iter().collect();
    assert!(cited.len() >= 50, "the table cites tests: {} found", cited.len());
    let mut problems = Vec::new();
    for (path, name) in cited {
        if path.contains("..") || path.starts_with('/') {
            problems.push(format!("{path}::{name}: not a path inside the repository"));
            continue;
        }
        let Ok(source) = std::fs::read_to_string(root().join(path)) else {
            problems.push(format!("{path}::{name}: no such file"));
            continue;
        };
        let suite_case = path.starts_with("crates/sessionwarden-test/src/");
        if let Err(why) = is_test_fn(&source, name, suite_case) {
            problems.push(format!("{path}::{name}: {why}"));
        }
    }
    // A span naming a test file without `::function` would escape the check above.
    for span in &spans {
        if span.ends_with(".rs") && span.contains("/tests/") && !span.contains("::") {
            let file = root().join(span);
            if !file.is_file() {
                problems.push(format!("{span}: no such file"));
            }
        }
    }
    assert!(problems.is_empty(), "{DOC}:\n{}", problems.join("\n"));
}

#[test]
fn every_link_of_the_coverage_table_resolves() {
    let doc = read(DOC);
    let mut problems = Vec::new();
    for target in links(&doc).into_iter().collect::<BTreeSet<_>>() {
        let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
        let rel = if file.is_empty() { DOC.to_owned() } else { format!("docs/{file}") };
        let Ok(text) = std::fs::read_to_string(root().join(&rel)) else {
            problems.push(format!("{target}: no such file"));
            continue;
        };
        if !anchor.is_empty() && !anchors(&text).contains(anchor) {
            problems.push(format!("{target}: no such heading"));
        }
    }
    assert!(problems.is_empty(), "{DOC}:\n{}", problems.join("\n"));
    assert!(read("README.md").contains("(docs/asvs-coverage.md)"), "the README links the table");
}

#[test]
fn every_in_scope_item_has_one_row_one_entry_and_the_counts_add_up() {
    let doc = read(DOC);
    let levels: BTreeMap<&str, u8> = ITEMS.iter().copied().collect();
    assert_eq!(levels.len(), ITEMS.len(), "an item is listed twice in ITEMS");
    let mut problems = Vec::new();

    // The summary: `| ID | level | requirement | status |`.
    let mut rows: BTreeMap<&str, &str> = BTreeMap::new();
    for line in doc.lines() {
        let Some(c) = cells(line) else { continue };
        if c.len() != 4 || !c[0].starts_with('V') || !c[0].contains('.') {
            continue;
        }
        let (id, level, status) = (c[0], c[1], c[3]);
        match levels.get(id) {
            None => problems.push(format!("{id}: a row for an item out of scope")),
            Some(l) if level != format!("L{l}") => problems.push(format!("{id}: level {level}, not L{l}")),
            Some(_) => {}
        }
        if !STATUSES.contains(&status) {
            problems.push(format!("{id}: status {status:?} is none of {STATUSES:?}"));
        }
        if rows.insert(id, status).is_some() {
            problems.push(format!("{id}: two summary rows"));
        }
    }
    for (id, _) in ITEMS {
        if !rows.contains_key(id) {
            problems.push(format!("{id}: no summary row"));
        }
    }

    // The entries: `### ID title`, then `Level N · **Status**`.
    let entries = entries(&doc);
    for (id, level) in ITEMS {
        let found = entries.get(id).map_or(&[][..], Vec::as_slice);
        let [entry] = found else {
            problems.push(format!("{id}: {} entries, want one", found.len()));
            continue;
        };
        let want = format!("Level {level} · **{}**", rows.get(id).copied().unwrap_or("?"));
        if !entry.body.lines().any(|l| l.trim() == want) {
            problems.push(format!("{id}: the entry does not say `{want}`"));
        }
        let status = rows.get(id).copied().unwrap_or_default();
        if matches!(status, "Covered" | "Partial") && citations(&code_spans(entry.body)).is_empty() {
            problems.push(format!("{id}: {status} but the entry cites no test"));
        }
        if matches!(status, "Partial" | "Not covered") && !entry.body.contains("Gap") {
            problems.push(format!("{id}: {status} but the entry names no gap"));
        }
    }
    for id in entries.keys() {
        if !levels.contains_key(id) {
            problems.push(format!("{id}: an entry for an item out of scope"));
        }
    }

    // The counts: `| chapter | items | covered | partial | not covered | not applicable |`.
    let mut seen = BTreeSet::new();
    for line in doc.lines() {
        let Some(c) = cells(line) else { continue };
        let Some(chapter) = CHAPTERS.into_iter().find(|ch| c[0].starts_with(&format!("{ch} "))) else {
            continue;
        };
        seen.insert(chapter);
        let mine: Vec<&str> =
            rows.iter().filter(|(id, _)| chapter_of(id) == chapter).map(|(_, s)| *s).collect();
        let mut want = vec![mine.len()];
        want.extend(STATUSES.iter().map(|s| mine.iter().filter(|m| **m == *s).count()));
        let got: Vec<usize> = c[1..].iter().map(|n| n.parse().unwrap_or(usize::MAX)).collect();
        if got != want {
            problems.push(format!("{chapter}: counts {got:?}, the rows say {want:?}"));
        }
    }
    if seen.len() != CHAPTERS.len() {
        problems.push(format!("count rows for {seen:?}, want {CHAPTERS:?}"));
    }
    assert!(problems.is_empty(), "{DOC}:\n{}", problems.join("\n"));
}

/// The checks' own reading, on small inputs with every case.
#[test]
fn the_checks_read_as_documented() {
    let source = "\
/// A helper.
fn helper() {}

/// A test.
#[tokio::test(flavor = \"multi_thread\")]
#[allow(unused)]
async fn a_test() {}

#[test]
fn plain() {}

pub async fn suite_case<S: Store>(store: S) {}

fn plain_but_longer() {}
";
    assert_eq!(is_test_fn(source, "a_test", false), Ok(()));
    assert_eq!(is_test_fn(source, "plain", false), Ok(()));
    assert!(is_test_fn(source, "helper", false).unwrap_err().contains("not a test"));
    assert!(is_test_fn(source, "plain_but", false).unwrap_err().contains("no `fn"));
    assert!(is_test_fn(source, "plain_but_longer", false).unwrap_err().contains("not a test"));
    assert!(is_test_fn(source, "suite_case", false).is_err(), "a suite case only in the suite crate");
    assert_eq!(is_test_fn(source, "suite_case", true), Ok(()));
    assert!(is_test_fn(source, "lain", false).is_err(), "a name matches whole words only");

    assert_eq!(slug("CSRF protection and login"), "csrf-protection-and-login");
    assert_eq!(slug(" Your sessions "), "your-sessions");
    assert_eq!(slug("V7.1.1 Timeouts, documented"), "v711-timeouts-documented");
    let md = "# Top\n```sh\n# not a heading\n```\n## The reference server\n";
    assert_eq!(anchors(md), BTreeSet::from(["top".to_owned(), "the-reference-server".to_owned()]));

    let text = "see `a/b.rs::f` and `a/c.rs::g`, not `h`; [x](../README.md#top) [y](https://e.example)";
    assert_eq!(citations(&code_spans(text)), [("a/b.rs", "f"), ("a/c.rs", "g")]);
    assert_eq!(links(text), ["../README.md#top"]);
    assert_eq!(cells("| V7.1.1 | L2 | x | Covered |"), Some(vec!["V7.1.1", "L2", "x", "Covered"]));
    assert_eq!(cells("not a row"), None);
    assert_eq!((chapter_of("V7.4.1"), chapter_of("V3.3.1"), chapter_of("V3.5.2")), ("V7", "V3.3", "V3.5"));
}
