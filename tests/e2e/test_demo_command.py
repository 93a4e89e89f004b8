"""The README's demo command, started for real on SQLite in a temp dir, then used over HTTP."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The first test pays for the demo's start: install checks, migrations, analyses, a tiny training
# run and two evaluations, on a CPU that the rest of the suite may be sharing.
pytestmark = [pytest.mark.demo, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[dict]:  # type: ignore[no-untyped-def]
    data_dir = tmp_path_factory.mktemp("demo")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKBENCH_", "DJANGO_"))}
    env.update(PORT=str(port), WORKBENCH_DATA_DIR=str(data_dir))
    process = subprocess.Popen(
        ["bash", "scripts/demo.sh"],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    lines: list[str] = []
    url = None
    deadline = time.monotonic() + 600  # a fresh machine installs packages first
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        match = re.search(r"running at (http://\S+/)", line)
        if match:
            url = match.group(1)
            url_at = time.monotonic()
            break
    try:
        assert url, "the demo never printed its URL:\n" + "".join(lines)
        passwords = dict(
            re.findall(r"^\s+(\w+)\s+(\S+)\s+(?:expert|admin|auditor)$", "".join(lines), re.M)
        )
        yield {
            "url": url,
            "url_at": url_at,
            "passwords": passwords,
            "data_dir": data_dir,
            "output": "".join(lines),
        }
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            # The worker's warm shutdown waits for the task it is running (the long suite's
            # analysis, a training run); nothing reads the demo after this, so no long grace.
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _browser() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )


def _login(opener, base: str, username: str, password: str) -> str:  # type: ignore[no-untyped-def]
    form = opener.open(base + "accounts/login/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    data = urllib.parse.urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": token, "next": "/"}
    ).encode()
    request = urllib.request.Request(base + "accounts/login/", data=data, headers={"Referer": base})
    return opener.open(request).read().decode()


def test_lena_finds_the_waveform_and_the_analysis_in_her_review_right_after_start(demo) -> None:  # type: ignore[no-untyped-def]
    # The first test after start-up, so it runs within the minute after the URL was printed:
    # the worker's copy of an analysis the seed ran must not send the row back to running.
    opener = _browser()
    _login(opener, demo["url"], "lena", demo["passwords"]["lena"])
    assert time.monotonic() - demo["url_at"] < 60, "the check must run in the first minute"
    queue = opener.open(demo["url"] + "review/").read().decode()
    link = re.search(r'<a href="(/reviews/\d+/)" data-testid="draft-link">', queue)
    assert link, queue
    page = opener.open(demo["url"] + link.group(1).lstrip("/")).read().decode()
    assert "data-waveform" in page, "no waveform: the analysis is not there"
    for field in ("tempo_bpm", "key", "meter"):
        row = re.search(rf'id="meta-row-{field}".*?</tr>', page, re.S)
        assert row and re.search(r"<span data-analysis>[^<]+</span>", row.group(0)), field
    # The start-up backlog (the 21-minute suite's analysis, then the GRPO run) is on the home page.
    home = _login(_browser(), demo["url"], "ada", demo["passwords"]["ada"])
    work = re.search(r'data-testid="work-in-progress">(.*?)</p>', home, re.S)
    assert work and "training run" in work.group(1), home[-2000:]


def test_the_console_shows_the_demos_progress_not_library_noise(demo) -> None:  # type: ignore[no-untyped-def]
    output = demo["output"]
    for noise in ("Warning", "warnings.warn", "it/s]", "{'loss'", " INFO ", "Traceback"):
        assert noise not in output, f"{noise!r} on the demo's console:\n{output}"
    assert "Trained Supervised fine-tuning #1: succeeded" in output
    assert "'loss'" in (demo["data_dir"] / "seed.log").read_text(), "the trainer's lines went away"


def test_the_demo_prints_a_user_for_each_role(demo) -> None:  # type: ignore[no-untyped-def]
    for role in ("expert", "admin", "auditor"):
        assert re.search(rf"^\s+\w+\s+\S+\s+{role}$", demo["output"], re.M), demo["output"]
    assert (demo["data_dir"] / "workbench.sqlite3").exists()


def test_an_expert_logs_in_over_http(demo) -> None:  # type: ignore[no-untyped-def]
    page = _login(_browser(), demo["url"], "maya", demo["passwords"]["maya"])
    assert "Welcome, maya" in page
    assert "Your reviews" in page


def test_a_wrong_password_is_refused(demo) -> None:  # type: ignore[no-untyped-def]
    page = _login(_browser(), demo["url"], "maya", "not-the-password")
    assert "didn't match" in page


def test_the_demo_worker_analyses_the_demo_songs(demo) -> None:  # type: ignore[no-untyped-def]
    opener = _browser()
    _login(opener, demo["url"], "ada", demo["passwords"]["ada"])
    deadline = time.monotonic() + 300  # four songs, one of 21 minutes, on the demo's one worker
    page = ""
    while time.monotonic() < deadline:
        page = opener.open(demo["url"] + "songs/").read().decode()
        if "<td>Waiting for analysis</td>" not in page:
            break
        time.sleep(2)
    assert "Demo waltz in G major" in page
    assert "<td>Waiting for analysis</td>" not in page, "the demo's worker never analysed"
    assert "<td>Analysis failed</td>" not in page
    assert "flac · 22050 Hz · 2 ch" in page
    links = {
        title: href for href, title in re.findall(r'<a href="(/songs/\d+/)">([^<]+)</a>', page)
    }
    waltz = opener.open(demo["url"] + links["Demo waltz in G major"].lstrip("/")).read().decode()
    assert re.search(r'data-testid="fact-tempo">\d+\.\d BPM', waltz)
    assert 'data-status="succeeded"' in waltz
    suite = links["Demo long-form suite in E minor (21 minutes)"]
    long_page = opener.open(demo["url"] + suite.lstrip("/")).read().decode()
    assert "Music Flamingo hears 0:00–20:00 of 21:00" in long_page


def test_lena_finds_her_demo_review_in_progress(demo) -> None:  # type: ignore[no-untyped-def]
    opener = _browser()
    _login(opener, demo["url"], "lena", demo["passwords"]["lena"])
    queue = opener.open(demo["url"] + "review/").read().decode()
    link = re.search(r'<a href="(/reviews/\d+/)" data-testid="draft-link">', queue)
    assert link, queue
    page = opener.open(demo["url"] + link.group(1).lstrip("/")).read().decode()
    # The two seeded flags (the confirmed tempo hint, the key) are on the page, quoted.
    flags = dict(re.findall(r'data-category="([a-z-]+)".*?data-flag-go[^>]*>“([^”]+)”', page, re.S))
    assert flags == {"wrong-tempo-meter": "140 BPM", "wrong-key-mode": "C major"}, flags
    # Another expert does not even learn that Lena's draft exists (blind review).
    other = _browser()
    _login(other, demo["url"], "maya", demo["passwords"]["maya"])
    try:
        other.open(demo["url"] + link.group(1).lstrip("/"))
        raise AssertionError("maya could open lena's draft")
    except urllib.error.HTTPError as refused:
        assert refused.code == 404


def test_the_auditor_finds_the_demo_rewards(demo) -> None:  # type: ignore[no-untyped-def]
    opener = _browser()
    _login(opener, demo["url"], "ravi", demo["passwords"]["ravi"])
    overview = opener.open(demo["url"] + "rewards/").read().decode()
    rows = set(re.findall(r'<tr data-version="[^"]+" data-function="([a-z_:.\-\d]+)"', overview))
    assert {
        "format",
        "accuracy",
        "structured_thinking",
        "hallucination_penalty",
        "step_validity",
        "preference",
    } <= rows, overview[-3000:]
    # The waltz sample's breakdown: the genres the two experts did not agree on, and the flags.
    songs = opener.open(demo["url"] + "songs/").read().decode()
    waltz_song = re.search(r'<a href="/songs/(\d+)/">Demo waltz in G major</a>', songs)
    assert waltz_song, songs[-2000:]
    generations = (
        opener.open(demo["url"] + f"generations/?song={waltz_song.group(1)}").read().decode()
    )
    ids = [int(i) for i in re.findall(r'href="/generations/(\d+)/"', generations)]
    pages = {i: opener.open(demo["url"] + f"generations/{i}/rewards/").read().decode() for i in ids}
    waltz = [p for p in pages.values() if 'data-status="no_agreement"' in p]
    assert waltz, "no breakdown shows the experts' disagreement"
    assert "Flags that cost it" in waltz[0] and "“C major”" in waltz[0]


def test_the_admin_finds_the_demo_retraining(demo) -> None:  # type: ignore[no-untyped-def]
    opener = _browser()
    _login(opener, demo["url"], "ada", demo["passwords"]["ada"])
    datasets = opener.open(demo["url"] + "datasets/").read().decode()
    assert "demo-feedback-v1" in datasets and "frozen" in datasets, datasets[-2000:]
    runs = opener.open(demo["url"] + "training/").read().decode()
    run_ids = sorted({int(pk) for pk in re.findall(r'href="/training/(\d+)/"', runs)})
    assert len(run_ids) == 2, runs[-3000:]
    # The SFT run trained during the seed; its streamed history comes back from the database.
    sft = json.loads(opener.open(demo["url"] + f"training/{run_ids[0]}/metrics.json").read())
    assert sft["status"] == "succeeded" and sft["step"] == sft["total_steps"] == 4, sft
    assert [p["step"] for p in sft["points"]] == [1, 2, 3, 4]
    assert all("loss" in p["values"] and "learning_rate" in p["values"] for p in sft["points"])
    # The GRPO run was queued for the demo's worker, which trains it with the paper's rewards.
    deadline = time.monotonic() + 240
    while True:
        grpo = json.loads(opener.open(demo["url"] + f"training/{run_ids[1]}/metrics.json").read())
        if grpo["status"] not in ("queued", "running") or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert grpo["status"] == "succeeded", grpo
    assert any("reward/format" in p["values"] for p in grpo["points"]), grpo["points"][:2]
    # The SFT version sits under its parent, with its evaluation beside the parent's.
    models = opener.open(demo["url"] + "models/").read().decode()
    version = re.search(
        r'href="/models/(\d+)/">(?:<strong>)?tiny-random-flamingo \(demo\)-sft-', models
    )
    assert version, models[-3000:]
    page = opener.open(demo["url"] + f"models/{version.group(1)}/").read().decode()
    assert "Evaluations against tiny-random-flamingo (demo)" in page
    assert 'data-metric="reward/format"' in page and 'data-metric="format_compliance"' in page


def test_the_auditor_drills_down_to_a_flagged_second_in_the_demo(demo) -> None:  # type: ignore[no-untyped-def]
    opener = _browser()
    _login(opener, demo["url"], "ravi", demo["passwords"]["ravi"])
    rates = opener.open(demo["url"] + "audit/?group_by=category").read().decode()
    assert "Instrument not present" in rates, rates[-2000:]
    spans = opener.open(demo["url"] + "audit/spans/").read().decode()
    links = re.findall(r'href="(/reviews/\d+/#t=4)"', spans)
    assert links, spans[-3000:]
    review = opener.open(demo["url"] + links[0].lstrip("/")).read().decode()
    assert "acoustic guitar" in review


def test_every_start_up_request_was_delivered_once_and_ran_once(demo) -> None:  # type: ignore[no-untyped-def]
    # Last: it waits for the start-up backlog to finish (the home page's panel goes away).
    opener = _browser()
    home = _login(opener, demo["url"], "ada", demo["passwords"]["ada"])
    deadline = time.monotonic() + 300
    while 'data-testid="work-in-progress"' in home and time.monotonic() < deadline:
        time.sleep(2)
        home = opener.open(demo["url"]).read().decode()
    assert 'data-testid="work-in-progress"' not in home, home[-2000:]
    logs = {
        name: (demo["data_dir"] / name).read_text()
        for name in ("seed.log", "celery.log", "celery-background.log")
    }
    workers = logs["celery.log"] + logs["celery-background.log"]
    # The seed's backlog went to the background worker, beside the one people's work goes to.
    for task in ("workers.audio.analyse_song", "workers.training.run_training"):
        assert f"Task {task}[" in logs["celery-background.log"], task
    received = Counter(re.findall(r"Task [\w.]+\[([0-9a-f-]+)\] received", workers))
    assert received and set(received.values()) == {1}, received
    # Rows claimed by the seed (inline) or a worker: each one exactly once, all start-up songs'
    # analyses among them.
    claims: Counter[tuple[str, str]] = Counter()
    for model, pks in re.findall(r": claimed (\w+) ([\d,]+)", "".join(logs.values())):
        claims.update((model, pk) for pk in pks.split(","))
    assert {pk for model, pk in claims if model == "songanalysis"} == {"1", "2", "3", "4"}
    assert set(claims.values()) == {1}, [row for row, count in claims.items() if count > 1]
    messages = Counter(re.findall(r"task ([0-9a-f-]+): claimed message", workers))
    assert messages and set(messages.values()) == {1}, messages
