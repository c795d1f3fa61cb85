//! Tool profiles: which of the server's tools a client sees (`--tools
//! all|core|a,b,c`, `[tools] profile/enable/disable`). Every tool
//! definition costs a client context tokens on every request; a smaller
//! profile is cheaper.

use std::collections::BTreeSet;

use crate::config::ToolSelection;

/// The handful of tools a loop agent uses on every turn: the schedule and
/// the TODO list to decide, memory to read and log, time tracking and
/// delegation to act. Editors bring their own file tools.
pub const CORE: [&str; 6] = [
    "delegate_task",
    "get_persistent_memory",
    "get_schedule_status",
    "get_todo_status",
    "track_task_time",
    "update_persistent_memory",
];

/// The tools `sel` exposes out of `all` (the server's tool names): the
/// profile is a comma list of tool names and the profiles `all` and
/// `core`; `enable` adds, `disable` removes. Or why
/// the selection is wrong (an unknown name, or nothing left).
pub fn select(all: &[String], sel: &ToolSelection) -> Result<BTreeSet<String>, String> {
    let known = |name: &str, from: &str| -> Result<String, String> {
        if all.iter().any(|t| t == name) {
            Ok(name.to_string())
        } else {
            Err(format!(
                "{from}: unknown tool {name:?}; tools: {}",
                all.join(", ")
            ))
        }
    };
    // A comma list of tool names and profile names (`core,run_validation`).
    let mut set = BTreeSet::new();
    for item in sel
        .profile
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        match item {
            "all" => set.extend(all.iter().cloned()),
            "core" => set.extend(CORE.iter().map(|s| s.to_string())),
            name => {
                set.insert(known(name, "tool profile")?);
            }
        }
    }
    for n in &sel.enable {
        set.insert(known(n.trim(), "[tools] enable")?);
    }
    for n in &sel.disable {
        set.remove(&known(n.trim(), "[tools] disable")?);
    }
    if set.is_empty() {
        return Err(format!(
            "the tool selection (profile {:?}) leaves no tool; profiles: all, core, or a comma list of: {}",
            sel.profile,
            all.join(", ")
        ));
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The core tools between two others.
    fn all() -> Vec<String> {
        std::iter::once("a_tool")
            .chain(CORE)
            .chain(std::iter::once("z_tool"))
            .map(|s| s.to_string())
            .collect()
    }

    fn sel(profile: &str, enable: &[&str], disable: &[&str]) -> ToolSelection {
        ToolSelection {
            profile: profile.into(),
            enable: enable.iter().map(|s| s.to_string()).collect(),
            disable: disable.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn profiles_lists_and_enable_disable_combine() {
        assert_eq!(select(&all(), &sel("all", &[], &[])).unwrap().len(), 8);
        let core = select(&all(), &sel("core", &[], &[])).unwrap();
        assert_eq!(core.len(), 6);
        assert!(!core.contains("a_tool"));
        let s = select(&all(), &sel("core", &["z_tool"], &["delegate_task"])).unwrap();
        assert!(s.contains("z_tool") && !s.contains("delegate_task"));
        let s = select(&all(), &sel(" a_tool, z_tool ,", &[], &[])).unwrap();
        assert_eq!(s.into_iter().collect::<Vec<_>>(), ["a_tool", "z_tool"]);
        let s = select(&all(), &sel("core,z_tool", &[], &[])).unwrap();
        assert_eq!(s.len(), 7);
    }

    #[test]
    fn unknown_names_and_empty_selections_are_refused_with_the_tools() {
        let e = select(&all(), &sel("a_tool,nope", &[], &[])).unwrap_err();
        assert!(
            e.contains("unknown tool \"nope\"") && e.contains("z_tool"),
            "{e}"
        );
        let e = select(&all(), &sel("all", &["nope"], &[])).unwrap_err();
        assert!(e.starts_with("[tools] enable"), "{e}");
        let e = select(&all(), &sel("a_tool", &[], &["a_tool"])).unwrap_err();
        assert!(e.contains("leaves no tool"), "{e}");
    }
}
