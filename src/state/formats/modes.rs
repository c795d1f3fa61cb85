//! Modes: Roo Code's five built-in modes merged with custom modes from the
//! project's mode files (`.roomodes`, `.kilocodemodes`, `.zoomodes`) and an
//! optional global `custom_modes.yaml` (docs/formats.md, "Modes").
//! Precedence: project files (a later file wins) > global > built-in. An
//! invalid mode is reported with its reason and skipped; it never hides the
//! valid ones.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::shown;

/// Where a mode was defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModeSource {
    Builtin,
    Global,
    Project,
}

/// One entry of a mode's `groups`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GroupEntry {
    /// `read`, `edit`, `command`, `mcp` or `modes`.
    pub name: String,
    /// Files this group may touch (a regular expression), when restricted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_regex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A valid mode.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Mode {
    pub slug: String,
    pub name: String,
    pub role_definition: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when_to_use: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_instructions: Option<String>,
    pub groups: Vec<GroupEntry>,
    pub source: ModeSource,
    /// The file it was defined in (custom modes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

impl Mode {
    /// The name as Roo Scheduler shows it (`modeDisplayName`): without a
    /// leading emoji ("💻 Code" → "Code").
    pub fn display_name(&self) -> &str {
        let trimmed = self.name.trim_start_matches(|c: char| {
            c.is_whitespace() || (!c.is_ascii() && !c.is_alphanumeric())
        });
        if trimmed.is_empty() {
            &self.name
        } else {
            trimmed
        }
    }
}

/// A mode that was skipped, and why.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct InvalidMode {
    pub source: ModeSource,
    /// The file it came from.
    pub file: String,
    /// Position in the file's `customModes` list (0-based).
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    pub reason: String,
}

/// The merged set of modes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ModeSet {
    pub modes: Vec<Mode>,
    pub invalid: Vec<InvalidMode>,
    /// Problems with whole files (unparseable, wrong shape) and non-fatal
    /// notes (deprecated groups that were dropped).
    pub problems: Vec<String>,
    /// Files that are not valid YAML or JSON (their modes are missing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
}

/// Tool groups Roo Code knows today.
pub const GROUPS: [&str; 5] = ["read", "edit", "command", "mcp", "modes"];
/// Groups that were removed from Roo Code but are accepted (and dropped).
pub const DEPRECATED_GROUPS: [&str; 1] = ["browser"];

fn builtin(
    slug: &str,
    name: &str,
    role: &str,
    when: &str,
    desc: &str,
    groups: Vec<GroupEntry>,
) -> Mode {
    Mode {
        slug: slug.into(),
        name: name.into(),
        role_definition: role.into(),
        when_to_use: Some(when.into()),
        description: Some(desc.into()),
        custom_instructions: None,
        groups,
        source: ModeSource::Builtin,
        file: None,
    }
}

fn g(name: &str) -> GroupEntry {
    GroupEntry {
        name: name.into(),
        file_regex: None,
        description: None,
    }
}

/// Roo Code's built-in modes (as of Roo Code 3.52), in Roo's order.
pub fn builtin_modes() -> Vec<Mode> {
    vec![
        builtin(
            "architect",
            "🏗️ Architect",
            "You are Roo, an experienced technical leader who is inquisitive and an excellent planner. Your goal is to gather information and get context to create a detailed plan for accomplishing the user's task, which the user will review and approve before they switch into another mode to implement the solution.",
            "Use this mode when you need to plan, design, or strategize before implementation. Perfect for breaking down complex problems, creating technical specifications, designing system architecture, or brainstorming solutions before coding.",
            "Plan and design before implementation",
            vec![
                g("read"),
                GroupEntry {
                    name: "edit".into(),
                    file_regex: Some("\\.md$".into()),
                    description: Some("Markdown files only".into()),
                },
                g("mcp"),
            ],
        ),
        builtin(
            "code",
            "💻 Code",
            "You are Roo, a highly skilled software engineer with extensive knowledge in many programming languages, frameworks, design patterns, and best practices.",
            "Use this mode when you need to write, modify, or refactor code. Ideal for implementing features, fixing bugs, creating new files, or making code improvements across any programming language or framework.",
            "Write, modify, and refactor code",
            vec![g("read"), g("edit"), g("command"), g("mcp")],
        ),
        builtin(
            "ask",
            "❓ Ask",
            "You are Roo, a knowledgeable technical assistant focused on answering questions and providing information about software development, technology, and related topics.",
            "Use this mode when you need explanations, documentation, or answers to technical questions. Best for understanding concepts, analyzing existing code, getting recommendations, or learning about technologies without making changes.",
            "Get answers and explanations",
            vec![g("read"), g("mcp")],
        ),
        builtin(
            "debug",
            "🪲 Debug",
            "You are Roo, an expert software debugger specializing in systematic problem diagnosis and resolution.",
            "Use this mode when you're troubleshooting issues, investigating errors, or diagnosing problems. Specialized in systematic debugging, adding logging, analyzing stack traces, and identifying root causes before applying fixes.",
            "Diagnose and fix software issues",
            vec![g("read"), g("edit"), g("command"), g("mcp")],
        ),
        builtin(
            "orchestrator",
            "🪃 Orchestrator",
            "You are Roo, a strategic workflow orchestrator who coordinates complex tasks by delegating them to appropriate specialized modes. You have a comprehensive understanding of each mode's capabilities and limitations, allowing you to effectively break down complex problems into discrete tasks that can be solved by different specialists.",
            "Use this mode for complex, multi-step projects that require coordination across different specialties. Ideal when you need to break down large tasks into subtasks, manage workflows, or coordinate work that spans multiple domains or expertise areas.",
            "Coordinate tasks across multiple modes",
            vec![],
        ),
    ]
}

/// Replaces what Roo Code also cleans before parsing: a BOM, "smart" quotes,
/// odd dashes and invisible or non-breaking spaces.
pub fn clean_text(text: &str) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' => out.push('"'),
            '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' => out.push('\''),
            '\u{2013}' | '\u{2014}' | '\u{2212}' => out.push('-'),
            '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => {
                out.push(' ')
            }
            '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// The largest modes file read (a real one is a few kilobytes).
pub const MAX_FILE_BYTES: usize = 1024 * 1024;
/// The deepest `[`/`{` nesting read: YAML parsers take time quadratic in
/// it, and no modes file needs more than a few levels.
pub const MAX_NESTING: usize = 64;
/// The most modes read from one file.
pub const MAX_MODES: usize = 1000;

/// Where `[`/`{` nesting first goes deeper than [`MAX_NESTING`] (1-based
/// line and column), counting brackets anywhere (quoted or not: a real file
/// never comes close).
fn too_deep(text: &str) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    for (n, line) in text.lines().enumerate() {
        for (col, c) in line.chars().enumerate() {
            match c {
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_NESTING {
                        return Some((n + 1, col + 1));
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    None
}

/// Parses a `.roomodes` / `custom_modes.yaml` document (YAML or JSON) into a
/// JSON value. Errors carry line and column.
fn parse_document(bytes: &[u8], file: &str) -> Result<Value, String> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(format!(
            "{file}: is {} bytes, over the limit of {MAX_FILE_BYTES} bytes (1 MiB) for a modes file; its modes are not loaded",
            bytes.len()
        ));
    }
    let raw = String::from_utf8_lossy(bytes);
    if let Some((line, col)) = too_deep(&raw) {
        return Err(format!(
            "{file}:{line}:{col}: lists or maps are nested more than {MAX_NESTING} levels deep; its modes are not loaded"
        ));
    }
    let cleaned = clean_text(&raw);
    if cleaned.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    match serde_yaml_ng::from_str::<Value>(&cleaned) {
        Ok(v) => Ok(v),
        Err(yaml_err) => {
            // Roo falls back to JSON on the original text.
            let original = raw.strip_prefix('\u{feff}').unwrap_or(&raw);
            if let Ok(v) = serde_json::from_str::<Value>(original) {
                return Ok(v);
            }
            let (line, col) = yaml_err
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((1, 1));
            Err(format!(
                "{file}:{line}:{col}: not valid YAML or JSON: {yaml_err}"
            ))
        }
    }
}

fn is_slug(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn opt_string(obj: &serde_json::Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("{key} must be a string, got {}", kind(other))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Validates one `customModes` entry. `notes` collects non-fatal remarks.
fn parse_mode(v: &Value, source: ModeSource, notes: &mut Vec<String>) -> Result<Mode, String> {
    let Value::Object(obj) = v else {
        return Err(format!("a mode must be an object, got {}", kind(v)));
    };
    let slug = opt_string(obj, "slug")?.ok_or("slug is missing")?;
    if !is_slug(&slug) {
        return Err(format!(
            "slug {} must contain only letters, numbers and dashes (^[a-zA-Z0-9-]+$)",
            shown(&slug)
        ));
    }
    let name = opt_string(obj, "name")?.unwrap_or_default();
    if name.trim().is_empty() {
        return Err("name is required".into());
    }
    let role_definition = opt_string(obj, "roleDefinition")?.unwrap_or_default();
    if role_definition.trim().is_empty() {
        return Err("roleDefinition is required".into());
    }
    let groups_v = obj.get("groups").ok_or(
        "groups is missing (a list of read, edit, command, mcp, modes or [group, {fileRegex, description}])",
    )?;
    let Value::Array(items) = groups_v else {
        return Err(format!("groups must be a list, got {}", kind(groups_v)));
    };
    let mut groups: Vec<GroupEntry> = Vec::new();
    for item in items {
        let (gname, opts) = match item {
            Value::String(s) => (s.clone(), None),
            Value::Array(pair) if !pair.is_empty() && pair.len() <= 2 => match &pair[0] {
                Value::String(s) => (s.clone(), pair.get(1)),
                other => {
                    return Err(format!(
                        "a group entry's first element must be a group name, got {}",
                        kind(other)
                    ));
                }
            },
            other => {
                return Err(format!(
                    "a group entry must be a name or [name, {{fileRegex, description}}], got {}",
                    kind(other)
                ));
            }
        };
        if DEPRECATED_GROUPS.contains(&gname.as_str()) {
            notes.push(format!(
                "mode {slug}: group {} is deprecated in Roo Code and was dropped",
                shown(&gname)
            ));
            continue;
        }
        if !GROUPS.contains(&gname.as_str()) {
            return Err(format!(
                "unknown group {}; accepted: {}",
                shown(&gname),
                GROUPS.join(", ")
            ));
        }
        if groups.iter().any(|e| e.name == gname) {
            return Err(format!("group {} is listed twice", shown(&gname)));
        }
        let mut entry = g(&gname);
        if let Some(o) = opts {
            let Value::Object(o) = o else {
                return Err(format!(
                    "options of group {} must be an object {{fileRegex, description}}",
                    shown(&gname)
                ));
            };
            for k in o.keys() {
                if k != "fileRegex" && k != "description" {
                    return Err(format!(
                        "group {} has unknown option {}; accepted: fileRegex, description",
                        shown(&gname),
                        shown(k)
                    ));
                }
            }
            entry.file_regex = opt_string(o, "fileRegex")?.filter(|s| !s.is_empty());
            entry.description = opt_string(o, "description")?;
            if let Some(re) = &entry.file_regex
                && let Err(e) = regex::Regex::new(re)
            {
                notes.push(format!(
                    "mode {slug}: fileRegex {} of group {gname} may not be valid: {}",
                    shown(re),
                    e.to_string().lines().last().unwrap_or("invalid")
                ));
            }
        }
        groups.push(entry);
    }
    Ok(Mode {
        slug,
        name,
        role_definition,
        when_to_use: opt_string(obj, "whenToUse")?,
        description: opt_string(obj, "description")?,
        custom_instructions: opt_string(obj, "customInstructions")?,
        groups,
        source,
        file: None,
    })
}

/// Reads one custom-modes file into valid and invalid modes.
fn read_file(bytes: &[u8], file: &str, source: ModeSource, set: &mut ModeSet) -> Vec<Mode> {
    let doc = match parse_document(bytes, file) {
        Ok(d) => d,
        Err(e) => {
            set.problems.push(e);
            set.unreadable.push(file.to_string());
            return Vec::new();
        }
    };
    let list = match &doc {
        Value::Object(o) => match o.get("customModes") {
            None | Some(Value::Null) => return Vec::new(),
            Some(Value::Array(a)) => a,
            Some(other) => {
                set.problems.push(format!(
                    "{file}: customModes must be a list, got {}",
                    kind(other)
                ));
                return Vec::new();
            }
        },
        other => {
            set.problems.push(format!(
                "{file}: expected an object with customModes, got {}",
                kind(other)
            ));
            return Vec::new();
        }
    };
    if list.len() > MAX_MODES {
        set.problems.push(format!(
            "{file}: has {} modes, over the limit of {MAX_MODES}; the first {MAX_MODES} are loaded",
            list.len()
        ));
    }
    let mut out: Vec<Mode> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (index, item) in list.iter().take(MAX_MODES).enumerate() {
        let slug = item.get("slug").and_then(Value::as_str).map(str::to_string);
        match parse_mode(item, source, &mut set.problems) {
            Ok(m) if !seen.insert(m.slug.clone()) => set.invalid.push(InvalidMode {
                source,
                file: file.to_string(),
                index,
                slug,
                reason: format!("duplicate slug {:?} in the same file", m.slug),
            }),
            Ok(mut m) => {
                m.file = Some(file.to_string());
                out.push(m);
            }
            Err(reason) => set.invalid.push(InvalidMode {
                source,
                file: file.to_string(),
                index,
                slug,
                reason,
            }),
        }
    }
    out
}

/// Merges built-in, global and project modes. `project` holds the project
/// mode files that exist, lowest precedence first, and `global` the global
/// file: their bytes with their display names.
pub fn load(project: &[(&[u8], &str)], global: Option<(&[u8], &str)>) -> ModeSet {
    let mut set = ModeSet::default();
    let mut custom = global
        .map(|(b, f)| read_file(b, f, ModeSource::Global, &mut set))
        .unwrap_or_default();
    for (b, f) in project {
        custom.extend(read_file(b, f, ModeSource::Project, &mut set));
    }
    let mut modes = builtin_modes();
    let mut at: std::collections::HashMap<String, usize> = modes
        .iter()
        .enumerate()
        .map(|(i, m)| (m.slug.clone(), i))
        .collect();
    for m in custom {
        match at.get(&m.slug) {
            Some(&i) => modes[i] = m,
            None => {
                at.insert(m.slug.clone(), modes.len());
                modes.push(m);
            }
        }
    }
    set.modes = modes;
    set
}

impl ModeSet {
    pub fn get(&self, slug: &str) -> Option<&Mode> {
        self.modes.iter().find(|m| m.slug == slug)
    }

    pub fn slugs(&self) -> Vec<&str> {
        self.modes.iter().map(|m| m.slug.as_str()).collect()
    }

    /// Slugs closest to `slug` (edit distance), best first.
    pub fn closest(&self, slug: &str, n: usize) -> Vec<String> {
        let mut v: Vec<(usize, &str)> = self
            .modes
            .iter()
            .map(|m| {
                (
                    edit_distance(&slug.to_lowercase(), &m.slug.to_lowercase()),
                    m.slug.as_str(),
                )
            })
            .collect();
        v.sort();
        v.into_iter().take(n).map(|(_, s)| s.to_string()).collect()
    }

    /// Ranks modes by how well their slug, name, description and when-to-use
    /// text match `task` (cosine similarity of word sets, plus a bonus when
    /// the task names the mode). Best first, scores in [0, 1].
    pub fn rank_for(&self, task: &str) -> Vec<(String, f64)> {
        let task_words = words(task);
        let mut out: Vec<(String, f64)> = self
            .modes
            .iter()
            .map(|m| {
                let text = format!(
                    "{} {} {} {}",
                    m.slug,
                    m.name,
                    m.description.as_deref().unwrap_or(""),
                    m.when_to_use.as_deref().unwrap_or("")
                );
                let mode_words = words(&text);
                let common = task_words.intersection(&mode_words).count() as f64;
                let denom = ((task_words.len() * mode_words.len()) as f64).sqrt();
                let mut score = if denom > 0.0 { common / denom } else { 0.0 };
                if task_words.contains(&m.slug.to_lowercase()) {
                    score += 0.5;
                }
                ((m.slug.clone()), (score.min(1.0) * 1000.0).round() / 1000.0)
            })
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }
}

const STOP_WORDS: [&str; 40] = [
    "a", "an", "and", "are", "as", "at", "be", "before", "by", "for", "from", "in", "into", "is",
    "it", "its", "of", "on", "or", "so", "that", "the", "their", "this", "to", "use", "when",
    "with", "you", "your", "mode", "need", "any", "all", "can", "do", "without", "about", "via",
    "ideal",
];

/// Lower-case words of `s` with crude suffix stripping, stop words removed.
fn words(s: &str) -> std::collections::HashSet<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 1)
        .map(|w| stem(&w.to_lowercase()))
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .collect()
}

fn stem(w: &str) -> String {
    for suf in ["ing", "ed", "es", "s"] {
        if w.len() > suf.len() + 3
            && let Some(base) = w.strip_suffix(suf)
        {
            return base.to_string();
        }
    }
    w.to_string()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_counted_across_lines_and_reported_where_it_goes_too_deep() {
        assert_eq!(too_deep(&"[".repeat(64)), None);
        assert_eq!(too_deep(&format!("{}\n  {{", "[".repeat(64))), Some((2, 3)));
        // Closed brackets do not add up.
        assert_eq!(too_deep(&"[]{}".repeat(1000)), None);
    }

    #[test]
    fn modes_beyond_the_limit_are_reported_and_the_first_ones_kept() {
        let mut yaml = String::from("customModes:\n");
        for i in 0..MAX_MODES + 5 {
            yaml.push_str(&format!(
                "  - {{slug: m{i}, name: M, roleDefinition: r, groups: [read]}}\n"
            ));
        }
        let set = load(&[(yaml.as_bytes(), ".roomodes")], None);
        assert_eq!(set.modes.len(), 5 + MAX_MODES);
        assert!(set.get("m999").is_some() && set.get("m1000").is_none());
        assert_eq!(
            set.problems,
            [".roomodes: has 1005 modes, over the limit of 1000; the first 1000 are loaded"]
        );
        assert!(set.unreadable.is_empty());
    }

    #[test]
    fn a_file_over_the_size_limit_is_unreadable() {
        let yaml = format!("customModes: []\n#{}\n", "x".repeat(MAX_FILE_BYTES));
        let set = load(&[(yaml.as_bytes(), ".roomodes")], None);
        assert_eq!(set.unreadable, [".roomodes"]);
        assert!(set.problems[0].contains("over the limit of 1048576 bytes"));
    }

    #[test]
    fn builtins_are_the_five_roo_modes() {
        let set = load(&[], None);
        assert_eq!(
            set.slugs(),
            vec!["architect", "code", "ask", "debug", "orchestrator"]
        );
        assert!(set.invalid.is_empty());
    }

    #[test]
    fn yaml_with_bom_smart_quotes_and_nbsp_is_read() {
        let yaml = "\u{feff}customModes:\n  - slug: docs-writer\n    name: \u{201C}Docs Writer\u{201D}\n    roleDefinition:\u{00A0}You write docs.\n    whenToUse: Use for documentation and README work\n    groups:\n      - read\n      - - edit\n        - fileRegex: \\.md$\n          description: Markdown only\n      - browser\n";
        let set = load(&[(yaml.as_bytes(), ".roomodes")], None);
        assert!(set.invalid.is_empty(), "{:?}", set.invalid);
        let m = set.get("docs-writer").unwrap();
        assert_eq!(m.name, "Docs Writer");
        assert_eq!(m.role_definition, "You write docs.");
        assert_eq!(m.groups.len(), 2);
        assert_eq!(m.groups[1].file_regex.as_deref(), Some("\\.md$"));
        assert!(set.problems.iter().any(|p| p.contains("deprecated")));
    }

    #[test]
    fn json_and_invalid_modes_do_not_hide_valid_ones() {
        let json = r#"{"customModes": [
            {"slug": "bad slug", "name": "X", "roleDefinition": "r", "groups": []},
            {"slug": "code", "name": "My Code", "roleDefinition": "custom", "groups": ["read"]},
            {"slug": "tester", "name": "Tester", "roleDefinition": "tests", "groups": ["read", "read"]},
            {"slug": "qa", "name": "QA", "roleDefinition": "qa", "groups": ["read", "fly"]},
            {"slug": "ok", "name": "OK", "roleDefinition": "fine", "groups": ["command"]}
        ]}"#;
        let set = load(&[(json.as_bytes(), ".roomodes")], None);
        assert_eq!(set.invalid.len(), 3);
        assert!(
            set.invalid[0]
                .reason
                .contains("letters, numbers and dashes")
        );
        assert!(set.invalid[1].reason.contains("listed twice"));
        assert!(set.invalid[2].reason.contains("unknown group \"fly\""));
        let code = set.get("code").unwrap();
        assert_eq!(code.source, ModeSource::Project);
        assert_eq!(
            set.slugs()[1],
            "code",
            "an override keeps the built-in's place"
        );
        assert!(set.get("ok").is_some());
    }

    #[test]
    fn project_wins_over_global() {
        let global = "customModes:\n  - {slug: rev, name: G, roleDefinition: g, groups: []}\n";
        let project = "customModes:\n  - {slug: rev, name: P, roleDefinition: p, groups: []}\n";
        let set = load(
            &[(project.as_bytes(), ".roomodes")],
            Some((global.as_bytes(), "custom_modes.yaml")),
        );
        assert_eq!(set.get("rev").unwrap().name, "P");
        assert_eq!(set.get("rev").unwrap().file.as_deref(), Some(".roomodes"));
    }

    #[test]
    fn a_later_project_file_wins_and_every_file_is_read() {
        let roo = "customModes:\n  - {slug: rev, name: Roo, roleDefinition: r, groups: []}\n  - {slug: only-roo, name: O, roleDefinition: o, groups: []}\n";
        let zoo = "customModes:\n  - {slug: rev, name: Zoo, roleDefinition: z, groups: []}\n";
        let set = load(
            &[(roo.as_bytes(), ".roomodes"), (zoo.as_bytes(), ".zoomodes")],
            None,
        );
        assert_eq!(set.get("rev").unwrap().name, "Zoo");
        assert_eq!(set.get("rev").unwrap().file.as_deref(), Some(".zoomodes"));
        assert_eq!(
            set.get("only-roo").unwrap().file.as_deref(),
            Some(".roomodes")
        );
    }

    #[test]
    fn display_names_drop_a_leading_emoji() {
        let set = load(&[], None);
        assert_eq!(set.get("code").unwrap().display_name(), "Code");
        assert_eq!(set.get("architect").unwrap().display_name(), "Architect");
        let m = Mode {
            name: "(Beta) Reviewer".into(),
            ..set.get("code").unwrap().clone()
        };
        assert_eq!(m.display_name(), "(Beta) Reviewer");
    }

    #[test]
    fn broken_file_is_reported_with_position() {
        let set = load(&[(b"customModes: [\n  {slug: x,\n", ".roomodes")], None);
        assert_eq!(set.modes.len(), 5);
        assert!(
            set.problems[0].starts_with(".roomodes:"),
            "{:?}",
            set.problems
        );
    }

    #[test]
    fn ranking_prefers_matching_modes() {
        let set = load(&[], None);
        let r = set.rank_for("Fix the bug causing a stack trace in the parser and debug logging");
        assert_eq!(r[0].0, "debug", "{r:?}");
        let r = set.rank_for("Design the system architecture and plan the migration");
        assert_eq!(r[0].0, "architect", "{r:?}");
        assert_eq!(set.closest("debgu", 1), vec!["debug".to_string()]);
    }
}
