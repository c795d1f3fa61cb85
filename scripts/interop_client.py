"""Drive loop-orchestrator with the official Python MCP SDK (an independent
client) over one transport, and check what comes back.

Usage:
  interop_client.py stdio BINARY ROOT
  interop_client.py http  URL [TOKEN]     # streamable HTTP, e.g. http://127.0.0.1:8000/mcp
  interop_client.py sse   URL [TOKEN]     # legacy HTTP+SSE, e.g. http://127.0.0.1:8000/sse

Prints one line per scenario and exits non-zero on the first failure.
"""

import inspect
import json
import sys

import anyio
import jsonschema
from mcp import ClientSession
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client

try:  # mcp >= 1.2x
    from mcp.client.streamable_http import streamable_http_client as _streamable
except ImportError:  # older mcp 1.x
    from mcp.client.streamable_http import streamablehttp_client as _streamable
# Newer SDKs take a configured HTTP client instead of headers.
NEW_HTTP_API = "http_client" in inspect.signature(_streamable).parameters

EXPECTED_TOOLS = {
    "backup_file", "delegate_task", "error_recovery", "get_mode_capabilities",
    "get_persistent_memory", "get_schedule_status", "get_time_tracking", "get_todo_status",
    "list_project_structure", "manage_schedules", "read_project_file", "restore_file",
    "get_system_status", "run_validation", "search_in_files", "switch_mode", "sync_environment",
    "track_task_time", "update_persistent_memory",
    "write_project_file",
}

LABEL = "python-sdk"


def ok(transport, scenario, detail=""):
    print(f"{LABEL}/{transport}: {scenario} ... ok{(' (' + detail + ')') if detail else ''}", flush=True)


def structured(result):
    sc = getattr(result, "structured_content", None)
    if sc is None:
        sc = getattr(result, "structuredContent", None)
    return sc


def is_error(result):
    v = getattr(result, "is_error", None)
    if v is None:
        v = getattr(result, "isError", None)
    return bool(v)


def field(obj, snake, camel):
    """An attribute under its 2.x (snake_case) or 1.x (camelCase) name."""
    v = getattr(obj, snake, None)
    return v if v is not None else getattr(obj, camel)


def text_of(result):
    return "\n".join(getattr(c, "text", "") for c in result.content)


async def scenarios(session, transport):
    init = await session.initialize()
    info = getattr(init, "server_info", None) or getattr(init, "serverInfo")
    assert info.name == "loop-orchestrator", info
    ok(transport, "initialize", f"server {info.name} {info.version}")

    await session.send_ping()
    ok(transport, "ping")

    listed = await session.list_tools()
    tools = {t.name: t for t in listed.tools}
    assert set(tools) == EXPECTED_TOOLS, sorted(tools)
    schemas = {}
    for t in listed.tools:
        out = getattr(t, "output_schema", None) or getattr(t, "outputSchema", None)
        assert out, f"{t.name} has no output schema"
        schemas[t.name] = out
    ok(transport, "tools/list", f"{len(tools)} tools with output schemas")

    async def call(name, args, expect_error=False):
        r = await session.call_tool(name, args)
        if expect_error:
            assert is_error(r), f"{name} {args} should fail"
            return text_of(r)
        assert not is_error(r), f"{name} {args} failed: {text_of(r)}"
        sc = structured(r)
        assert sc is not None, f"{name}: no structuredContent"
        jsonschema.validate(sc, schemas[name])
        assert json.loads(text_of(r)) == sc, f"{name}: text and structuredContent differ"
        return sc

    v = await call("get_schedule_status", {"include_inactive": True})
    ok(transport, "call get_schedule_status", f"{v['summary']['total']} schedules")
    v = await call("get_todo_status", {})
    ok(transport, "call get_todo_status", f"{v['counts']['total']} items, {v['counts']['completion_pct']}% done")
    v = await call("get_persistent_memory", {"tail": 1})
    ok(transport, "call get_persistent_memory", f"{v['line_count']}/{v['line_limit']} lines")
    v = await call("track_task_time", {"action": "start", "task": f"interop over {transport}", "mode": "code"})
    task_id = v["task_id"]
    v = await call("track_task_time", {"action": "stop", "task_id": task_id})
    ok(transport, "call track_task_time start/stop", f"{task_id}, {v['row']['duration_s']} s")
    v = await call("get_time_tracking", {"group_by": "mode"})
    ok(transport, "call get_time_tracking", f"{v['rows_total']} rows")
    v = await call("update_persistent_memory", {"section": "updates", "mode": "code",
                                                "category": "Interop", "achievement": f"{LABEL} over {transport}",
                                                "on_overflow": "archive"})
    ok(transport, "call update_persistent_memory", f"line {v['line']}")
    v = await call("delegate_task", {"action": "create", "task": "Review the interop results and fix any failure"})
    await call("delegate_task", {"action": "complete", "delegation_id": v["delegation"]["id"], "result": "done"})
    ok(transport, "call delegate_task create/complete", f"mode {v['new_task']['mode']}")
    name = f"notes/interop-{transport}.md"
    v = await call("write_project_file", {"path": name, "content": "# Interop\nstep one\n"})
    v = await call("write_project_file", {"path": name, "expected_version": v["version"],
                                          "edits": [{"old_text": "step one", "new_text": "step two"}]})
    assert "+step two" in v["diff"], v
    v = await call("read_project_file", {"path": name})
    assert v["files"][0]["text"] == "# Interop\nstep two\n", v
    v = await call("search_in_files", {"pattern": "step two", "fixed_string": True})
    assert any(m["path"] == name for m in v["matches"]), v
    ok(transport, "call write/read/search project files", f"{len(v['matches'])} matches")
    msg = await call("read_project_file", {"path": "../outside.md"}, expect_error=True)
    assert "refused" in msg, msg
    msg = await call("track_task_time", {"action": "pause"}, expect_error=True)
    assert "unknown variant" in msg, msg
    ok(transport, "tool error for bad input", msg.splitlines()[0][:60])

    resources = (await session.list_resources()).resources
    uris = [str(r.uri) for r in resources]
    assert "orchestrator://todo" in uris, uris
    r = await session.read_resource("orchestrator://todo")
    todo = json.loads(r.contents[0].text)
    assert todo["counts"]["total"] >= 1, todo
    templates = field(await session.list_resource_templates(), "resource_templates", "resourceTemplates")
    assert any(field(t, "uri_template", "uriTemplate") == "orchestrator://files/{path}"
               for t in templates), templates
    r = await session.read_resource(f"orchestrator://files/{name}")
    assert r.contents[0].text == "# Interop\nstep two\n", r
    ok(transport, "resources list/read", f"{len(uris)} resources, a file through the template")
    prompts = (await session.list_prompts()).prompts
    names = [p.name for p in prompts]
    assert "orchestrator-loop" in names and "delegate" in names, names
    p = await session.get_prompt("delegate", {"task": "Fix the interop failure", "mode": "code"})
    assert "Fix the interop failure" in p.messages[-1].content.text, p
    ok(transport, "prompts list/get", f"{len(names)} prompts")


async def main():
    transport = sys.argv[1]
    if transport == "stdio":
        binary, root = sys.argv[2], sys.argv[3]
        params = StdioServerParameters(command=binary, args=["--root", root, "--mode", "stdio"])
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await scenarios(session, transport)
        return
    url = sys.argv[2]
    token = sys.argv[3] if len(sys.argv) > 3 else None
    headers = {"Authorization": f"Bearer {token}"} if token else None
    if transport == "sse":
        async with sse_client(url, headers=headers) as (read, write):
            async with ClientSession(read, write) as session:
                await scenarios(session, transport)
    elif transport == "http":
        if NEW_HTTP_API:
            try:
                import httpx2 as httpx
            except ImportError:
                import httpx
            async with httpx.AsyncClient(headers=headers or {}, timeout=30) as client:
                async with _streamable(url, http_client=client) as streams:
                    read, write = streams[0], streams[1]
                    async with ClientSession(read, write) as session:
                        await scenarios(session, transport)
        else:
            async with _streamable(url, headers=headers) as streams:
                read, write = streams[0], streams[1]
                async with ClientSession(read, write) as session:
                    await scenarios(session, transport)
    else:
        sys.exit(f"unknown transport {transport}")


if __name__ == "__main__":
    for a in [a for a in sys.argv if a.startswith("--label=")]:
        LABEL = a.split("=", 1)[1]
        sys.argv.remove(a)
    anyio.run(main)
