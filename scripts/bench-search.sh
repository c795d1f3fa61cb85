#!/usr/bin/env bash
# search_in_files against ripgrep on the same tree and patterns (SPEC §11:
# within 1.5× of rg). Not part of `cargo test`. Needs python3 (standard
# library) and rg (installed with apt-get when missing).
#
#   scripts/bench-search.sh                  # tree: a copy of ~/.cargo/registry/src
#   TREE=generated scripts/bench-search.sh   # tree: ~20k files, ~200 MB of
#                                            # generated text (fixed seed)
#   RUNS=9 scripts/bench-search.sh           # runs per pattern (default 7)
#
# What is compared, for each pattern (median of RUNS, after one warm-up run
# each, page cache warm):
#   * rg: `rg --no-require-git --no-ignore-parent --no-ignore-global -n
#     --column [-s|-i] PATTERN .` with its output written to a file: the same
#     files (.gitignore also outside git repos, only ignore files inside the
#     root, hidden skipped, binary files skipped), every matching line with
#     line and column;
#   * server: one `search_in_files` call ({"max_matches": 1000, case as
#     for rg}) to a server started once (a persistent stdio client: the
#     time from writing the request to reading the answer), so start-up is
#     not counted;
#   * cli: `loop-orchestrator call search_in_files …` (one process per
#     search: start-up, initialize, the call).
# The patterns match fewer than 1000 lines, so neither side stops early and
# both do the whole search; the line counts are printed to show it.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-7}
TREE=${TREE:-registry}
WORK=${BENCH_DIR:-/tmp/bench-search}

if ! command -v rg >/dev/null; then
    echo "installing ripgrep with apt-get" >&2
    if [ "$(id -u)" = 0 ]; then apt-get install -y ripgrep >/dev/null; else sudo apt-get install -y ripgrep >/dev/null; fi
fi

cargo build --release --locked --quiet
BIN=${CARGO_TARGET_DIR:-target}/release/loop-orchestrator

mkdir -p "$WORK"
ROOT="$WORK/$TREE"
if [ ! -d "$ROOT" ]; then
    case "$TREE" in
    registry)
        SRC=$(ls -d "$HOME"/.cargo/registry/src/*/ | head -1)
        echo "copying $SRC to $ROOT" >&2
        mkdir -p "$ROOT.tmp" && cp -r "$SRC". "$ROOT.tmp/" && mv "$ROOT.tmp" "$ROOT"
        ;;
    generated)
        echo "generating $ROOT" >&2
        python3 - "$ROOT.tmp" <<'PY'
import os, random, sys
root = sys.argv[1]
rng = random.Random(20261122)
words = [''.join(rng.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(rng.randint(2, 10))) for _ in range(5000)]
words += ['fn', 'let', 'match', 'impl', 'struct', 'return', 'self', '{', '}', '(', ')', ';']
rare = ['xylophone_quartz', 'Deprecated since', 'parse_http_header', 'ZebraCrossing']
for i in range(20000):
    d = os.path.join(root, 'd%02d' % (i % 50), 'e%d' % (i % 7))
    os.makedirs(d, exist_ok=True)
    lines = []
    for _ in range(rng.randint(100, 220)):
        ws = rng.choices(words, k=rng.randint(4, 12))
        if rng.random() < 0.0005:
            ws.insert(rng.randint(0, len(ws)), rng.choice(rare))
        lines.append(' '.join(ws))
    with open(os.path.join(d, 'f%05d.txt' % i), 'w') as f:
        f.write('\n'.join(lines) + '\n')
PY
        mv "$ROOT.tmp" "$ROOT"
        ;;
    *) echo "TREE must be registry or generated" >&2; exit 2 ;;
    esac
fi

FILES=$(find "$ROOT" -type f | wc -l)
SIZE=$(du -sm "$ROOT" | cut -f1)
echo "tree: $ROOT ($FILES files, $SIZE MB), $(nproc) cores, rg $(rg --version | head -1 | cut -d' ' -f2), $RUNS runs per pattern"

exec python3 - "$BIN" "$ROOT" "$RUNS" "$TREE" <<'PY'
import json, os, statistics, subprocess, sys, time

bin_, root, runs, tree = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
if tree == 'registry':
    patterns = [
        ('literal', 'xylophone', 'sensitive'),
        ('literal', 'SAFETY: the caller', 'sensitive'),
        ('regex', r'fn [a-z_]+_utf16\(', 'sensitive'),
        ('regex', r'\b[A-Z][a-z]+Builder::new\(\)\.[a-z_]+\(true\)', 'sensitive'),
        ('insensitive', 'deprecated since', 'insensitive'),
        ('insensitive', 'thread-safe', 'insensitive'),
    ]
else:
    patterns = [
        ('literal', 'xylophone_quartz', 'sensitive'),
        ('regex', r'parse_[a-z]+_header', 'sensitive'),
        ('regex', r'[A-Z][a-z]+Crossing\b', 'sensitive'),
        ('insensitive', 'deprecated since', 'insensitive'),
    ]

out_file = '/tmp/bench-search-rg.out'

def rg(pattern, case):
    flag = '-s' if case == 'sensitive' else '-i'
    t = time.perf_counter()
    with open(out_file, 'wb') as f:
        subprocess.run(['rg', '--no-require-git', '--no-ignore-parent', '--no-ignore-global',
                        '-n', '--column', flag, pattern, '.'], cwd=root, stdout=f, check=False)
    dt = time.perf_counter() - t
    with open(out_file, 'rb') as f:
        lines = sum(1 for _ in f)
    return dt, lines

class Server:
    def __init__(self):
        self.p = subprocess.Popen([bin_, '--root', root, '--mode', 'stdio'], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.id = 0
        self.req('initialize', {'protocolVersion': '2025-06-18', 'capabilities': {},
                                'clientInfo': {'name': 'bench', 'version': '1'}})
        self.send({'jsonrpc': '2.0', 'method': 'notifications/initialized'})

    def send(self, msg):
        self.p.stdin.write((json.dumps(msg) + '\n').encode())
        self.p.stdin.flush()

    def req(self, method, params):
        self.id += 1
        self.send({'jsonrpc': '2.0', 'id': self.id, 'method': method, 'params': params})
        while True:
            msg = json.loads(self.p.stdout.readline())
            if msg.get('id') == self.id:
                return msg

    def search(self, pattern, case):
        args = {'pattern': pattern, 'case': case, 'max_matches': 1000}
        t = time.perf_counter()
        r = self.req('tools/call', {'name': 'search_in_files', 'arguments': args})
        dt = time.perf_counter() - t
        sc = r['result'].get('structuredContent') or {}
        if r['result'].get('isError') or sc.get('truncated'):
            sys.exit(f'bad answer for {pattern!r}: {str(r)[:400]}')
        return dt, sc['total'], sc.get('elapsed_ms')

    def close(self):
        self.p.stdin.close()
        self.p.wait()

def cli(pattern, case):
    args = json.dumps({'pattern': pattern, 'case': case, 'max_matches': 1000})
    t = time.perf_counter()
    subprocess.run([bin_, '--root', root, 'call', 'search_in_files', args],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t

server = Server()
print(f"{'kind':<12} {'pattern':<52} {'lines rg/ours':>13} {'rg ms':>8} {'server ms':>10} {'ratio':>6} {'cli ms':>8} {'ratio':>6}")
ratios, cli_ratios = [], []
for kind, pattern, case in patterns:
    rg(pattern, case); server.search(pattern, case); cli(pattern, case)  # warm-up
    rg_t, srv_t, cli_t = [], [], []
    for _ in range(runs):
        dt, rg_lines = rg(pattern, case); rg_t.append(dt)
        dt, total, _ = server.search(pattern, case); srv_t.append(dt)
        cli_t.append(cli(pattern, case))
    a, b, c = (statistics.median(x) * 1000 for x in (rg_t, srv_t, cli_t))
    ratios.append(b / a); cli_ratios.append(c / a)
    print(f"{kind:<12} {pattern[:52]:<52} {f'{rg_lines}/{total}':>13} {a:8.1f} {b:10.1f} {b/a:6.2f} {c:8.1f} {c/a:6.2f}")
server.close()
print(f"ratio server/rg: median {statistics.median(ratios):.2f}, worst {max(ratios):.2f}; "
      f"cli/rg: median {statistics.median(cli_ratios):.2f}, worst {max(cli_ratios):.2f}")
PY
