//! Doc comments to descriptions.
//!
//! Descriptions travel over the wire in `__describe_*` replies and are shown by tools as
//! plain text, so Markdown line wrapping is undone: the lines of a paragraph are joined with
//! a space and paragraphs are separated by a single `"\n"`.

use syn::{Attribute, Expr, ExprLit, Lit, Meta};

/// The lines of the `///` (or `#[doc = "..."]`) comments in `attrs`, with the one space that
/// follows `///` removed. Non-literal docs (`#[doc = include_str!(..)]`) are skipped: their
/// text is not known to the macro.
pub fn lines(attrs: &[Attribute]) -> Vec<String> {
    let mut out = Vec::new();
    for attr in attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        if let Meta::NameValue(nv) = &attr.meta {
            if let Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) = &nv.value {
                // `split`, not `lines`: an empty `///` line is a paragraph break and must
                // yield one empty line.
                for line in s.value().split('\n') {
                    out.push(line.strip_prefix(' ').unwrap_or(line).trim_end().to_string());
                }
            }
        }
    }
    out
}

/// Builds text out of paragraphs, one line at a time.
#[derive(Default)]
struct Text {
    paragraphs: Vec<String>,
    current: String,
}

impl Text {
    fn line(&mut self, line: &str) {
        let line = line.trim();
        if line.is_empty() {
            self.end_paragraph();
            return;
        }
        if !self.current.is_empty() {
            self.current.push(' ');
        }
        self.current.push_str(line);
    }

    fn end_paragraph(&mut self) {
        if !self.current.is_empty() {
            self.paragraphs.push(std::mem::take(&mut self.current));
        }
    }

    fn is_empty(&self) -> bool {
        self.paragraphs.is_empty() && self.current.is_empty()
    }

    fn finish(mut self) -> String {
        self.end_paragraph();
        self.paragraphs.join("\n")
    }
}

/// The description made of all doc lines.
pub fn description(attrs: &[Attribute]) -> String {
    let mut text = Text::default();
    for line in lines(attrs) {
        text.line(&line);
    }
    text.finish()
}

/// The documentation of one function, split into its parts.
pub struct FnDocs {
    /// What remains after parameter and result docs are taken out.
    pub description: String,
    /// One entry per parameter, in the order of the `names` given to [`function`].
    pub params: Vec<String>,
    /// The result's documentation.
    pub result: String,
}

/// Where the current doc line goes.
#[derive(Clone, Copy, PartialEq)]
enum Target {
    Description,
    Param(usize),
    Result,
    /// After a `# Returns` heading: blank lines before the text do not end the section.
    ResultSection,
}

/// Splits a function's docs: list items naming a parameter (``- `a`: text``, `* a: text`,
/// `- a - text`) document that parameter, a `Returns: text` line or a `# Returns` section
/// documents the result, and everything else is the description. An item or a `Returns:`
/// line continues until a blank line, as a Markdown list item does.
///
/// `names` lists, per parameter, the names its docs may use (the wire name and the Rust
/// identifier).
pub fn function(attrs: &[Attribute], names: &[Vec<String>]) -> FnDocs {
    let mut description = Text::default();
    let mut params: Vec<Text> = names.iter().map(|_| Text::default()).collect();
    let mut result = Text::default();
    let mut target = Target::Description;

    for line in lines(attrs) {
        let t = line.trim();
        if t.is_empty() {
            if target == Target::ResultSection && result.is_empty() {
                continue;
            }
            target = Target::Description;
            description.line("");
            continue;
        }
        if let Some((name, text)) = param_item(t) {
            if let Some(i) = names.iter().position(|n| n.iter().any(|n| n == name)) {
                target = Target::Param(i);
                params[i].end_paragraph();
                params[i].line(text);
                continue;
            }
        }
        if let Some(text) = returns_line(t) {
            target = Target::Result;
            result.end_paragraph();
            result.line(text);
            continue;
        }
        if let Some(heading) = t.strip_prefix('#') {
            let heading = heading.trim_start_matches('#').trim();
            let lower = heading.to_ascii_lowercase();
            match lower.as_str() {
                "returns" | "return" | "result" => target = Target::ResultSection,
                // The items that follow carry the content; the heading itself is noise in a
                // one-line description.
                "arguments" | "parameters" | "params" | "args" => {
                    target = Target::Description;
                    description.end_paragraph();
                }
                _ => {
                    target = Target::Description;
                    description.end_paragraph();
                    description.line(heading);
                    description.end_paragraph();
                }
            }
            continue;
        }
        match target {
            Target::Description => description.line(t),
            Target::Param(i) => params[i].line(t),
            Target::Result | Target::ResultSection => result.line(t),
        }
    }

    FnDocs {
        description: description.finish(),
        params: params.into_iter().map(Text::finish).collect(),
        result: result.finish(),
    }
}

/// Parses a list item that starts with a name: ``- `a`: text``, `* a: text`, `- a - text`,
/// `- a` (the text may follow on the next lines). Returns the name and the text.
fn param_item(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix("- ").or_else(|| line.strip_prefix("* ")).or_else(|| line.strip_prefix("+ "))?;
    let rest = rest.trim_start();
    let (name, rest) = if let Some(quoted) = rest.strip_prefix('`') {
        let end = quoted.find('`')?;
        (&quoted[..end], &quoted[end + 1..])
    } else {
        let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.')).unwrap_or(rest.len());
        (&rest[..end], &rest[end..])
    };
    if name.is_empty() {
        return None;
    }
    let rest = rest.trim_start();
    if rest.is_empty() {
        return Some((name, ""));
    }
    for sep in [":", "--", "-", "\u{2013}", "\u{2014}"] {
        if let Some(text) = rest.strip_prefix(sep) {
            return Some((name, text.trim()));
        }
    }
    None
}

/// Parses `Returns: text` (also `Return:`, lower case accepted).
fn returns_line(line: &str) -> Option<&str> {
    for prefix in ["Returns:", "returns:", "Return:", "return:"] {
        if let Some(text) = line.strip_prefix(prefix) {
            return Some(text.trim());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(src: &str) -> Vec<Attribute> {
        let item: syn::ItemFn = syn::parse_str(&format!("{src}\nfn f() {{}}")).unwrap();
        item.attrs
    }

    #[test]
    fn paragraphs() {
        let a = attrs("/// First line\n/// second line.\n///\n///\n/// Next paragraph.");
        assert_eq!(description(&a), "First line second line.\nNext paragraph.");
    }

    #[test]
    fn function_parts() {
        let a = attrs(
            "/// Adds two\n/// numbers.\n///\n/// - `a`: first number\n/// * b: second\n///   number\n/// - c - third\n///\n/// Returns: the sum",
        );
        let names = vec![vec!["a".into()], vec!["b".into()], vec!["c".into()]];
        let d = function(&a, &names);
        assert_eq!(d.description, "Adds two numbers.");
        assert_eq!(d.params, ["first number", "second number", "third"]);
        assert_eq!(d.result, "the sum");
    }

    #[test]
    fn returns_section_and_unknown_items() {
        let a = attrs("/// Does it.\n///\n/// - note: not a param\n///\n/// # Returns\n///\n/// The value.");
        let d = function(&a, &[vec!["x".into()]]);
        assert_eq!(d.description, "Does it.\n- note: not a param");
        assert_eq!(d.params, [""]);
        assert_eq!(d.result, "The value.");
    }
}
