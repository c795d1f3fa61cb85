#!/usr/bin/env bash
# Differential check of src/state/formats/next_run/roo.rs against Roo
# Scheduler's own code (scripts/roo-scheduler-next.js) under node.
#
# Generates random, deliberately messy schedules (one-digit hours, "",
# missing fields, "1.5", "false" strings, numbers instead of strings, huge
# intervals, clocks around the DST changes of Europe/Berlin and
# America/New_York, and UTC), runs Roo's functions under node with TZ set and
# a faked clock, writes the results in the format of
# tests/data/roo-scheduler-reference.json and lets the ignored Rust test
# `differential_cases_from_env` compare every case.
#
# For developers only (needs node); not part of cargo test or CI.
#
# Usage: scripts/roo-differential.sh [cases per time zone, default 2000] [seed]
# Environment: CARGO_TARGET_DIR as usual; KEEP=1 keeps the cases file.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
per_tz="${1:-2000}"
seed="${2:-$RANDOM}"
work="$(mktemp -d)"
trap '[ "${KEEP:-}" = 1 ] || rm -rf "$work"' EXIT

command -v node >/dev/null || { echo "node is needed" >&2; exit 2; }

cat >"$work/gen.js" <<'EOF'
'use strict';
const { RooSchedulerCopy } = require(process.argv[2]);
const perTz = Number(process.argv[3]);
let seed = Number(process.argv[4]) >>> 0;
const tz = process.env.TZ;

// mulberry32
function rnd() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (a, b) => a + Math.floor(rnd() * (b - a + 1));
const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
const MISSING = Symbol('missing');
const pad = (n, w = 2) => String(n).padStart(w, '0');

const RealDate = Date;
const dstNows = {
  'Europe/Berlin': ['2026-03-29T01:00:00Z', '2026-10-25T01:00:00Z', '2027-03-28T01:00:00Z'],
  'America/New_York': ['2026-03-08T07:00:00Z', '2026-11-01T06:00:00Z', '2027-03-14T07:00:00Z'],
  UTC: ['2026-12-31T23:59:00Z', '2026-11-21T23:30:00Z'],
};

function randomNow() {
  const r = rnd();
  let base;
  if (r < 0.5) base = RealDate.parse(pick(dstNows[tz])) + int(-3 * 3600, 3 * 3600) * 1000;
  else if (r < 0.7) base = RealDate.parse('2026-11-21T23:00:00Z') + int(-4 * 3600, 4 * 3600) * 1000;
  else base = RealDate.parse('2026-01-01T00:00:00Z') + int(0, 730) * 86400000 + int(0, 86399) * 1000;
  return base + (rnd() < 0.7 ? int(0, 999) : 0);
}

function isoLocalDate(ms) {
  const d = new RealDate(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function dateField(now) {
  return pick([
    () => '',
    () => MISSING,
    () => null,
    () => isoLocalDate(now + int(-12, 12) * 86400000),
    () => isoLocalDate(now + int(-3, 3) * 86400000),
    () => isoLocalDate(now - int(0, 800) * 86400000),
    () => pick(['2026-03-29', '2026-10-25', '2026-03-08', '2026-11-01', '2026-02-29', '2028-02-29',
      '2026-04-31', '2026-11-31', '2026-13-01', '2026-11-32', '2026-11', '2026', '+002026-11-18',
      '1800-01-01', '2026-1-5', 2026, 20261118, true, 'abc', 'null', 'Nov 18 2026', '2026/11/18',
      '11/18/2026', '2026-11-18 ', ' 2026-11-18', '2026-11-18T10:00', '02026-11-18', '18 Nov', 'x']),
  ])();
}

function hourField() {
  return pick([
    () => '', () => MISSING, () => null, () => pad(int(0, 23)), () => pad(int(0, 23)), () => String(int(0, 9)),
    () => pick(['24', '25', '99', '012', '1.5', ' 9', '9 ', 'abc', '-1', '+1', '0', '00', '23', '1e1', '0x10', '12abc']),
    () => int(0, 30), () => pick([true, false, 0, 1.5, [], [10], {}]),
  ])();
}

function minuteField() {
  return pick([
    () => '', () => MISSING, () => null, () => '00', () => pad(int(0, 59)), () => pad(int(0, 59)),
    () => String(int(0, 9)), () => pick(['60', '99', '005', '1.5', '30abc', 'x', ' 30', '0']),
    () => int(0, 70), () => pick([false, 0, 7.9, [5]]),
  ])();
}

function intervalField() {
  return pick([
    () => String(int(1, 100)), () => String(int(1, 100)), () => String(int(1, 10)),
    () => pick(['', '0', '-0', '-5', '1.5', '2.9', '12abc', 'abc', '1e3', '0x10', ' 7', '99999999999',
      '100000000', '99999999', '1000000000000000000000', '5 ']),
    () => pick([MISSING, null, true, false, 0, 5, 1.5, 1e21, -3, 1e9, 1e300, [2], [2, 3], {}, 'Infinity']),
  ])();
}

function unitField() {
  return rnd() < 0.85 ? pick(['minute', 'hour', 'day']) : pick(['', 'week', 'Day', MISSING, null, 1, ['day']]);
}

function daysField() {
  const keys = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
  const r = rnd();
  if (r < 0.15) return MISSING;
  if (r < 0.2) return pick([null, 'mon', '', 0, 1, true, ['mon'], [], {}, { foo: true }]);
  const o = {};
  const mode = rnd();
  for (const k of keys) {
    if (mode < 0.1 && rnd() < 0.3) continue;
    if (mode < 0.7) o[k] = rnd() < 0.4;
    else if (mode < 0.85) o[k] = false;
    else o[k] = pick([true, false, 'false', 'true', '', 0, 1, null, '0']);
  }
  return o;
}

function instantField(now) {
  return pick([
    () => '', () => MISSING, () => null,
    () => new RealDate(now - int(0, 10 * 86400) * 1000 - int(0, 999)).toISOString(),
    () => new RealDate(now - int(0, 3 * 3600) * 1000 - int(0, 999)).toISOString(),
    () => new RealDate(now + int(0, 3600) * 1000).toISOString(),
    // exactly now: Roo's "in the past on a selected day" recalculation
    () => new RealDate(now).toISOString(),
    () => new RealDate(now - int(0, 400) * 86400000).toISOString().replace(/\.\d+Z$/, 'Z'),
    () => pick(['1800-01-01T00:00:00Z', '1970-01-01T00:00:00.000Z', 'garbage', 'null', 'undefined',
      '2026-11-18T09:00:00', '2026-10-25T02:30:00', '2026-03-29T02:30:00', '2026-11-18', '+275760-09-13T00:00:00Z',
      '2026-11-18 09:00:00', 'Wed Nov 18 2026 09:00:00 GMT+0100', '1.5', '12', '2026-10-25 02:30', 'Nov 1 2026 1:30 am EDT']),
    () => pick([now - 3600000, now - 1, 0, 1, true, 1e300, -1e15, {}, ['2026-11-18T09:00:00Z']]),
  ])();
}

function schedule(i, now) {
  const s = {
    id: String(1800000000000 + i),
    name: `diff ${i}`,
    scheduleType: rnd() < 0.96 ? 'time' : pick([MISSING, 'event', 'Time', null]),
    timeInterval: intervalField(),
    timeUnit: unitField(),
    selectedDays: daysField(),
    startDate: rnd() < 0.45 ? '' : dateField(now),
    startHour: hourField(),
    startMinute: minuteField(),
    expirationDate: rnd() < 0.6 ? '' : dateField(now + 5 * 86400000),
    expirationHour: hourField(),
    expirationMinute: minuteField(),
    active: rnd() < 0.95 ? true : pick([false, MISSING, 'false', 0, null]),
    lastExecutionTime: instantField(now),
    lastSkippedTime: rnd() < 0.5 ? '' : instantField(now),
  };
  for (const k of Object.keys(s)) if (s[k] === MISSING) delete s[k];
  // What Roo sees is what JSON.parse gives for the file.
  return JSON.parse(JSON.stringify(s));
}

// The faked clock: Date.now() and `new Date()` without arguments.
let fakeNow = 0;
class FakeDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(fakeNow);
    else super(...args);
  }
  static now() {
    return fakeNow;
  }
}
globalThis.Date = FakeDate;
console.log = () => {};
// Timers are not run; Roo's own delay <= 0 check decides runs_immediately.
globalThis.setTimeout = () => 0;
globalThis.clearTimeout = () => {};

const out = [];
for (let i = 0; i < perTz; i++) {
  const now = randomNow();
  const sched = schedule(i, now);
  fakeNow = now;
  const roo = new RooSchedulerCopy();
  let next;
  try {
    next = roo.calculateNextExecutionTime(JSON.parse(JSON.stringify(sched)));
  } catch (e) {
    next = 'THROWS';
  }
  let throws = false;
  const roo2 = new RooSchedulerCopy();
  try {
    roo2.setupTimerForSchedule(JSON.parse(JSON.stringify(sched)));
  } catch (e) {
    throws = true;
  }
  for (const t of roo2.timers.values()) clearTimeout(t);
  let nextStr;
  if (next === null) nextStr = null;
  else if (next === 'THROWS') nextStr = 'THROWS';
  else if (isNaN(next.getTime())) nextStr = 'Invalid Date';
  else nextStr = next.toISOString();
  // Roo only calls calculateNextExecutionTime for active time schedules.
  if (sched.active === false || sched.scheduleType !== 'time') nextStr = null;
  out.push({
    tz,
    now: new RealDate(now).toISOString(),
    schedule: sched,
    roo: { next: nextStr, timer_setup_throws: throws, runs_immediately: roo2.executed },
  });
}
process.stdout.write(JSON.stringify(out));
EOF

parts=()
i=0
for tz in Europe/Berlin America/New_York UTC; do
  i=$((i + 1))
  TZ="$tz" node "$work/gen.js" "$here/roo-scheduler-next.js" "$per_tz" "$((seed * 7 + i))" >"$work/part$i.json"
  parts+=("$work/part$i.json")
done
OUT="$work/cases.json" SEED="$seed" node -e '
const fs = require("fs");
const cases = process.argv.slice(1).flatMap((f) => JSON.parse(fs.readFileSync(f, "utf8")));
fs.writeFileSync(process.env.OUT, JSON.stringify({ about: "roo-differential.sh", cases }));
console.log(`generated ${cases.length} cases (seed ${process.env.SEED})`);
' "${parts[@]}"
if [ "${KEEP:-}" = 1 ]; then echo "cases: $work/cases.json"; fi

# Date.parse on its own: random token soups and mutated ISO strings.
cat >"$work/pgen.js" <<'JS'
'use strict';
let seed = Number(process.argv[2]) >>> 0;
function rnd() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (a, b) => a + Math.floor(rnd() * (b - a + 1));
const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
const num = () => {
  const l = pick([1, 1, 2, 2, 2, 3, 4, 4, 5, 6, 9, 10, 12]);
  let s = '';
  for (let i = 0; i < l; i++) s += String(int(0, 9));
  return s;
};
const toks = [num, num, num, '-', ':', '.', '+', 'T', 't', ' ', 'Z', 'z', 'abc', 'Nov', 'november', 'pm', 'PM',
  'am', 'UTC', 'GMT', 'EST', 'pdt', 'ut', '(', ')', '(x (y) z)', ',', '/', '\u00a0', '\u00e9', '[object Object]',
  'undefined', 'null', '::', '\t', 'Mon', 'x'].map((t) => (typeof t === 'string' ? () => t : t));
const out = [];
for (let i = 0; i < Number(process.argv[3]); i++) {
  let s;
  if (rnd() < 0.4) {
    s = '';
    for (let j = int(1, 9); j > 0; j--) s += pick(toks)();
  } else {
    s = new Date(Date.UTC(int(1990, 2040), int(0, 11), int(1, 31), int(0, 23), int(0, 59), int(0, 59), int(0, 999))).toISOString();
    for (let j = int(0, 8); j > 0; j--) {
      const p = int(0, s.length);
      const op = int(0, 3);
      if (op === 0) s = s.slice(0, p) + s.slice(p + 1);
      else if (op === 1) s = s.slice(0, p) + pick(toks)() + s.slice(p);
      else if (op === 2) s = s.slice(0, p) + pick(toks)() + s.slice(p + 1);
      else s = s.replace('T', pick([' ', 'T', 't', 'T ', '  ']));
    }
  }
  const v = Date.parse(s);
  out.push({ tz: process.env.TZ, s, ms: isNaN(v) ? null : v });
}
process.stdout.write(JSON.stringify(out));
JS
pparts=()
i=0
for tz in Europe/Berlin America/New_York UTC; do
  i=$((i + 1))
  TZ="$tz" node "$work/pgen.js" "$((seed * 11 + i))" "$((per_tz * 5))" >"$work/ppart$i.json"
  pparts+=("$work/ppart$i.json")
done
OUT="$work/parse-cases.json" node -e '
const fs = require("fs");
const cases = process.argv.slice(1).flatMap((f) => JSON.parse(fs.readFileSync(f, "utf8")));
fs.writeFileSync(process.env.OUT, JSON.stringify({ cases }));
console.log(`generated ${cases.length} Date.parse strings`);
' "${pparts[@]}"

cd "$root"
status=0
ROO_PARSE_CASES="$work/parse-cases.json" cargo test --lib --locked \
  next_run::roo::tests::parse_cases_from_env -- --ignored --nocapture || status=1
ROO_DIFF_CASES="$work/cases.json" cargo test --lib --locked \
  next_run::roo::tests::differential_cases_from_env -- --ignored --nocapture || status=1
exit "$status"
