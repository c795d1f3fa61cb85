//! The success-criteria language of validation profiles: a small
//! expression language, parsed once when the configuration is loaded
//! (errors carry the byte offset inside the expression) and evaluated over
//! one run's facts. Nothing else is evaluated: no functions, no variables
//! but the ones below.
//!
//! ```text
//! expr    := or
//! or      := and ( "||" and )*
//! and     := unary ( "&&" unary )*
//! unary   := "!" unary | compare
//! compare := stream ("contains" | "matches") STRING
//!          | primary ( ("==" | "!=" | "<" | "<=" | ">" | ">=") primary )?
//! primary := NUMBER | STRING | "true" | "false" | NAME | "(" expr ")"
//! stream  := "stdout" | "stderr"
//! ```
//!
//! Names: `exit_code` (integer; unknown when a signal ended the process),
//! `duration_s` (seconds, a float), `timed_out` (boolean) and the profile's
//! `counts`. `stdout contains "text"` and `stdout matches "regex"` look at
//! the whole output line by line (not only what the answer shows). Types
//! are checked at load: `&&`, `||` and `!` take booleans, `<`… take
//! numbers, `==`/`!=` two values of one type. Comparisons do not chain.

use std::collections::BTreeMap;

use regex::Regex;
use serde_json::Value as Json;

/// The built-in names.
pub const EXIT_CODE: &str = "exit_code";
pub const DURATION_S: &str = "duration_s";
pub const TIMED_OUT: &str = "timed_out";
/// Words a count may not be named.
pub const RESERVED: &[&str] = &[
    EXIT_CODE, DURATION_S, TIMED_OUT, "stdout", "stderr", "true", "false", "contains", "matches",
];

/// Longest expression accepted.
pub const MAX_LEN: usize = 2000;
/// Deepest nesting of parentheses and `!` accepted.
const MAX_DEPTH: usize = 64;

/// A parse error at a byte offset of the expression.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

/// Which output stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// A test over one output stream, decided line by line while the command
/// runs ([`Probe::test`]).
#[derive(Debug, Clone)]
pub struct Probe {
    pub stream: Stream,
    pub kind: ProbeKind,
}

#[derive(Debug, Clone)]
pub enum ProbeKind {
    Contains(String),
    Matches(Regex),
}

impl Probe {
    /// Whether one line (without its end) satisfies the probe.
    pub fn test(&self, line: &str) -> bool {
        match &self.kind {
            ProbeKind::Contains(s) => line.contains(s.as_str()),
            ProbeKind::Matches(r) => r.is_match(line),
        }
    }

    /// As written: `stdout contains "x"`.
    pub fn shown(&self) -> String {
        match &self.kind {
            ProbeKind::Contains(s) => format!("{} contains {s:?}", self.stream.name()),
            ProbeKind::Matches(r) => format!("{} matches {:?}", self.stream.name(), r.as_str()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    Num,
    Str,
    Bool,
}

impl Type {
    fn name(self) -> &'static str {
        match self {
            Type::Num => "a number",
            Type::Str => "a string",
            Type::Bool => "a boolean",
        }
    }
}

/// A parsed expression.
#[derive(Debug, Clone)]
pub enum Expr {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    /// A name and its type.
    Name(String),
    /// Index into the criterion's probes.
    Probe(usize),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Compare(Cmp, Box<Expr>, Box<Expr>),
}

/// One compiled criterion.
#[derive(Debug, Clone)]
pub struct Criterion {
    /// As written in the configuration.
    pub text: String,
    pub expr: Expr,
    pub probes: Vec<Probe>,
}

// ---- lexer ----------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Int(i64),
    Float(f64),
    Str(String),
    Ident(String),
    Op(&'static str),
    LParen,
    RParen,
    End,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Int(i) => format!("the number {i}"),
        Tok::Float(f) => format!("the number {f}"),
        Tok::Str(s) => format!("the string {s:?}"),
        Tok::Ident(s) => format!("`{s}`"),
        Tok::Op(o) => format!("`{o}`"),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::End => "the end of the expression".into(),
    }
}

fn err<T>(offset: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        offset,
        message: message.into(),
    })
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    const OPS: [&str; 10] = ["&&", "||", "==", "!=", "<=", ">=", "<", ">", "!", "="];
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if c == b'(' || c == b')' {
            out.push((if c == b'(' { Tok::LParen } else { Tok::RParen }, i));
            i += 1;
        } else if c == b'"' {
            i += 1;
            let mut s = String::new();
            loop {
                let Some(ch) = src[i..].chars().next() else {
                    return err(start, "unterminated string: a closing \" is missing");
                };
                i += ch.len_utf8();
                match ch {
                    '"' => break,
                    '\\' => {
                        let Some(e) = src[i..].chars().next() else {
                            return err(start, "unterminated string: a closing \" is missing");
                        };
                        s.push(match e {
                            '"' => '"',
                            '\\' => '\\',
                            'n' => '\n',
                            't' => '\t',
                            _ => {
                                return err(
                                    i - 1,
                                    format!(
                                        "unknown escape \\{e} in a string (use \\\", \\\\, \\n or \\t; a regex's \\d is written \\\\d)"
                                    ),
                                );
                            }
                        });
                        i += e.len_utf8();
                    }
                    c => s.push(c),
                }
            }
            out.push((Tok::Str(s), start));
        } else if c.is_ascii_digit() || (c == b'-' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            i += 1;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let mut float = false;
            if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
                float = true;
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            }
            if i < b.len() && (b[i].is_ascii_alphabetic() || b[i] == b'_') {
                return err(i, "a number must not be followed by a letter");
            }
            let text = &src[start..i];
            let tok = if float {
                match text.parse::<f64>() {
                    Ok(f) if f.is_finite() => Tok::Float(f),
                    _ => return err(start, format!("not a usable number: {text}")),
                }
            } else {
                match text.parse::<i64>() {
                    Ok(n) => Tok::Int(n),
                    Err(_) => return err(start, format!("integer out of range: {text}")),
                }
            };
            out.push((tok, start));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push((Tok::Ident(src[start..i].to_string()), start));
        } else if let Some(op) = OPS.iter().find(|o| src[i..].starts_with(**o)) {
            if *op == "=" {
                return err(i, "`=` is not an operator: compare with `==`");
            }
            out.push((Tok::Op(op), i));
            i += op.len();
        } else {
            let ch = src[i..].chars().next().unwrap_or('?');
            let hint = match ch {
                '&' => " (and is `&&`)",
                '|' => " (or is `||`)",
                '\'' => " (strings use double quotes)",
                _ => "",
            };
            return err(i, format!("unexpected character {ch:?}{hint}"));
        }
    }
    out.push((Tok::End, src.len()));
    Ok(out)
}

// ---- parser ---------------------------------------------------------------

struct Parser<'a> {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    depth: usize,
    counts: &'a dyn Fn(&str) -> bool,
    probes: Vec<Probe>,
}

/// A parsed node with its type and where it starts.
type Typed = (Expr, Type, usize);

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }

    fn at(&self) -> usize {
        self.toks[self.pos].1
    }

    fn bump(&mut self) -> (Tok, usize) {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn want(&self, ty: Type, got: Type, at: usize, what: &str) -> Result<(), ParseError> {
        if ty == got {
            Ok(())
        } else {
            err(
                at,
                format!("{what} needs {}, this is {}", ty.name(), got.name()),
            )
        }
    }

    fn or(&mut self) -> Result<Typed, ParseError> {
        let mut left = self.and()?;
        while self.peek() == &Tok::Op("||") {
            let (_, at) = self.bump();
            self.want(Type::Bool, left.1, left.2, "`||`")?;
            let right = self.and()?;
            self.want(Type::Bool, right.1, right.2, "`||`")?;
            let _ = at;
            left = (
                Expr::Or(Box::new(left.0), Box::new(right.0)),
                Type::Bool,
                left.2,
            );
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Typed, ParseError> {
        let mut left = self.unary()?;
        while self.peek() == &Tok::Op("&&") {
            self.bump();
            self.want(Type::Bool, left.1, left.2, "`&&`")?;
            let right = self.unary()?;
            self.want(Type::Bool, right.1, right.2, "`&&`")?;
            left = (
                Expr::And(Box::new(left.0), Box::new(right.0)),
                Type::Bool,
                left.2,
            );
        }
        Ok(left)
    }

    fn deeper(&mut self, at: usize) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err(at, format!("nested more than {MAX_DEPTH} levels deep"));
        }
        Ok(())
    }

    fn unary(&mut self) -> Result<Typed, ParseError> {
        if self.peek() == &Tok::Op("!") {
            let (_, at) = self.bump();
            self.deeper(at)?;
            let inner = self.unary()?;
            self.depth -= 1;
            self.want(Type::Bool, inner.1, inner.2, "`!`")?;
            return Ok((Expr::Not(Box::new(inner.0)), Type::Bool, at));
        }
        self.compare()
    }

    fn compare(&mut self) -> Result<Typed, ParseError> {
        if let Tok::Ident(name) = self.peek().clone()
            && (name == "stdout" || name == "stderr")
        {
            let (_, at) = self.bump();
            let stream = if name == "stdout" {
                Stream::Stdout
            } else {
                Stream::Stderr
            };
            let (verb, vat) = self.bump();
            let kind = match &verb {
                Tok::Ident(v) if v == "contains" || v == "matches" => v.clone(),
                other => {
                    return err(
                        vat,
                        format!(
                            "expected `contains` or `matches` after `{name}`, found {}",
                            describe(other)
                        ),
                    );
                }
            };
            let (arg, sat) = self.bump();
            let Tok::Str(s) = arg else {
                return err(
                    sat,
                    format!(
                        "expected a string after `{name} {kind}`, found {}",
                        describe(&arg)
                    ),
                );
            };
            let kind = if kind == "contains" {
                ProbeKind::Contains(s)
            } else {
                match regex::RegexBuilder::new(&s).size_limit(1 << 20).build() {
                    Ok(r) => ProbeKind::Matches(r),
                    Err(e) => {
                        let e = e.to_string();
                        let last = e.lines().last().unwrap_or("").trim().to_string();
                        return err(sat, format!("not a valid regex: {last}"));
                    }
                }
            };
            self.probes.push(Probe { stream, kind });
            return Ok((Expr::Probe(self.probes.len() - 1), Type::Bool, at));
        }
        let left = self.primary()?;
        let op = match self.peek() {
            Tok::Op("==") => Cmp::Eq,
            Tok::Op("!=") => Cmp::Ne,
            Tok::Op("<") => Cmp::Lt,
            Tok::Op("<=") => Cmp::Le,
            Tok::Op(">") => Cmp::Gt,
            Tok::Op(">=") => Cmp::Ge,
            _ => return Ok(left),
        };
        let (optok, opat) = self.bump();
        let right = self.primary()?;
        if matches!(op, Cmp::Eq | Cmp::Ne) {
            if left.1 != right.1 {
                return err(
                    opat,
                    format!(
                        "{} compares two values of one type, here {} and {}",
                        describe(&optok),
                        left.1.name(),
                        right.1.name()
                    ),
                );
            }
        } else {
            self.want(Type::Num, left.1, left.2, &describe(&optok))?;
            self.want(Type::Num, right.1, right.2, &describe(&optok))?;
        }
        if let Tok::Op(o @ ("==" | "!=" | "<" | "<=" | ">" | ">=")) = self.peek() {
            return err(
                self.at(),
                format!("comparisons do not chain: put `&&` before `{o}` and repeat the value"),
            );
        }
        Ok((
            Expr::Compare(op, Box::new(left.0), Box::new(right.0)),
            Type::Bool,
            left.2,
        ))
    }

    fn primary(&mut self) -> Result<Typed, ParseError> {
        let (tok, at) = self.bump();
        Ok(match tok {
            Tok::Int(n) => (Expr::Int(n), Type::Num, at),
            Tok::Float(f) => (Expr::Float(f), Type::Num, at),
            Tok::Str(s) => (Expr::Str(s), Type::Str, at),
            Tok::LParen => {
                self.deeper(at)?;
                let inner = self.or()?;
                self.depth -= 1;
                let (close, cat) = self.bump();
                if close != Tok::RParen {
                    return err(
                        cat,
                        format!(
                            "expected `)` (for the `(` at offset {at}), found {}",
                            describe(&close)
                        ),
                    );
                }
                (inner.0, inner.1, at)
            }
            Tok::Ident(name) => match name.as_str() {
                "true" => (Expr::Bool(true), Type::Bool, at),
                "false" => (Expr::Bool(false), Type::Bool, at),
                EXIT_CODE | DURATION_S => (Expr::Name(name), Type::Num, at),
                TIMED_OUT => (Expr::Name(name), Type::Bool, at),
                "stdout" | "stderr" => {
                    return err(
                        at,
                        format!(
                            "`{name}` is only used as `{name} contains \"…\"` or `{name} matches \"…\"`"
                        ),
                    );
                }
                n if (self.counts)(n) => (Expr::Name(name), Type::Num, at),
                _ => {
                    return err(
                        at,
                        format!(
                            "unknown name `{name}`: use exit_code, duration_s, timed_out, stdout/stderr contains|matches \"…\", or a name defined in the profile's counts"
                        ),
                    );
                }
            },
            other => {
                return err(at, format!("expected a value, found {}", describe(&other)));
            }
        })
    }
}

/// Parses one criterion. `is_count` says which names the profile's
/// `counts` define.
pub fn parse(src: &str, is_count: &dyn Fn(&str) -> bool) -> Result<Criterion, ParseError> {
    if src.len() > MAX_LEN {
        return err(0, format!("longer than {MAX_LEN} bytes"));
    }
    let toks = lex(src)?;
    if toks.len() == 1 {
        return err(0, "empty criterion");
    }
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
        counts: is_count,
        probes: Vec::new(),
    };
    let (expr, ty, at) = p.or()?;
    if p.peek() != &Tok::End {
        let t = p.peek().clone();
        return err(
            p.at(),
            format!(
                "unexpected {} (join criteria with `&&` or `||`)",
                describe(&t)
            ),
        );
    }
    if ty != Type::Bool {
        return err(
            at,
            format!(
                "a criterion must be true or false, this is {} (compare it, e.g. `exit_code == 0`)",
                ty.name()
            ),
        );
    }
    Ok(Criterion {
        text: src.to_string(),
        expr,
        probes: p.probes,
    })
}

// ---- evaluation -----------------------------------------------------------

/// A value seen while evaluating.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
}

impl Val {
    pub fn to_json(&self) -> Json {
        match self {
            Val::Int(i) => Json::from(*i),
            Val::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
            Val::Str(s) => Json::from(s.clone()),
            Val::Bool(b) => Json::from(*b),
        }
    }

    fn num(&self) -> Option<f64> {
        match self {
            Val::Int(i) => Some(*i as f64),
            Val::Float(f) => Some(*f),
            _ => None,
        }
    }
}

/// What one run gives the criteria.
pub trait Facts {
    /// A name's value, or why it has none.
    fn value(&self, name: &str) -> Result<Val, String>;
    /// Whether the probe held on some line.
    fn probe(&self, probe: &Probe) -> bool;
}

/// One criterion's outcome.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub passed: bool,
    /// Each name and probe looked at, with its value (`null` when it had
    /// none).
    pub values: BTreeMap<String, Json>,
    /// Why it failed for want of a value.
    pub reason: Option<String>,
}

struct Eval<'a> {
    facts: &'a dyn Facts,
    probes: &'a [Probe],
    values: BTreeMap<String, Json>,
}

impl Eval<'_> {
    fn eval(&mut self, e: &Expr) -> Result<Val, String> {
        Ok(match e {
            Expr::Int(n) => Val::Int(*n),
            Expr::Float(f) => Val::Float(*f),
            Expr::Str(s) => Val::Str(s.clone()),
            Expr::Bool(b) => Val::Bool(*b),
            Expr::Name(n) => match self.facts.value(n) {
                Ok(v) => {
                    self.values.insert(n.clone(), v.to_json());
                    v
                }
                Err(why) => {
                    self.values.insert(n.clone(), Json::Null);
                    return Err(why);
                }
            },
            Expr::Probe(i) => {
                let p = &self.probes[*i];
                let held = self.facts.probe(p);
                self.values.insert(p.shown(), Json::from(held));
                Val::Bool(held)
            }
            Expr::Not(x) => Val::Bool(!self.bool(x)?),
            Expr::And(a, b) => Val::Bool(self.bool(a)? && self.bool(b)?),
            Expr::Or(a, b) => Val::Bool(self.bool(a)? || self.bool(b)?),
            Expr::Compare(op, a, b) => {
                let (x, y) = (self.eval(a)?, self.eval(b)?);
                let ord = match (&x, &y) {
                    (Val::Int(p), Val::Int(q)) => p.partial_cmp(q),
                    _ => match (x.num(), y.num()) {
                        (Some(p), Some(q)) => p.partial_cmp(&q),
                        _ => match op {
                            Cmp::Eq => return Ok(Val::Bool(x == y)),
                            Cmp::Ne => return Ok(Val::Bool(x != y)),
                            _ => None,
                        },
                    },
                };
                let Some(ord) = ord else {
                    return Err("values that cannot be ordered".into());
                };
                use std::cmp::Ordering::*;
                Val::Bool(match op {
                    Cmp::Eq => ord == Equal,
                    Cmp::Ne => ord != Equal,
                    Cmp::Lt => ord == Less,
                    Cmp::Le => ord != Greater,
                    Cmp::Gt => ord == Greater,
                    Cmp::Ge => ord != Less,
                })
            }
        })
    }

    fn bool(&mut self, e: &Expr) -> Result<bool, String> {
        match self.eval(e)? {
            Val::Bool(b) => Ok(b),
            // Types are checked at parse time.
            other => Err(format!("expected a boolean, got {other:?}")),
        }
    }
}

impl Criterion {
    /// Evaluates the criterion over one run's facts.
    pub fn evaluate(&self, facts: &dyn Facts) -> Outcome {
        let mut e = Eval {
            facts,
            probes: &self.probes,
            values: BTreeMap::new(),
        };
        match e.bool(&self.expr) {
            Ok(passed) => Outcome {
                passed,
                values: e.values,
                reason: None,
            },
            Err(reason) => Outcome {
                passed: false,
                values: e.values,
                reason: Some(reason),
            },
        }
    }
}

/// The offset in a TOML string token's source (`raw`, quotes included) of
/// the byte at `offset` of its decoded value, so that an error inside a
/// criterion can be shown at its line and column in the file.
pub fn raw_offset(raw: &str, offset: usize) -> usize {
    let (open, basic) = if raw.starts_with("\"\"\"") {
        (3, true)
    } else if raw.starts_with("'''") {
        (3, false)
    } else if raw.starts_with('"') {
        (1, true)
    } else if raw.starts_with('\'') {
        (1, false)
    } else {
        return 0;
    };
    let mut i = open;
    // A newline right after a multi-line string's opening is not part of it.
    if open == 3 {
        if raw[i..].starts_with("\r\n") {
            i += 2;
        } else if raw[i..].starts_with('\n') {
            i += 1;
        }
    }
    let mut decoded = 0;
    while decoded < offset && i < raw.len() {
        let Some(c) = raw[i..].chars().next() else {
            break;
        };
        if basic && c == '\\' {
            let e = raw[i + 1..].chars().next().unwrap_or(' ');
            let (raw_len, out) = match e {
                'u' => (6, char_len(&raw[i + 2..], 4)),
                'U' => (10, char_len(&raw[i + 2..], 8)),
                'x' => (4, char_len(&raw[i + 2..], 2)),
                _ => (1 + e.len_utf8(), 1),
            };
            i += raw_len;
            decoded += out;
        } else {
            i += c.len_utf8();
            decoded += c.len_utf8();
        }
    }
    i.min(raw.len())
}

/// The UTF-8 length of the character a `\u`-style escape's hex digits name.
fn char_len(hex: &str, digits: usize) -> usize {
    hex.get(..digits)
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .and_then(char::from_u32)
        .map_or(1, char::len_utf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct F {
        exit: Option<i64>,
        dur: f64,
        counts: BTreeMap<&'static str, i64>,
        out: Vec<&'static str>,
    }

    impl Facts for F {
        fn value(&self, name: &str) -> Result<Val, String> {
            match name {
                EXIT_CODE => self
                    .exit
                    .map(Val::Int)
                    .ok_or_else(|| "killed by a signal".to_string()),
                DURATION_S => Ok(Val::Float(self.dur)),
                TIMED_OUT => Ok(Val::Bool(false)),
                n => self
                    .counts
                    .get(n)
                    .map(|v| Val::Int(*v))
                    .ok_or_else(|| format!("count `{n}` was not found in the output")),
            }
        }
        fn probe(&self, p: &Probe) -> bool {
            p.stream == Stream::Stdout && self.out.iter().any(|l| p.test(l))
        }
    }

    fn counts(n: &str) -> bool {
        ["passed", "failed"].contains(&n)
    }

    fn c(src: &str) -> Criterion {
        parse(src, &counts).unwrap_or_else(|e| panic!("{src}: {e:?}"))
    }

    fn facts() -> F {
        F {
            exit: Some(0),
            dur: 12.5,
            counts: [("passed", 120)].into_iter().collect(),
            out: vec!["test result: ok. 120 passed; 0 failed", "warning: unused"],
        }
    }

    #[test]
    fn hand_computed_cases() {
        let f = facts();
        for (src, want) in [
            ("exit_code == 0", true),
            ("exit_code != 0", false),
            ("exit_code == 0 && duration_s < 600", true),
            ("duration_s <= 12.5 && duration_s >= 12.5", true),
            ("duration_s > 12", true),
            ("passed >= 100", true),
            ("passed > 120 || exit_code == 0", true),
            ("!(exit_code == 0)", false),
            ("!!true", true),
            ("!timed_out", true),
            ("timed_out == false", true),
            ("stdout contains \"120 passed\"", true),
            (
                "stdout matches \"^test result: ok\\\\. \\\\d+ passed\"",
                true,
            ),
            ("stdout matches \"FAILED\"", false),
            ("stderr contains \"warning\"", false),
            ("1 < 2 && 2.5 > -1", true),
            ("\"a\" == \"a\"", true),
            ("true || false && false", true),
            ("(true || false) && false", false),
        ] {
            let o = c(src).evaluate(&f);
            assert_eq!(o.passed, want, "{src}: {o:?}");
            assert!(o.reason.is_none(), "{src}");
        }
    }

    #[test]
    fn values_seen_are_reported_and_missing_ones_fail_with_a_reason() {
        let f = facts();
        let o = c("passed >= 1 && exit_code == 0").evaluate(&f);
        assert_eq!(o.values["passed"], 120);
        assert_eq!(o.values["exit_code"], 0);
        let o = c("failed == 0").evaluate(&f);
        assert!(!o.passed);
        assert_eq!(
            o.reason.as_deref(),
            Some("count `failed` was not found in the output")
        );
        assert_eq!(o.values["failed"], Json::Null);
        // Short-circuit: the missing value is never needed.
        let o = c("exit_code == 0 || failed == 0").evaluate(&f);
        assert!(o.passed && o.reason.is_none());
        let f = F {
            exit: None,
            ..facts()
        };
        let o = c("exit_code == 0").evaluate(&f);
        assert_eq!(o.reason.as_deref(), Some("killed by a signal"));
        let o = c("stdout contains \"120 passed\"").evaluate(&facts());
        assert_eq!(o.values["stdout contains \"120 passed\""], true);
    }

    #[test]
    fn errors_carry_their_offset() {
        for (src, at, says) in [
            ("exit_code = 0", 10, "`==`"),
            ("exit_code == ", 13, "expected a value"),
            ("exit_code == 0 &&", 17, "expected a value"),
            ("exit_code == 0 & passed > 1", 15, "`&&`"),
            ("pased >= 1", 0, "unknown name `pased`"),
            ("exit_code", 0, "must be true or false"),
            ("exit_code && true", 0, "`&&` needs a boolean"),
            ("stdout == \"x\"", 7, "`contains` or `matches`"),
            ("exit_code == stdout", 13, "only used as"),
            ("stdout has \"x\"", 7, "`contains` or `matches`"),
            ("stdout matches 5", 15, "expected a string"),
            ("stdout matches \"(\"", 15, "not a valid regex"),
            ("\"abc", 0, "unterminated"),
            ("(exit_code == 0", 15, "expected `)`"),
            ("1 < 2 < 3", 6, "do not chain"),
            ("exit_code == \"0\"", 10, "one type"),
            ("timed_out < 1", 0, "needs a number"),
            ("exit_code == 0 exit_code", 15, "unexpected `exit_code`"),
            ("", 0, "empty"),
            ("   ", 0, "empty"),
            ("99999999999999999999 > 1", 0, "out of range"),
            ("3x > 1", 1, "followed by a letter"),
            ("\"a\\q\" == \"a\"", 2, "unknown escape"),
            ("x @ y", 2, "unexpected character '@'"),
        ] {
            let e = parse(src, &counts).unwrap_err();
            assert_eq!(e.offset, at, "{src}: {e:?}");
            assert!(e.message.contains(says), "{src}: {}", e.message);
        }
        let deep = format!("{}true{}", "(".repeat(100), ")".repeat(100));
        assert!(
            parse(&deep, &counts)
                .unwrap_err()
                .message
                .contains("nested")
        );
        let nots = format!("{}true", "!".repeat(100));
        assert!(parse(&nots, &counts).is_err());
    }

    #[test]
    fn random_input_never_panics() {
        const TOKENS: [&str; 24] = [
            "exit_code",
            "passed",
            "stdout",
            "contains",
            "matches",
            "\"x\"",
            "\"(\"",
            "(",
            ")",
            "&&",
            "||",
            "!",
            "==",
            "<=",
            ">",
            "1",
            "-2",
            "3.5",
            " ",
            "\\",
            "\"",
            "é",
            "true",
            "=",
        ];
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let mut s = String::new();
            for _ in 0..(next() % 12) {
                let r = next();
                if r % 7 == 0 {
                    s.push(char::from_u32((r >> 8) as u32 % 0x300).unwrap_or('?'));
                } else {
                    s.push_str(TOKENS[(r >> 8) as usize % TOKENS.len()]);
                }
            }
            match parse(&s, &counts) {
                Ok(c) => {
                    let _ = c.evaluate(&facts());
                }
                Err(e) => assert!(e.offset <= s.len() && s.is_char_boundary(e.offset), "{s:?}"),
            }
        }
    }

    #[test]
    fn raw_offsets_follow_escapes() {
        // "a\"b" decoded is a"b: the b (decoded 2) is at raw 4.
        assert_eq!(raw_offset(r#""a\"b""#, 2), 4);
        assert_eq!(raw_offset("'a b'", 2), 3);
        assert_eq!(raw_offset(r#""\u00e9x""#, 2), 7);
        assert_eq!(raw_offset("\"\"\"\nab\"\"\"", 1), 5);
        assert_eq!(raw_offset("\"abc\"", 0), 1);
    }
}
