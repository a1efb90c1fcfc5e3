//! Errors in input files: where (file, line, column, key), what, and the nearest valid name.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term;

/// One problem found in an input file.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    /// The file it is in.
    pub file: PathBuf,
    /// The file's text (shared by all diagnostics of one file).
    pub source: Arc<str>,
    /// Byte range of the offending text.
    pub span: Range<usize>,
    /// What is wrong, lowercase, naming the thing (`station 'Lathe': capacity must be >= 1, got 0`).
    pub message: String,
    /// A suggestion, such as `did you mean 'Lathe_2'?`.
    pub help: Option<String>,
}

impl Diagnostic {
    /// 1-based line and column of the start of the span.
    pub fn line_col(&self) -> (usize, usize) {
        line_col(&self.source, self.span.start)
    }

    /// `file:line:column: message` on one line (for logs and tests).
    pub fn short(&self) -> String {
        let (l, c) = self.line_col();
        let mut s = format!("{}:{l}:{c}: {}", self.file.display(), self.message);
        if let Some(h) = &self.help {
            s.push_str("; ");
            s.push_str(h);
        }
        s
    }

    /// The diagnostic with the source line and a caret under the offending text.
    pub fn render(&self) -> String {
        let (l, c) = self.line_col();
        let file = SimpleFile::new(self.file.display().to_string(), &*self.source);
        let start = self.span.start.min(self.source.len());
        let end = self.span.end.clamp(start, self.source.len());
        let mut d = CsDiagnostic::error()
            .with_message(format!("{}:{l}:{c}: {}", self.file.display(), self.message))
            .with_labels(vec![Label::primary((), start..end)]);
        if let Some(h) = &self.help {
            d = d.with_notes(vec![format!("help: {h}")]);
        }
        term::emit_into_string(&term::Config::default(), &file, &d).unwrap_or_else(|_| self.short())
    }
}

/// All the problems found in one load (validation goes on after the first, so that a user fixes
/// several at once).
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {message}")]
    Io { path: PathBuf, message: String },
    /// The file was read and has problems.
    #[error("{}", render_all(.0))]
    Invalid(Vec<Diagnostic>),
}

/// Reads a text input file. A file that is not UTF-8 is refused with the line and column of
/// its first invalid byte, like any other located problem.
pub fn read_text(path: &Path) -> Result<String, LoadError> {
    use std::io::Read;
    let io = |message: String| LoadError::Io {
        path: path.to_path_buf(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|e| io(e.to_string()))?;
    // A FIFO or a device (`/dev/zero`) would block or never end: only regular files are read.
    if !file.metadata().map_err(|e| io(e.to_string()))?.is_file() {
        return Err(io("not a regular file".into()));
    }
    let mut bytes = Vec::new();
    file.take(crate::limits::MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io(e.to_string()))?;
    if bytes.len() as u64 > crate::limits::MAX_INPUT_BYTES {
        return Err(io(format!(
            "larger than the limit of {} MiB for an input file",
            crate::limits::MAX_INPUT_BYTES >> 20
        )));
    }
    text_from_bytes(path, bytes)
}

/// The bytes of input file `path` as text; bytes that are not UTF-8 are refused with the line
/// and column of the first invalid one.
pub fn text_from_bytes(path: &Path, bytes: Vec<u8>) -> Result<String, LoadError> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let text = String::from_utf8_lossy(e.as_bytes());
        // The lossy text has the same bytes up to `at`, then U+FFFD: the position is exact.
        let mut r = Reporter::new(path, &text);
        r.error_help(
            at..at + '\u{FFFD}'.len_utf8(),
            format!("the file is not UTF-8 text: invalid byte 0x{:02x}", e.as_bytes()[at]),
            Some("save the file as UTF-8".into()),
        );
        r.into_error()
    })
}

fn render_all(ds: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in ds {
        out.push_str(&d.render());
    }
    let n = ds.len();
    out.push_str(&format!("{n} error{} in input", if n == 1 { "" } else { "s" }));
    out
}

impl LoadError {
    /// The diagnostics (empty for an I/O error).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            LoadError::Io { .. } => &[],
            LoadError::Invalid(d) => d,
        }
    }

    /// One line per problem: `file:line:col: message; help`.
    pub fn short(&self) -> String {
        match self {
            LoadError::Io { .. } => self.to_string(),
            LoadError::Invalid(ds) => ds.iter().map(Diagnostic::short).collect::<Vec<_>>().join("\n"),
        }
    }
}

/// Collects diagnostics for one file.
#[derive(Debug)]
pub struct Reporter {
    file: PathBuf,
    source: Arc<str>,
    found: Vec<Diagnostic>,
}

impl Reporter {
    /// A reporter for `file` whose text is `source`.
    pub fn new(file: &Path, source: &str) -> Reporter {
        Reporter {
            file: file.to_path_buf(),
            source: Arc::from(source),
            found: Vec::new(),
        }
    }

    /// Records a problem at `span`.
    pub fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.push(span, message.into(), None);
    }

    /// Records a problem with a suggestion.
    pub fn error_help(&mut self, span: Range<usize>, message: impl Into<String>, help: Option<String>) {
        self.push(span, message.into(), help);
    }

    fn push(&mut self, span: Range<usize>, message: String, help: Option<String>) {
        // Every span lies in the text and on character boundaries, whatever a parser computed
        // (a span that splits a multi-byte character cannot be rendered).
        let src = &*self.source;
        let start = src.floor_char_boundary(span.start.min(src.len()));
        let end = src.ceil_char_boundary(span.end.clamp(start, src.len()));
        let span = start..end;
        self.found.push(Diagnostic {
            file: self.file.clone(),
            source: self.source.clone(),
            span,
            message,
            help,
        });
    }

    /// Records "unknown {what} '{name}' {context}" with the nearest of `valid` as help.
    pub fn unknown<'a>(
        &mut self,
        span: Range<usize>,
        what: &str,
        name: &str,
        context: &str,
        valid: impl IntoIterator<Item = &'a str>,
    ) {
        let valid: Vec<&str> = valid.into_iter().collect();
        let help = match nearest_name(name, valid.iter().copied()) {
            Some(n) => Some(format!("did you mean '{n}'?")),
            None if valid.is_empty() => Some(format!("no {what} is defined")),
            None => Some(format!("valid names: {}", list(&valid))),
        };
        let ctx = if context.is_empty() {
            String::new()
        } else {
            format!(" {context}")
        };
        self.push(span, format!("unknown {what} '{name}'{ctx}"), help);
    }

    /// Records a TOML syntax or shape error; for an unknown key, names the nearest valid key
    /// (or lists the valid keys).
    pub fn toml_error(&mut self, e: &toml::de::Error) {
        let span = e.span().unwrap_or(0..0);
        let msg = e.message().trim().to_string();
        // serde's message: "unknown field `capcity`, expected one of `name`, `capacity`, ..."
        let ticks: Vec<&str> = msg.split('`').skip(1).step_by(2).collect();
        if msg.starts_with("unknown field") && !ticks.is_empty() {
            let key = ticks[0];
            let valid = &ticks[1..];
            let help = nearest_name(key, valid.iter().copied())
                .map(|n| format!("did you mean '{n}'?"))
                .or_else(|| Some(format!("valid keys here: {}", valid.join(", "))));
            self.error_help(span, format!("unknown key '{key}'"), help);
        } else {
            self.error(span, msg);
        }
    }

    /// Whether any problem was recorded.
    pub fn has_errors(&self) -> bool {
        !self.found.is_empty()
    }

    /// `Ok(value)` if nothing was recorded, else all the problems.
    pub fn finish<T>(self, value: T) -> Result<T, LoadError> {
        if self.found.is_empty() {
            Ok(value)
        } else {
            Err(LoadError::Invalid(self.found))
        }
    }

    /// The recorded problems so far, as an error.
    pub fn into_error(self) -> LoadError {
        LoadError::Invalid(self.found)
    }
}

fn list(names: &[&str]) -> String {
    const MAX: usize = 12;
    let mut s: Vec<String> = names.iter().take(MAX).map(|n| format!("'{n}'")).collect();
    if names.len() > MAX {
        s.push(format!("and {} more", names.len() - MAX));
    }
    s.join(", ")
}

/// 1-based (line, column) of byte offset `pos` in `text`; the column counts characters.
pub fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(text.len());
    let before = &text[..text.floor_char_boundary(pos)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Levenshtein edit distance, case-insensitive.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let sub = prev[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            cur[j] = sub.min(prev[j] + 1).min(cur[j - 1] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The valid name closest to `name`, if it is close enough to be a plausible typo
/// (distance at most a third of the length, and at least 2 allowed), else the shortest valid
/// name that `name` is a prefix of (`plant.throughput` → `plant.throughput_per_h`).
pub fn nearest_name<'a>(name: &str, valid: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(2);
    let valid: Vec<&str> = valid.into_iter().collect();
    let typo = valid
        .iter()
        .map(|v| (edit_distance(name, v), *v))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, v)| v);
    let lower = name.to_lowercase();
    typo.or_else(|| {
        valid
            .iter()
            .filter(|v| !name.is_empty() && v.to_lowercase().starts_with(&lower))
            .min_by_key(|v| v.len())
            .copied()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_name_finds_typos() {
        assert_eq!(nearest_name("Lathe2", ["Lathe_2", "Mill", "Saw"]), Some("Lathe_2"));
        assert_eq!(nearest_name("capcity", ["name", "capacity"]), Some("capacity"));
        assert_eq!(nearest_name("Grinder", ["Lathe_2", "Mill"]), None);
        assert_eq!(
            nearest_name("plant.throughput", ["plant.wip_mean", "plant.throughput_per_h"]),
            Some("plant.throughput_per_h")
        );
    }

    #[test]
    fn line_and_column_are_one_based() {
        let t = "a = 1\nbb = 2\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 6), (2, 1));
        assert_eq!(line_col(t, 8), (2, 3));
    }

    #[test]
    fn render_names_file_line_and_column() {
        let mut r = Reporter::new(Path::new("plant.toml"), "x = 1\ncapacity = -2\n");
        r.error(17..19, "station 'Lathe': capacity must be >= 1, got -2");
        let e = r.into_error();
        let text = e.to_string();
        assert!(text.contains("plant.toml:2:12"), "{text}");
        assert!(text.contains("capacity must be >= 1"), "{text}");
    }
}

/// Byte offset of 1-based `line` and `column` (characters) in `text`, as `serde_json` reports
/// them; the end of the text when they point past it.
pub fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let mut at = 0;
    for _ in 1..line {
        match text[at..].find('\n') {
            Some(k) => at += k + 1,
            None => return text.len(),
        }
    }
    let rest = &text[at..];
    at + rest
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(rest.len(), |(k, _)| k)
}

/// Byte spans of the values of a JSON text by path (`operations[3].station`; the root is ``),
/// so that a problem found after deserializing is reported where it is written. A text that is
/// not JSON gives the spans read before the first fault.
pub fn json_spans(text: &str) -> std::collections::HashMap<String, Range<usize>> {
    let mut scan = JsonScan {
        b: text.as_bytes(),
        at: 0,
        out: std::collections::HashMap::new(),
    };
    scan.value(String::new(), 0);
    scan.out
}

struct JsonScan<'a> {
    b: &'a [u8],
    at: usize,
    out: std::collections::HashMap<String, Range<usize>>,
}

impl JsonScan<'_> {
    /// Deeper than serde_json's own limit (128) is not JSON it accepted.
    const MAX_DEPTH: usize = 256;

    fn peek(&mut self) -> Option<u8> {
        while self.at < self.b.len() && self.b[self.at].is_ascii_whitespace() {
            self.at += 1;
        }
        self.b.get(self.at).copied()
    }

    fn string(&mut self) -> Option<String> {
        let start = self.at + 1;
        let mut k = start;
        while k < self.b.len() {
            match self.b[k] {
                b'\\' => k += 2,
                b'"' => {
                    self.at = k + 1;
                    return Some(String::from_utf8_lossy(&self.b[start..k]).into_owned());
                }
                _ => k += 1,
            }
        }
        None
    }

    fn value(&mut self, path: String, depth: usize) -> Option<()> {
        let first = self.peek()?;
        let start = self.at;
        if depth > Self::MAX_DEPTH {
            return None;
        }
        match first {
            b'{' | b'[' => {
                let close = if first == b'{' { b'}' } else { b']' };
                self.at += 1;
                let mut index = 0;
                if self.peek()? == close {
                    self.at += 1;
                } else {
                    loop {
                        let child = if first == b'{' {
                            if self.peek()? != b'"' {
                                return None;
                            }
                            let key = self.string()?;
                            if self.peek()? != b':' {
                                return None;
                            }
                            self.at += 1;
                            if path.is_empty() { key } else { format!("{path}.{key}") }
                        } else {
                            format!("{path}[{index}]")
                        };
                        index += 1;
                        self.value(child, depth + 1)?;
                        match self.peek()? {
                            b',' => self.at += 1,
                            c if c == close => {
                                self.at += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
            }
            b'"' => {
                self.string()?;
            }
            _ => {
                while self.at < self.b.len() && !b",]} \t\r\n".contains(&self.b[self.at]) {
                    self.at += 1;
                }
            }
        }
        self.out.insert(path, start..self.at);
        Some(())
    }
}

#[cfg(test)]
mod json_tests {
    use super::*;

    #[test]
    fn json_values_are_found_by_path() {
        let text = "{\n  \"a\": [1, {\"b\": \"x\\\"y\"}],\n  \"c\": null\n}";
        let spans = json_spans(text);
        assert_eq!(&text[spans["a[0]"].clone()], "1");
        assert_eq!(&text[spans["a[1].b"].clone()], "\"x\\\"y\"");
        assert_eq!(&text[spans["c"].clone()], "null");
        assert_eq!(spans[""], 0..text.len());
        assert_eq!(offset_of(text, 2, 3), text.find("\"a\"").unwrap());
        assert_eq!(offset_of(text, 99, 1), text.len());
        assert_eq!(offset_of("x€y", 1, 3), 4);
    }
}
