//! Command line: flags, `--info`, `tools`, `describe`, `call`, and starting
//! the transport under the application owner. Exit codes: 0 ok, 1 runtime
//! failure, 2 bad usage or bad config.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use serde::Serialize;
use serde_json::Value;

use crate::app::{App, RUNTIME_GRACE, SHUTDOWN_GRACE, Transport};
use crate::config::Config;
use crate::embed;
use crate::server::Server;
use crate::state::FileHealth;
use crate::tools::reference;
use crate::transport::http;

#[derive(Debug, Parser)]
#[command(
    name = "loop-orchestrator",
    version,
    about = "MCP server for schedule-driven development loops (Roo Code / Cline)",
    long_about = "MCP server for schedule-driven development loops. Serves Roo Scheduler's .roo/schedules.json, task_timing.tsv, persistent-memory.md, TODO.md and the custom modes (.roomodes, .zoomodes, .kilocodemodes) of a project root to coding agents over stdio or HTTP.\n\nExit codes: 0 ok, 1 runtime failure (or an unhealthy --info / a failed call), 2 bad usage or bad configuration."
)]
struct Cli {
    /// Project root (default: the current directory).
    #[arg(
        long,
        env = "LOOP_ORCHESTRATOR_ROOT",
        global = true,
        value_name = "DIR"
    )]
    root: Option<PathBuf>,
    /// auto: stdio when stdin is not a terminal, else http; stdio: MCP over
    /// stdin/stdout; http: the HTTP daemon (/mcp, /sse, /healthz).
    #[arg(long, value_enum, default_value_t = Mode::Auto)]
    mode: Mode,
    /// HTTP bind address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// HTTP port (0 picks a free one; the address is printed on stderr).
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Bearer token required on the MCP HTTP routes (/mcp, /sse, /message).
    #[arg(long, env = "LOOP_ORCHESTRATOR_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Stateless /mcp: no sessions, plain JSON responses.
    #[arg(long)]
    stateless: bool,
    /// Allow listening on a non-loopback address without a token.
    #[arg(long)]
    insecure_no_auth: bool,
    /// Configuration file (default: .roo/orchestrator.toml when it exists).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print the health of every state file as JSON and exit (0 healthy, 1 not).
    #[arg(long)]
    info: bool,
    /// Which tools to expose: all, core (the few a loop agent uses every
    /// turn) or a comma list of names; `[tools] enable/disable` add and
    /// remove.
    #[arg(long, global = true, value_name = "PROFILE")]
    tools: Option<String>,
    /// Fire due schedules (as `[scheduler] enabled = true`): this process
    /// becomes the root's executor, or stands by while another one is.
    #[arg(long)]
    scheduler: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Auto,
    Stdio,
    Http,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one tool and print its JSON result (the same code path as MCP calls).
    Call {
        /// Tool name, e.g. get_schedule_status.
        tool: String,
        /// Arguments as a JSON object (default {}); "-" reads them from stdin.
        json_args: Option<String>,
    },
    /// List the tools with one-line descriptions.
    Tools {
        /// Print the tools as MCP's tools/list shows them (JSON).
        #[arg(long, conflicts_with = "markdown")]
        json: bool,
        /// Print the reference of every tool (Markdown, as in the README).
        #[arg(long)]
        markdown: bool,
    },
    /// Print one tool's reference: arguments with types and defaults, and an
    /// example call.
    Describe {
        /// Tool name, e.g. track_task_time.
        tool: String,
    },
}

/// Runs the command line and returns the process exit code.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    init_logging();
    let root = match &cli.root {
        Some(r) => r.clone(),
        None => match std::env::current_dir() {
            Ok(d) => d,
            Err(e) => return fail(2, &format!("cannot determine the current directory: {e}")),
        },
    };
    let mut config = match Config::load(&root, cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => return fail(2, &e.to_string()),
    };
    if cli.scheduler {
        config.scheduler.enabled = true;
    }
    if let Some(t) = &cli.tools {
        config.tools.profile = t.clone();
    }
    if let Err(e) = Server::check_tools(&config) {
        return fail(2, &e);
    }
    if cli.info {
        return info(config);
    }
    match &cli.command {
        Some(Command::Tools { json, markdown }) => tools(config, *json, *markdown),
        Some(Command::Describe { tool }) => describe(config, tool),
        Some(Command::Call { tool, json_args }) => call(config, tool, json_args.as_deref()),
        None => serve(config, &cli),
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Writes to stdout; a reader that went away (`| head`) is not an error
/// to panic over.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

fn fail(code: u8, msg: &str) -> ExitCode {
    say!("loop-orchestrator: {msg}");
    ExitCode::from(code)
}

fn print_json<T: Serialize>(v: &T) -> bool {
    match serde_json::to_string_pretty(v) {
        Ok(s) => {
            out!("{s}\n");
            true
        }
        Err(e) => {
            say!("loop-orchestrator: cannot print the result: {e}");
            false
        }
    }
}

#[derive(Serialize)]
struct Info {
    name: &'static str,
    version: &'static str,
    root: String,
    config: String,
    timezone: String,
    healthy: bool,
    tool_count: usize,
    scheduler: crate::ops::scheduler::Summary,
    files: Vec<FileHealth>,
}

fn info(config: Config) -> ExitCode {
    let app = App::new(config);
    let project = app.project();
    project.settle_logs();
    let files = project.health();
    let healthy = files.iter().all(|f| f.parses);
    let info = Info {
        name: env!("CARGO_PKG_NAME"),
        version: env!("CARGO_PKG_VERSION"),
        root: project.config.root.display().to_string(),
        config: project.config.source.to_string(),
        timezone: project.config.timezone.name.clone(),
        healthy,
        tool_count: Server::new(Arc::clone(&app)).tools().len(),
        scheduler: crate::ops::scheduler::summary(project, jiff::Timestamp::now()),
        files,
    };
    if !print_json(&info) {
        return ExitCode::from(1);
    }
    ExitCode::from(if healthy { 0 } else { 1 })
}

fn tools(config: Config, json: bool, markdown: bool) -> ExitCode {
    let server = Server::new(App::new(config));
    let tools = server.tools();
    if json {
        return if print_json(&serde_json::json!({ "tools": tools })) {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        };
    }
    if markdown {
        out!("{}", reference::markdown(&tools));
        return ExitCode::SUCCESS;
    }
    for t in tools {
        let desc = summary(t.description.as_deref().unwrap_or(""));
        out!("{:<26} {desc}\n", t.name);
    }
    ExitCode::SUCCESS
}

fn describe(config: Config, name: &str) -> ExitCode {
    let server = Server::new(App::new(config));
    match server.tool(name) {
        Some(t) => {
            out!("{}", reference::tool_markdown(t));
            ExitCode::SUCCESS
        }
        None => fail(2, &server.unknown_tool(name)),
    }
}

/// The first sentence of a description, at most 100 characters.
fn summary(desc: &str) -> String {
    let end = [". ", ": ", "; "]
        .iter()
        .filter_map(|p| desc.find(p))
        .min()
        .unwrap_or(desc.len());
    let first = desc[..end].trim().trim_end_matches('.');
    if first.chars().count() <= 100 {
        return first.to_string();
    }
    let mut out = String::new();
    for word in first.split_whitespace() {
        if out.chars().count() + word.chars().count() + 1 > 99 {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out.push('…');
    out
}

fn call(config: Config, tool: &str, json_args: Option<&str>) -> ExitCode {
    let text = match json_args {
        Some("-") => {
            let mut s = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut s) {
                return fail(2, &format!("cannot read the arguments from stdin: {e}"));
            }
            s
        }
        Some(s) => s.to_string(),
        None => "{}".to_string(),
    };
    let args = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => m,
        Ok(other) => {
            return fail(
                2,
                &format!(
                    "JSON_ARGS must be a JSON object like {{\"key\": \"value\"}}, got {other}"
                ),
            );
        }
        Err(e) => {
            let (line, col) = (e.line(), e.column());
            return fail(2, &format!("JSON_ARGS:{line}:{col}: {e}"));
        }
    };
    let app = App::new(config);
    let server = Server::new(Arc::clone(&app));
    if server.tool(tool).is_none() {
        return fail(2, &server.unknown_tool(tool));
    }
    app.project().settle_logs();
    app.set_transport(Transport::InProcess);
    let rt = match embed::runtime(true) {
        Ok(rt) => rt,
        Err(e) => return fail(1, &format!("cannot start the runtime: {e}")),
    };
    let outcome = rt.block_on(async {
        let outcome = crate::transport::in_process_call(server, tool, args).await;
        app.shutdown(SHUTDOWN_GRACE).await;
        outcome
    });
    rt.shutdown_timeout(RUNTIME_GRACE);
    match outcome {
        Ok(result) => {
            if result.is_error == Some(true) {
                let msg = result
                    .content
                    .iter()
                    .filter_map(|c| c.as_text().map(|t| t.text.clone()))
                    .collect::<Vec<_>>()
                    .join("\n");
                return fail(1, &format!("{tool}: {msg}"));
            }
            let value = result.structured_content.unwrap_or(Value::Null);
            if print_json(&value) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => fail(1, &format!("{tool}: {e}")),
    }
}

fn serve(config: Config, cli: &Cli) -> ExitCode {
    let (mode, auto) = match cli.mode {
        Mode::Auto if std::io::stdin().is_terminal() => (Mode::Http, true),
        Mode::Auto => (Mode::Stdio, true),
        m => (m, false),
    };
    let how = if mode == Mode::Http {
        embed::Serve::Http(http::Options {
            host: cli.host.clone(),
            port: cli.port,
            token: cli.token.clone(),
            stateless: cli.stateless,
            insecure_no_auth: cli.insecure_no_auth,
            allowed_hosts: config.allowed_hosts.clone(),
            allowed_origins: config.allowed_origins.clone(),
            limits: config.http,
        })
    } else {
        embed::Serve::Stdio
    };
    match embed::serve(config, how, |server| server) {
        Ok(()) => ExitCode::SUCCESS,
        Err(embed::ServeError::NoClient(_)) if auto => fail(
            1,
            "stdin ended before an MCP client said hello: --mode auto chose stdio because stdin is not a terminal (it is a pipe, a file or /dev/null). MCP clients (Cline, Zoo Code, Kilo Code, Claude Code) start this binary with a pipe and speak first; to run the HTTP daemon instead, pass --mode http",
        ),
        Err(e) => fail(e.exit_code(), &e.to_string()),
    }
}
