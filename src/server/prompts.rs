//! MCP prompts: one per mode (its role definition, custom instructions and
//! the loop's protocol), `orchestrator-loop` (the next step from the
//! current state, `ops::loop_step`) and `delegate` (the new_task message
//! delegate_task would build, `ops::delegation::preview`).

use jiff::Timestamp;
use rmcp::ErrorData;
use rmcp::model::{
    GetPromptRequestParams, GetPromptResult, JsonObject, ListPromptsResult, Prompt, PromptArgument,
    PromptMessage, Role,
};

use super::resources::to_mcp;
use crate::app::App;
use crate::error::{shown, shown_json};
use crate::ops;
use crate::ops::loop_step::LoopStep;
use crate::ops::modes::{CapOut, CapQuery, ModeCap};
use crate::tools::read;

pub const LOOP: &str = "orchestrator-loop";
pub const DELEGATE: &str = "delegate";

/// The loop's protocol, said to every mode.
const PROTOCOL: &str = "## Loop protocol\n\
- Track the time of each task: track_task_time with action \"start\" when you begin (keep the task_id), action \"stop\" when you end.\n\
- Log what you learn in persistent memory with update_persistent_memory: findings, commands that worked and achievements, under the matching section; keep within its line limit (get_persistent_memory shows the headroom).\n\
- Delegate work another mode does better with delegate_task (action \"create\"), then call new_task with the payload it returns; mark it done with delegate_task action \"complete\" or \"cancel\".\n\
- Check get_schedule_status and get_todo_status for what is due next; the orchestrator-loop prompt sums it up.";

/// Every mode (prompts are one per mode; completions offer their slugs).
pub async fn modes_all(app: &App) -> Result<CapOut, ErrorData> {
    read(app, |p| ops::modes::capabilities(p, &CapQuery::default()))
        .await
        .map_err(to_mcp)
}

fn fixed() -> [Prompt; 2] {
    [
        Prompt::new(
            LOOP,
            Some("The loop's next step from the current state: due schedules, open TODO items and persistent memory's headroom."),
            None,
        )
        .with_title("Next step of the loop"),
        Prompt::new(
            DELEGATE,
            Some("The message to delegate a task to a mode: what delegate_task would hand to new_task (the mode is chosen from the task's words when not given)."),
            Some(vec![
                PromptArgument::new("task")
                    .with_description("What the subtask must do.")
                    .with_required(true),
                PromptArgument::new("mode")
                    .with_description("The mode slug to delegate to; default: the best match for the task.")
                    .with_required(false),
            ]),
        )
        .with_title("Delegate a task"),
    ]
}

fn mode_description(m: &ModeCap) -> String {
    m.description
        .clone()
        .or_else(|| m.when_to_use.clone())
        .unwrap_or_else(|| format!("Work in {} mode.", m.name))
}

/// `prompts/list`: the fixed prompts, then one per mode (a mode whose slug
/// is a fixed prompt's name is left out).
pub async fn list(app: &App) -> Result<ListPromptsResult, ErrorData> {
    let modes = modes_all(app).await?;
    let mut out: Vec<Prompt> = fixed().into();
    for m in &modes.modes {
        if m.slug == LOOP || m.slug == DELEGATE {
            continue;
        }
        out.push(
            Prompt::new(&m.slug, Some(mode_description(m)), None)
                .with_title(format!("{} mode", m.name)),
        );
    }
    Ok(ListPromptsResult::with_all_items(out))
}

/// The prompt's arguments as strings; refuses arguments it does not take.
fn arguments(
    name: &str,
    given: Option<JsonObject>,
    takes: &[&str],
) -> Result<Vec<(String, String)>, ErrorData> {
    let mut out = Vec::new();
    for (k, v) in given.unwrap_or_default() {
        if !takes.contains(&k.as_str()) {
            let accepted = if takes.is_empty() {
                "no arguments".to_string()
            } else {
                takes.join(", ")
            };
            return Err(ErrorData::invalid_params(
                format!(
                    "prompt {name} does not take the argument {}; it takes {accepted}",
                    shown(&k)
                ),
                None,
            ));
        }
        match v {
            serde_json::Value::String(s) => out.push((k, s)),
            // An argument left empty is an argument not given.
            serde_json::Value::Null => {}
            other => {
                return Err(ErrorData::invalid_params(
                    format!(
                        "argument {k} of prompt {name} must be a string, got {}",
                        shown_json(&other)
                    ),
                    None,
                ));
            }
        }
    }
    Ok(out)
}

fn arg<'a>(args: &'a [(String, String)], name: &str) -> Option<&'a str> {
    args.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

fn user(text: impl Into<String>) -> PromptMessage {
    PromptMessage::new_text(Role::User, text)
}

/// `prompts/get`.
pub async fn get(app: &App, req: GetPromptRequestParams) -> Result<GetPromptResult, ErrorData> {
    let name = req.name.as_str();
    match name {
        LOOP => {
            arguments(name, req.arguments, &[])?;
            let step = read(app, |p| ops::loop_step::next_step(p, Timestamp::now()))
                .await
                .map_err(to_mcp)?;
            Ok(GetPromptResult::new(vec![user(render_loop(&step))])
                .with_description("The loop's next step from the current state"))
        }
        DELEGATE => {
            let args = arguments(name, req.arguments, &["task", "mode"])?;
            let Some(task) = arg(&args, "task").map(str::to_string) else {
                return Err(ErrorData::invalid_params(
                    "prompt delegate needs the argument task (what the subtask must do); mode is optional",
                    None,
                ));
            };
            let task = ops::delegation::text("task", &task, ops::delegation::MAX_TASK)
                .map_err(|e| to_mcp(e.into()))?;
            let mode = arg(&args, "mode").map(str::to_string);
            let t = task.clone();
            let preview = read(app, move |p| ops::delegation::preview(p, &t, mode.clone()))
                .await
                .map_err(to_mcp)?;
            let n = &preview.new_task;
            let mut text = format!(
                "Delegate this task to {} mode. First call delegate_task with action \"create\", task {} and mode {:?}: it logs the delegation, starts its time tracking and returns new_task's arguments. Then call new_task with mode {:?} and this message:\n\n{}",
                n.mode,
                shown(&task),
                n.mode,
                n.mode,
                n.message
            );
            for w in &preview.warnings {
                text.push_str(&format!("\nNote: {w}"));
            }
            Ok(GetPromptResult::new(vec![user(text)])
                .with_description(format!("Delegate a task to {} mode", n.mode)))
        }
        _ => {
            let slug = name.to_string();
            let modes = modes_all(app).await?;
            if !modes.modes.iter().any(|m| m.slug == slug) {
                let mut names = vec![LOOP.to_string(), DELEGATE.to_string()];
                names.extend(modes.modes.iter().map(|m| m.slug.clone()));
                return Err(ErrorData::invalid_params(
                    format!(
                        "unknown prompt {}; prompts: {}",
                        shown(name),
                        crate::error::some_of(names.iter().map(String::as_str), ", ")
                    ),
                    None,
                ));
            }
            arguments(name, req.arguments, &[])?;
            let q = CapQuery {
                slug: Some(slug),
                include_prompts: true,
                ..CapQuery::default()
            };
            let one = read(app, move |p| ops::modes::capabilities(p, &q))
                .await
                .map_err(to_mcp)?;
            let Some(m) = one.modes.first() else {
                return Err(ErrorData::resource_not_found(
                    format!("mode {} is gone", shown(name)),
                    None,
                ));
            };
            Ok(GetPromptResult::new(mode_messages(m)).with_description(mode_description(m)))
        }
    }
}

/// A mode's messages: its role, its custom instructions (when it has
/// any) and the loop's protocol.
fn mode_messages(m: &ModeCap) -> Vec<PromptMessage> {
    let mut out = Vec::new();
    let role = m
        .role_definition
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    out.push(user(match role {
        Some(r) => format!("You are in {} mode ({}).\n\n{r}", m.name, m.slug),
        None => format!("You are in {} mode ({}).", m.name, m.slug),
    }));
    if let Some(ci) = m
        .custom_instructions
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        out.push(user(format!("## Custom instructions\n{ci}")));
    }
    out.push(user(PROTOCOL));
    out
}

/// The orchestrator-loop prompt's text.
pub fn render_loop(s: &LoopStep) -> String {
    let mut t = String::from("## Loop state\n");
    if s.due.is_empty() {
        t.push_str("- Due schedules: none");
        if let Some(at) = &s.soonest_next {
            t.push_str(&format!(" (next run at {at})"));
        }
        t.push('\n');
    } else {
        t.push_str(&format!("- Due schedules ({}):\n", s.due.len()));
        for d in &s.due {
            t.push_str(&format!("  - {} (id {}, mode {})\n", d.name, d.id, d.mode));
        }
    }
    if s.open_total == 0 {
        t.push_str("- Open TODO items: none\n");
    } else {
        t.push_str(&format!("- Open TODO items ({}):\n", s.open_total));
        for i in &s.open {
            let mark = if i.in_progress { "[-]" } else { "[ ]" };
            t.push_str(&format!("  - {mark} {} (line {})\n", i.text, i.line));
        }
        if s.open.len() < s.open_total {
            t.push_str(&format!(
                "  - … and {} more (get_todo_status)\n",
                s.open_total - s.open.len()
            ));
        }
    }
    if let Some(m) = s.memory {
        t.push_str(&format!(
            "- Persistent memory: {} of {} lines used, {} left\n",
            m.lines, m.limit, m.headroom
        ));
    }
    for p in &s.problems {
        t.push_str(&format!("- Problem: {p}\n"));
    }
    t.push_str("\n## Next step\n");
    for (i, step) in s.steps.iter().enumerate() {
        t.push_str(&format!("{}. {step}\n", i + 1));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::loop_step::{Due, Memory, OpenItem};

    #[test]
    fn the_loop_text_lists_the_state_then_the_steps() {
        let mut s = LoopStep {
            due: vec![Due {
                id: "s1".into(),
                name: "Nightly".into(),
                mode: "code".into(),
            }],
            open: vec![OpenItem {
                text: "Fix it".into(),
                line: 3,
                section: String::new(),
                in_progress: true,
            }],
            open_total: 4,
            memory: Some(Memory {
                lines: 12,
                limit: 300,
                headroom: 288,
            }),
            ..LoopStep::default()
        };
        s.steps = ops::loop_step::plan(&s);
        let t = render_loop(&s);
        assert!(
            t.contains("- Due schedules (1):\n  - Nightly (id s1, mode code)\n"),
            "{t}"
        );
        assert!(
            t.contains("  - [-] Fix it (line 3)\n  - … and 3 more"),
            "{t}"
        );
        assert!(t.contains("12 of 300 lines used, 288 left"), "{t}");
        assert!(t.contains("## Next step\n1. Run the due schedule"), "{t}");
    }

    #[test]
    fn arguments_a_prompt_does_not_take_are_named() {
        let mut given = JsonObject::new();
        given.insert("task".into(), "x".into());
        given.insert("colour".into(), "red".into());
        let e = arguments("delegate", Some(given), &["task", "mode"]).unwrap_err();
        assert!(
            e.message.contains("\"colour\"") && e.message.contains("task, mode"),
            "{}",
            e.message
        );
        let mut given = JsonObject::new();
        given.insert("task".into(), 3.into());
        let e = arguments("delegate", Some(given), &["task"]).unwrap_err();
        assert!(
            e.message.contains("must be a string, got 3"),
            "{}",
            e.message
        );
    }
}
