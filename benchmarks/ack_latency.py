"""Ack latency: FlowPilot's HTTP mode against a minimal Bolt app (the floor), PostgreSQL-backed.

Run (from the repository root; needs a PostgreSQL that lets the admin URL create databases)::

    .venv/bin/python benchmarks/ack_latency.py [--requests N] [--concurrency C]
        [--model-delay 2.0] [--workers 64] [--turn-timeout 180]
        [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

(``--pg-url`` defaults to ``$FLOWPILOT_BENCH_PG_URL``, else the URL shown.) Exit status 0 when
every target is met, 1 when one is missed, 2 when the benchmark could not run.

What it does, in one run:

1. Creates a fresh database ``fp_bench_<random>`` (dropped at the end) and migrates it.
2. Starts the wire fakes in this process: ``FakeSlack`` and a fake Anthropic API that answers
   every ``/v1/messages`` call after ``--model-delay`` seconds (2 s by default).
3. Starts the real app as a child process, exactly as production does: ``flowpilot serve``
   (``python -m bot.cli serve --no-scheduler``; waitress, 32 threads) with
   ``FLOWPILOT_WORKERS=--workers``, pointed at the fakes and the database.
4. Starts the floor as a second child process: a minimal ``slack_bolt.App`` configured like
   the app (request verification on, ``process_before_response=False``, a 64-thread listener
   executor) whose only work is one ``INSERT … ON CONFLICT DO NOTHING`` into a one-table
   delivery log, done in a global middleware before any listener runs (Bolt acks events
   before their listener, so that is the only place an event can wait for an INSERT); the
   command and action listeners then just ``ack()``. It is served by the same stack:
   ``bot.server.serve`` → waitress (same threads and limits) → ``bot.server.WsgiApp`` → Bolt.
5. Drives both servers **side by side** with signed requests over real HTTP from a pool of
   ``--concurrency`` client threads in a separate load-generator process (so the fakes'
   traffic in this process never slows the clock that times the acks); closed loop, one
   keep-alive connection per thread and server. Each client thread sends a request to the
   app and the very same request (re-signed) to the floor **at once** (a partner thread
   sends the floor's) and waits for both, so both get the same requests at the same moments
   (a burst at one is a burst at the other) under the same machine load (the app's turns,
   PostgreSQL, the fakes). (``--side-by-side interleaved``, the method before 1 December
   2026: the client sends to the app, then to the floor; in a closed loop more of the
   clients then wait at whichever server is slower at that moment, so a burst at one is not
   a burst at the other. The report prints each server's average requests in flight.)
   Three phases of ``--requests`` each:

   * ``command``: ``/flowpilot <problem>``; each opens a session (header post, first turn).
     The benchmark then waits until every session exists.
   * ``reply``: one thread reply per session (an ``event_callback`` ``message`` event with the
     session's ``thread_ts``), sent while the first turns are still with the model.
     The benchmark then waits until every queued input was consumed by a finished turn.
   * ``click``: one quick-answer (``fp_answer``) button per session, taken from the newest
     turn message the app posted in the fake Slack, with the real clicked message attached.

   Then it waits (``--turn-timeout``) until no turn input is pending or processing, and counts
   how many inputs were consumed by a completed turn.
6. For reference, sends the same bodies to the floor alone once the app is idle, and prints
   that p99 and the app's p99 over it (the app's acks against a floor that shares the machine
   with nothing).

An ack's latency is measured by the client: from just before the request is written to the
socket until the whole HTTP response has been read. Percentiles are nearest-rank (p99 of
150 samples is the second slowest). A warm-up (``/flowpilot help`` commands and replies in
threads that hold no session, to both servers) precedes the phases and is not counted. On
Linux, each server's CPU time per ack during the phases is read from ``/proc``.

Targets (issue 3): app p99 ack < 1.5 × the floor's p99 side by side (overall), no ack over 3 s
(Slack's limit; a non-200 ack counts as a miss too), every turn answered.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for extra in (str(ROOT), str(ROOT / "tests")):
    if extra not in sys.path:
        sys.path.insert(0, extra)

SECRET = "bench-signing-secret"
TEAM = "T0001"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TURN_KINDS = ("intake", "reply", "answer", "action_done", "action_skip", "fix_decision", "retry")
KINDS = ("command", "reply", "click")
ACK_LIMIT = 3.0
RATIO_TARGET = 1.5
FLOOR_TABLE = "bench_floor_deliveries"


# ---------------------------------------------------------------------------------------------
# The floor: a minimal Bolt app that acks after one INSERT (run as a child process)
# ---------------------------------------------------------------------------------------------


def serve_floor(port: int, db_url: str, slack_url: str, threads: int) -> None:
    from types import SimpleNamespace

    from slack_bolt import App, BoltResponse
    from sqlalchemy import text

    from bot.executor import TrackingExecutor
    from bot.notify import make_web_client
    from bot.server import serve
    from storage.db import make_engine

    engine = make_engine(db_url)  # the app's pool settings (and SQLite pragmas)
    now = "now()" if db_url.startswith("postgresql") else "CURRENT_TIMESTAMP"
    insert = text(
        f"INSERT INTO {FLOOR_TABLE} (delivery_key, kind, received_at) "
        f"VALUES (:key, :kind, {now}) ON CONFLICT (delivery_key) DO NOTHING"
    )
    app = App(
        client=make_web_client("xoxb-bench", slack_url),
        signing_secret=SECRET,
        request_verification_enabled=True,
        token_verification_enabled=False,
        process_before_response=False,
        listener_executor=TrackingExecutor(64, thread_name_prefix="floor-listener"),
    )

    @app.middleware
    def record(body: dict[str, Any], next: Any) -> Any:  # noqa: A002
        # The tight floor: record, then ack right here, as the app's delivery middleware
        # acks the work it records (handlers/middleware.py). Acking from a listener instead
        # goes through Bolt's listener runner, which hands the listener to another thread
        # and polls for its ack every 10 ms: that floor was up to 10 ms slower per ack.
        kind = str(body.get("type") or ("command" if body.get("command") else "other"))
        key = body.get("event_id") or body.get("trigger_id") or uuid.uuid4().hex
        with engine.begin() as conn:
            conn.execute(insert, {"key": f"{kind}:{key}"[:255], "kind": kind[:40]})
        return BoltResponse(status=200, body="")

    stub = SimpleNamespace(app=app, db=engine, services=None)
    serve(stub, "127.0.0.1", port, threads)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# The slow model
# ---------------------------------------------------------------------------------------------


def slow_anthropic(delay: float) -> Any:
    from fakes.anthropic_server import FakeAnthropic

    class SlowAnthropic(FakeAnthropic):
        """Every ``/v1/messages`` answer (scripted or the generic turn) comes after ``delay``."""

        def _answer(self, path: str, body: Any) -> Any:
            if path == "/v1/messages":
                self._stopping.wait(delay)
            return super()._answer(path, body)

    return SlowAnthropic()


# ---------------------------------------------------------------------------------------------
# Processes, database
# ---------------------------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    port: int

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)  # waitress stops; the app drains its turn pool
        try:
            self.proc.wait(timeout=60)  # inline: serve waits up to 25 s for its worker
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


def start_child(name: str, argv: list[str], env: dict[str, str], workdir: Path, port: int) -> Child:
    log = workdir / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, env=env, cwd=workdir, stdout=out, stderr=subprocess.STDOUT)
    child = Child(name, proc, log, port)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{child.tail()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                return child
        except OSError:
            pass
        time.sleep(0.2)
    child.stop()
    raise RuntimeError(f"{name} did not answer /healthz within 60 s:\n{child.tail()}")


def start_worker(argv: list[str], env: dict[str, str], workdir: Path) -> Child:
    """``flowpilot scheduler`` in queue mode (no HTTP port: wait for its ready line)."""
    log = workdir / "worker.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, env=env, cwd=workdir, stdout=out, stderr=subprocess.STDOUT)
    child = Child("worker", proc, log, 0)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited with {proc.returncode}:\n{child.tail()}")
        if "work queue running" in child.tail(50):
            return child
        time.sleep(0.2)
    child.stop()
    raise RuntimeError(f"worker did not start within 60 s:\n{child.tail()}")


def clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "FLOWPILOT_", "ANTHROPIC_"))}
    env.update(values)
    return env


# ---------------------------------------------------------------------------------------------
# The load generator
# ---------------------------------------------------------------------------------------------


@dataclass
class Req:
    kind: str
    body: str
    content_type: str
    target: str = "app"  # which server: "app" or "floor"


@dataclass
class Sample:
    kind: str
    status: int
    seconds: float
    error: str = ""
    target: str = "app"


class Loader:
    """Closed-loop clients: ``concurrency`` threads, one keep-alive connection each per
    server (``ports``: target name -> port)."""

    def __init__(self, ports: dict[str, int], concurrency: int, paired: bool = True) -> None:
        self.ports = ports
        self.concurrency = concurrency
        self.paired = paired
        self._local = threading.local()

    def _conn(self, target: str, fresh: bool = False) -> http.client.HTTPConnection:
        conns: dict[str, http.client.HTTPConnection] = self._local.__dict__.setdefault("c", {})
        conn = conns.get(target)
        if conn is None or fresh:
            if conn is not None:
                conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", self.ports[target], timeout=30)
            conns[target] = conn
        return conn

    def send(self, req: Req) -> Sample:
        from bot.sandbox.signing import sign_request

        raw = req.body.encode()
        for attempt in (0, 1):
            headers = {"Content-Type": req.content_type, **sign_request(SECRET, req.body)}
            conn = self._conn(req.target, fresh=attempt == 1)
            started = time.perf_counter()
            try:
                conn.request("POST", "/slack/events", body=raw, headers=headers)
                resp = conn.getresponse()
                resp.read()
                return Sample(req.kind, resp.status, time.perf_counter() - started,
                              target=req.target)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                if attempt == 0:  # a keep-alive connection the server had closed: reconnect
                    continue
                return Sample(req.kind, 0, time.perf_counter() - started, "connection lost",
                              req.target)
            except OSError as exc:
                return Sample(req.kind, 0, time.perf_counter() - started, repr(exc), req.target)
        raise AssertionError("unreachable")

    def run_here(self, reqs: list[Req]) -> list[Sample]:
        if not self.paired:
            with ThreadPoolExecutor(self.concurrency, thread_name_prefix="bench-client") as pool:
                return list(pool.map(self.send, reqs))
        # Paired: a client sends a request to the app and its twin to the floor at the same
        # moment (its partner thread takes the floor's) and waits for both, so both servers
        # get the same requests at the same moments.
        pairs = list(zip(reqs[0::2], reqs[1::2], strict=True))
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="bench-client") as pool, \
                ThreadPoolExecutor(self.concurrency, thread_name_prefix="bench-partner") as mate:
            def both(pair: tuple[Req, Req]) -> list[Sample]:
                twin = mate.submit(self.send, pair[1])
                return [self.send(pair[0]), twin.result()]

            return [s for done in pool.map(both, pairs) for s in done]

    def run(self, reqs: list[Req]) -> list[Sample]:
        """Send from a separate process: this one also hosts the fake Slack and model
        servers, and their traffic (the app's work) must not slow the clock that times the
        acks."""
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--load-client",
             "--concurrency", str(self.concurrency)],
            input=json.dumps({"ports": self.ports, "paired": self.paired,
                              "reqs": [r.__dict__ for r in reqs]}),
            capture_output=True, text=True, check=True,
        )
        return [Sample(**x) for x in json.loads(proc.stdout)]


def load_client(concurrency: int) -> None:
    """``--load-client``: read ports and requests (JSON) on stdin, write samples on stdout."""
    job = json.loads(sys.stdin.read())
    reqs = [Req(**r) for r in job["reqs"]]
    samples = Loader({k: int(v) for k, v in job["ports"].items()}, concurrency,
                     bool(job.get("paired", True))).run_here(reqs)
    sys.stdout.write(json.dumps([x.__dict__ for x in samples]))


def side_by_side(reqs: list[Req]) -> list[Req]:
    """Each request to the app, then the same request to the floor (the loader sends the two
    at once, or one after the other with ``--side-by-side interleaved``)."""
    out = []
    for r in reqs:
        out += [r, Req(r.kind, r.body, r.content_type, "floor")]
    return out


def child_pids(pid: int) -> list[int]:
    """The direct children of a process (Linux ``/proc``; else none)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError, ValueError):
            found += [int(x) for x in task.read_text().split()]
    return found


def cpu_ms(pid: int) -> float | None:
    """CPU time (user + system) a process has used, in ms (Linux ``/proc``; else None)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


# ---------------------------------------------------------------------------------------------
# Reading the app's state


def turn_input_counts(engine: Any) -> dict[str, int]:
    from sqlalchemy import bindparam, text

    query = text("SELECT status, count(*) FROM inbound_events WHERE kind IN :kinds "
                 "GROUP BY status").bindparams(bindparam("kinds", expanding=True))
    with engine.connect() as conn:
        rows = conn.execute(query, {"kinds": list(TURN_KINDS)}).all()
    return {str(status): int(n) for status, n in rows}


def work_in_flight(engine: Any) -> int:
    """Recorded work (``work:<name>``) that is pending or running."""
    from sqlalchemy import text

    with engine.connect() as conn:
        return int(conn.execute(
            text("SELECT count(*) FROM inbound_events WHERE kind LIKE 'work:%' "
                 "AND status IN ('pending', 'processing')")).scalar_one())


def wait_for_turns(engine: Any, timeout: float, stall: float) -> bool:
    """True once no turn input is pending or processing; False when that did not happen
    within ``timeout`` s, or nothing moved for ``stall`` s (inputs stuck for good)."""
    deadline = time.monotonic() + timeout
    last: dict[str, int] = {}
    progress = time.monotonic()
    while True:
        counts = turn_input_counts(engine)
        # Work not yet run (a click's decision) has not queued its turn input yet: wait for it.
        counts["work"] = work_in_flight(engine)
        if counts.get("pending", 0) + counts.get("processing", 0) + counts["work"] == 0:
            return True
        if counts != last:
            last, progress = counts, time.monotonic()
        if time.monotonic() > deadline or time.monotonic() - progress > stall:
            return False
        time.sleep(0.25)


@dataclass
class BenchSession:
    id: str
    channel: str
    thread_ts: str
    owner: str


def sessions(engine: Any) -> list[BenchSession]:
    from sqlalchemy import text

    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT id, slack_channel_id, slack_thread_ts, participants FROM ai_sessions "
            "WHERE slack_thread_ts IS NOT NULL ORDER BY created_at"
        )).all()
    out = []
    for sid, channel, thread_ts, participants in rows:
        people = participants if isinstance(participants, list) else json.loads(participants)
        out.append(BenchSession(str(sid), str(channel), str(thread_ts), str(people[0])))
    return out


def wait_for_sessions(engine: Any, n: int, timeout: float, stall: float = 20.0) -> list[BenchSession]:
    """The sessions, once ``n`` exist (or when their number stops growing for ``stall`` s)."""
    deadline = time.monotonic() + timeout
    last, progress = -1, time.monotonic()
    while True:
        found = sessions(engine)
        if len(found) >= n or time.monotonic() > deadline:
            return found
        if len(found) != last:
            last, progress = len(found), time.monotonic()
        elif time.monotonic() - progress > stall:
            return found
        time.sleep(0.25)


def newest_answer_button(messages: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(message, button) of the newest message in a thread with an ``fp_answer`` button."""
    for message in sorted(messages, key=lambda m: float(m["ts"]), reverse=True):
        for block in message.get("blocks") or []:
            for el in block.get("elements") or []:
                if el.get("type") == "button" and str(el.get("action_id", "")).startswith("fp_answer"):
                    return message, el
    return None


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.1f}"


@dataclass
class Run:
    samples: list[Sample] = field(default_factory=list)

    def of(self, kind: str | None) -> list[float]:
        return [s.seconds for s in self.samples if kind is None or s.kind == kind]

    def bad(self) -> list[Sample]:
        return [s for s in self.samples if s.status != 200]

    def over(self, limit: float) -> int:
        return sum(1 for s in self.samples if s.seconds > limit)


def table(app: Run, floor: Run) -> list[str]:
    head = (f"{'kind':<8} {'n':>5} | {'app p50':>8} {'app p99':>8} {'app max':>8} | "
            f"{'floor p50':>9} {'floor p99':>9} {'floor max':>9} | {'p99 ratio':>9}")
    lines = [head, "-" * len(head)]
    for kind in (*KINDS, None):
        a, f = app.of(kind), floor.of(kind)
        ratio = pct(a, 99) / pct(f, 99) if f else math.nan
        lines.append(
            f"{kind or 'all':<8} {len(a):>5} | {ms(pct(a, 50)):>8} {ms(pct(a, 99)):>8} "
            f"{ms(max(a, default=math.nan)):>8} | {ms(pct(f, 50)):>9} {ms(pct(f, 99)):>9} "
            f"{ms(max(f, default=math.nan)):>9} | {ratio:>8.2f}x"
        )
    return lines


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def benchmark(args: argparse.Namespace) -> int:
    from pgdb import scratch_database
    from sqlalchemy import text

    from bot.sandbox.fake_slack import FakeSlack
    from bot.sandbox.signing import block_action_body, event_body, slash_command_body
    from storage.db import make_engine
    from storage.migrate import upgrade

    started = time.monotonic()
    n, conc = args.requests, args.concurrency
    channels = [f"CBENCH{i:02d}" for i in range(10)]
    users = [f"UBENCH{i:02d}" for i in range(25)]
    workdir = Path(tempfile.mkdtemp(prefix="fp-bench-"))
    children: list[Child] = []
    with contextlib.ExitStack() as stack:
        if args.db == "postgres":
            db_url = stack.enter_context(scratch_database(args.pg_url, "fp_bench"))
            floor_url = db_url  # another table in the same database: no lock in common
        else:
            # SQLite locks the whole file for a write: the floor gets a file of its own, as
            # it gets a table of its own on PostgreSQL, so it never waits for the app's writes.
            db_url, floor_url = f"sqlite:///{workdir}/app.db", f"sqlite:///{workdir}/floor.db"
        engine = make_engine(db_url, pool_size=2)
        stack.callback(engine.dispose)
        upgrade(engine)
        floor_engine = engine if floor_url == db_url else make_engine(floor_url)
        stack.callback(floor_engine.dispose)
        with floor_engine.begin() as conn:
            if args.db == "postgres":
                conn.execute(text(
                    f"CREATE TABLE {FLOOR_TABLE} (id bigserial PRIMARY KEY, "
                    "delivery_key varchar(255) NOT NULL UNIQUE, kind varchar(40) NOT NULL, "
                    "received_at timestamptz NOT NULL)"
                ))
                db_version = "PostgreSQL " + str(conn.execute(text("SHOW server_version")).scalar())
            else:
                conn.execute(text(
                    f"CREATE TABLE {FLOOR_TABLE} (id integer PRIMARY KEY, "
                    "delivery_key varchar(255) NOT NULL UNIQUE, kind varchar(40) NOT NULL, "
                    "received_at timestamp NOT NULL)"
                ))
                db_version = "SQLite " + str(conn.execute(text("SELECT sqlite_version()")).scalar())
        log(f"database {db_url.rsplit('/', 1)[1]} migrated ({db_version})")

        slack = stack.enter_context(FakeSlack())
        model = stack.enter_context(slow_anthropic(args.model_delay))

        def stop_children() -> None:
            for child in reversed(children):
                child.stop()

        stack.callback(stop_children)
        app_port, floor_port = free_port(), free_port()
        app_env = clean_env(SLACK_BOT_TOKEN="xoxb-bench", SLACK_SIGNING_SECRET=SECRET,
                            SLACK_API_URL=slack.url, FLOWPILOT_DATABASE_URL=db_url,
                            ANTHROPIC_API_KEY="sk-ant-bench", ANTHROPIC_BASE_URL=model.url,
                            FLOWPILOT_WORKERS=str(args.workers),
                            FLOWPILOT_WORK_MODE=args.work_mode)
        children.append(start_child(
            "app", [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1",
                    "--port", str(app_port), "--no-scheduler"],
            app_env, workdir, app_port,
        ))
        if args.work_mode == "queue":
            # The production topology: serve acks and queues; a worker process takes turns.
            children.append(start_worker(
                [sys.executable, "-m", "bot.cli", "scheduler"], app_env, workdir))
        children.append(start_child(
            "floor", [sys.executable, str(Path(__file__).resolve()), "--serve-floor",
                      "--port", str(floor_port), "--db-url", floor_url, "--slack-url", slack.url,
                      "--threads", str(args.threads)],
            clean_env(), workdir, floor_port,
        ))
        log(f"app on :{app_port} (flowpilot serve), floor on :{floor_port}; logs in {workdir}")

        load = Loader({"app": app_port, "floor": floor_port}, conc,
                      paired=args.side_by_side == "paired")
        pids = {c.name: c.proc.pid for c in children}
        if args.work_mode == "inline":  # the app's own worker process (bot/host_worker.py)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and "worker process running" not in \
                    children[0].tail(200):
                time.sleep(0.2)
            found = child_pids(pids["app"])
            if "worker process running" not in children[0].tail(200) or not found:
                raise RuntimeError(f"the app's worker process did not start:\n"
                                   f"{children[0].tail()}")
            pids["worker"] = found[0]
        cpu: dict[str, dict[str, float]] = {}  # kind -> process -> CPU ms during the phase
        app, floor = Run(), Run()  # side by side: same moments, same machine load

        phase_seconds: list[float] = []

        def phase(kind: str, reqs: list[Req]) -> None:
            before = {name: cpu_ms(pid) for name, pid in pids.items()}
            started = time.perf_counter()
            samples = load.run(side_by_side(reqs))
            phase_seconds.append(time.perf_counter() - started)
            after = {name: cpu_ms(pid) for name, pid in pids.items()}
            cpu[kind] = {name: after[name] - b for name, b in before.items()  # type: ignore[operator]
                         if b is not None and after[name] is not None}
            app.samples += [x for x in samples if x.target == "app"]
            floor.samples += [x for x in samples if x.target == "floor"]

        counter = itertools.count()

        def command(text_: str) -> Req:
            i = next(counter)
            user, channel = users[i % len(users)], channels[i % len(channels)]
            body, ctype = slash_command_body(
                TEAM, user, channel, text_, response_url=slack.hook_url(f"{TEAM}/cmd/{i}"))
            return Req("command", body, ctype)

        # Warm-up, not counted: help commands, and replies in threads that hold no session
        # (each server's first requests of a kind pay one-time costs: imports, caches).
        warmup = [command("help") for _ in range(2 * conc)]
        for i in range(2 * conc):
            body, ctype = event_body(TEAM, {
                "type": "message", "channel": channels[i % len(channels)], "user": users[0],
                "text": "warm-up", "ts": f"1600000000.{i:06d}", "thread_ts": "1600000000.000000",
                "channel_type": "channel"})
            warmup.append(Req("reply", body, ctype))
        load.run(side_by_side(warmup))

        # Phase 1: commands, each opening a session.
        commands = [command(f"Bench {i}: the VPN drops every few minutes on laptop LT-{i:04d}")
                    for i in range(n)]
        log(f"{n} slash commands at concurrency {conc}, app and floor side by side")
        phase("command", commands)
        opened = wait_for_sessions(engine, n, args.turn_timeout)
        if len(opened) < n:
            log(f"app: only {len(opened)} of {n} commands opened a session")

        # Phase 2: one thread reply per session, while the first turns are with the model.
        replies = []
        for s in opened[:n]:
            text_ = "It happens on Wi-Fi and on the wired dock, since this morning."
            msg = slack.add_message(s.channel, text_, user=s.owner, thread_ts=s.thread_ts)
            body, ctype = event_body(TEAM, {
                "type": "message", "channel": s.channel, "user": s.owner, "text": text_,
                "ts": msg["ts"], "thread_ts": s.thread_ts, "channel_type": "channel",
            })
            replies.append(Req("reply", body, ctype))
        log(f"{len(replies)} thread replies")
        phase("reply", replies)
        stall = max(30.0, 8 * args.model_delay)
        if not wait_for_turns(engine, args.turn_timeout, stall):
            log(f"app: turn inputs still pending or processing: {turn_input_counts(engine)}")

        # Phase 3: one quick-answer click per session, on its newest turn message.
        by_thread: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for message in slack.messages():
            thread = message.get("thread_ts") or message["ts"]
            by_thread[(str(message.get("channel")), str(thread))].append(message)
        clicks, missing = [], 0
        for s in opened[:n]:
            found = newest_answer_button(
                [m for m in by_thread[(s.channel, s.thread_ts)] if m.get("user") == "UFPBOT"])
            if found is None:
                missing += 1
                continue
            message, button = found
            body, ctype = block_action_body(
                TEAM, s.owner, s.channel, str(message["ts"]), str(button["action_id"]),
                str(button["value"]), thread_ts=s.thread_ts, message=message,
                response_url=slack.hook_url(f"{TEAM}/act/{s.owner}"))
            clicks.append(Req("click", body, ctype))
        log(f"{len(clicks)} button clicks ({missing} sessions had no answer button)")
        phase("click", clicks)

        log("app: waiting until every turn is answered")
        timed_out = not wait_for_turns(engine, args.turn_timeout, stall)
        counts = turn_input_counts(engine)
        model_calls = len(model.message_requests)

        # For reference: the floor alone, the same bodies re-signed, once the app is idle.
        alone = Run()
        load.run([Req(r.kind, r.body, r.content_type, "floor") for r in warmup])
        for kind, reqs in (("command", commands), ("reply", replies), ("click", clicks)):
            log(f"floor alone: {len(reqs)} {kind} requests")
            alone.samples += load.run([Req(r.kind, r.body, r.content_type, "floor")
                                       for r in reqs])
        with floor_engine.connect() as conn:
            floor_rows = conn.execute(text(f"SELECT count(*) FROM {FLOOR_TABLE}")).scalar()
        app_log = "\n".join(c.log.read_text(errors="replace") for c in children
                            if c.name in ("app", "worker"))

    # ------------------------------------------------------------------ report
    expected = 3 * n
    answered = counts.get("done", 0)
    a_p99, f_p99 = pct(app.of(None), 99), pct(floor.of(None), 99)
    ratio = a_p99 / f_p99
    over = app.over(ACK_LIMIT)
    bad = app.bad()
    checks = [
        (f"p99 ack under {RATIO_TARGET}x the floor", ratio < RATIO_TARGET,
         f"{ms(a_p99)} ms vs {ms(f_p99)} ms = {ratio:.2f}x"),
        (f"no ack over {ACK_LIMIT:.0f} s (and all 200)", over == 0 and not bad,
         f"{over} over, {len(bad)} non-200"),
        ("every turn answered", answered == expected and not timed_out,
         f"{answered}/{expected}"),
    ]
    cores = os.cpu_count()
    print()
    print("FlowPilot ack latency (issue 3 benchmark)")
    print(f"  {n} requests per kind, concurrency {conc}, model answers after "
          f"{args.model_delay:g} s, FLOWPILOT_WORKERS={args.workers}, work mode {args.work_mode}, waitress threads "
          f"{args.threads}, {db_version}, Python {platform.python_version()}, "
          f"{cores} cores")
    print("  app = flowpilot serve; floor = minimal Bolt app, one INSERT then ack, same stack;")
    if args.side_by_side == "paired":
        print("  side by side: each client sends a request to the app and the same to the floor "
              "at once, and waits for both")
    else:
        print("  side by side (interleaved): each client sends a request to the app, then the "
              "same to the floor")
    # Little's law: requests in flight on average = the time spent in them / the time taken
    # (paired, both get the same requests at once: the slower one holds them longer).
    busy = sum(phase_seconds)
    print(f"  requests in flight on average: app {sum(s.seconds for s in app.samples) / busy:.1f},"
          f" floor {sum(s.seconds for s in floor.samples) / busy:.1f} (of {conc} clients)")
    print("  latency in ms, client side (request written -> response read), nearest-rank")
    print()
    for line in table(app, floor):
        print("  " + line)
    print()
    a_alone = pct(alone.of(None), 99)
    print("  for reference, the floor alone on an idle machine (after the app's work): "
          + ", ".join(f"{k} p50 {ms(pct(alone.of(k), 50))} / p99 {ms(pct(alone.of(k), 99))}"
                      for k in KINDS)
          + f"; all p99 {ms(a_alone)} ms (app p99 / this = {a_p99 / a_alone:.2f}x)")
    if cpu:
        print("  server CPU per ack during the side-by-side phases (ms, /proc): " + "; ".join(
            f"{k} app {cpu[k].get('app', math.nan) / max(1, len(app.of(k))):.2f} / floor "
            f"{cpu[k].get('floor', math.nan) / max(1, len(floor.of(k))):.2f}"
            + (f" (worker {cpu[k]['worker']:.0f} ms in the phase)" if "worker" in cpu[k] else "")
            for k in KINDS if k in cpu))
    print()
    print(f"  acks over {ACK_LIMIT:.0f} s: app {over}, floor {floor.over(ACK_LIMIT)}; "
          f"non-200 acks: app {len(bad)}, floor {len(floor.bad())}")
    for sample in bad[:5]:
        print(f"    app {sample.kind}: status {sample.status} {sample.error}")
    states = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    print(f"  turns answered: {answered}/{expected} (turn inputs by status: {states or 'none'}"
          f"{'; gave up waiting' if timed_out else ''}); model calls {model_calls}; "
          f"clicks without a button {missing}; floor rows {floor_rows}")
    errors = sum(1 for line in app_log.splitlines() if " ERROR " in line)
    locked = app_log.count("database is locked")
    print(f"  app log (with its worker's): {errors} ERROR lines, {locked} 'database is locked'")
    print()
    for name, ok, detail in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {detail}")
    verdict = all(ok for _, ok, _ in checks)
    print(f"  {'PASS' if verdict else 'FAIL'}  overall ({time.monotonic() - started:.0f} s)")
    if verdict:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"  the servers' logs are kept in {workdir}")
    return 0 if verdict else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=150, help="requests per kind (default 150)")
    p.add_argument("--side-by-side", choices=("paired", "interleaved"), default="paired",
                   help="paired: each client sends to both servers at once (default); "
                        "interleaved: to the app, then to the floor")
    p.add_argument("--concurrency", type=int, default=16, help="client threads (default 16)")
    p.add_argument("--model-delay", type=float, default=2.0, help="seconds per model answer")
    p.add_argument("--workers", type=int, default=64, help="FLOWPILOT_WORKERS for the app")
    p.add_argument("--work-mode", choices=("queue", "inline", "thread"), default="queue",
                   help="queue: serve + a `flowpilot scheduler` worker process (PostgreSQL); "
                        "inline (the default of flowpilot serve): serve starts its own worker "
                        "process for turns; thread: turns on serve's own threads")
    p.add_argument("--db", choices=("postgres", "sqlite"), default="postgres",
                   help="the app's database (sqlite: a file in the run's temporary directory)")
    p.add_argument("--threads", type=int, default=32,
                   help="waitress threads for the floor (flowpilot serve uses 32)")
    p.add_argument("--turn-timeout", type=float, default=180.0,
                   help="seconds to wait for sessions and turns (each wait)")
    p.add_argument("--pg-url", default=os.environ.get("FLOWPILOT_BENCH_PG_URL", DEFAULT_PG),
                   help="admin URL of a PostgreSQL that may CREATE DATABASE")
    p.add_argument("--serve-floor", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--load-client", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--db-url", help=argparse.SUPPRESS)
    p.add_argument("--slack-url", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve_floor:
        serve_floor(args.port, args.db_url, args.slack_url, args.threads)
        return 0
    if args.load_client:
        load_client(args.concurrency)
        return 0
    if args.db == "sqlite" and args.work_mode == "queue":
        p.error("--work-mode queue needs PostgreSQL (use --work-mode inline or thread)")
    try:
        return benchmark(args)
    except (RuntimeError, TimeoutError, OSError) as exc:
        print(f"ack_latency: could not run: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # e.g. PostgreSQL unreachable
        if exc.__class__.__module__.startswith(("sqlalchemy", "psycopg")):
            print(f"ack_latency: database error: {exc.__class__.__name__}: {exc}",
                  file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
