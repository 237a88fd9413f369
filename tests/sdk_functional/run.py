"""Run openstacksdk's own functional network tests against the all-in-one behind Keystone.

`make sdk-functional` (or `.venv/bin/python -m tests.sdk_functional.run [pytest args]`):

1. a real Keystone (tests/keystone) with the projects and users devstack has: `demo`
   (member of demo), `alt_demo` (member of alt_demo), `admin` (admin, also system-scoped)
   and a `neutron` service user; the `network` endpoint points at the API below;
2. the all-in-one exactly as `netledger up --detach` starts it, in a private var dir with
   its own API and NATS ports and `auth_strategy = "keystone"`;
3. a clouds.yaml with the `devstack`, `devstack-alt`, `devstack-admin` and
   `devstack-system-admin` clouds the suite expects;
4. pytest over `openstack/tests/functional/network/v2` of the installed wheel, each test
   bounded in time; then a per-file passed/failed/skipped table, written to
   `var/sdk-functional/summary.txt` (with the JUnit XML beside it) and printed.

A failure is a netledger bug unless the test needs something no deployment here has
(compute, BGP, SFC, ...); the summary lists each failure's first line so it can be read.
Everything started is stopped, by pid, at the end.
"""

from __future__ import annotations

import collections
import os
import shutil
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import openstack

from tests.keystone import fixture as ksfix
from tests.keystone.allinone import keystone_allinone

ROOT = Path(__file__).resolve().parents[2]
SUITE = Path(openstack.__file__).parent / "tests" / "functional" / "network" / "v2"
OUT = ROOT / "var" / "sdk-functional"
PASSWORD = "secret-" + uuid.uuid4().hex[:8]
PER_TEST_TIMEOUT = int(os.environ.get("SDK_FUNC_TEST_TIMEOUT", "120"))


def log(msg: str) -> None:
    print(f"[sdk-functional {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def clouds_yaml(ks_url: str) -> str:
    def cloud(name: str, user: str, password: str, scope: str) -> str:
        return (f"  {name}:\n    auth_type: password\n    auth:\n      auth_url: {ks_url}/v3\n"
                f"      username: {user}\n      password: {password}\n      user_domain_name: Default\n"
                f"{scope}    region_name: RegionOne\n    identity_api_version: 3\n")
    project = "      project_name: {0}\n      project_domain_name: Default\n"
    return "clouds:\n" + "".join([
        cloud("devstack", "demo", PASSWORD, project.format("demo")),
        cloud("devstack-alt", "alt_demo", PASSWORD, project.format("alt_demo")),
        cloud("devstack-admin", "admin", ksfix.ADMIN_PASSWORD, project.format("admin")),
        cloud("devstack-system-admin", "admin", ksfix.ADMIN_PASSWORD, "      system_scope: all\n"),
    ])


def run_suite(clouds: str, extra: list[str]) -> int:
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": clouds, "OPENSTACKSDK_FUNC_TEST_TIMEOUT": "60"}
    env.pop("OS_CLOUD", None)
    cmd = [sys.executable, "-m", "pytest", str(SUITE), "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
           f"--timeout={PER_TEST_TIMEOUT}", f"--junitxml={OUT / 'junit.xml'}", "-o", "addopts=",
           "--rootdir", str(SUITE), *extra]
    log("running " + " ".join(cmd[3:]))
    with open(OUT / "pytest.log", "w") as out:
        return subprocess.run(cmd, check=False, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=str(OUT)).returncode


def _reason(text: str) -> str:
    """The exception line of a testtools traceback (its first lines are boilerplate)."""
    lines = [ln.strip() for ln in text.splitlines() if ("Exception" in ln or "Error" in ln)
             and "Incompatible Exception Representation" not in ln and "_StringException" not in ln]
    lines = lines or text.strip().splitlines() or [""]
    return lines[-1][:240]


def summarise() -> str:
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    failures: list[str] = []
    skips: collections.Counter = collections.Counter()
    for case in ET.parse(OUT / "junit.xml").getroot().iter("testcase"):
        module = case.get("classname", "").rsplit(".", 1)[0].rsplit(".", 1)[-1]
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
                failures.append(f"{case.get('classname')}.{case.get('name')}: {_reason(child.text or '')}")
            elif child.tag == "skipped":
                outcome = "skipped"
                skips[(child.get("message") or "").strip()[:160]] += 1
        counts[module][outcome] += 1
    total = sum(counts.values(), collections.Counter())
    lines = [f"{'module':45} {'passed':>6} {'failed':>6} {'skipped':>7}"]
    lines += [f"{m:45} {c['passed']:6} {c['failed']:6} {c['skipped']:7}" for m, c in sorted(counts.items())]
    lines += ["", f"total: {total['passed']} passed, {total['failed']} failed, {total['skipped']} skipped", "",
              "failures:", *failures, "", "skip reasons:", *(f"{n:4} {why}" for why, n in skips.most_common())]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    log("starting Keystone and the all-in-one")
    dataplane = os.environ.get("SDK_FUNC_DATAPLANE", "1") != "0"
    with keystone_allinone(password=PASSWORD, projects={"demo": "demo", "alt_demo": "alt_demo"},
                           dataplane=dataplane) as aio:
        log(f"all-in-one at {aio.api_url} (var {aio.var}, dataplane {dataplane})")
        clouds = OUT / "clouds.yaml"
        clouds.write_text(clouds_yaml(aio.keystone.url))
        started = time.monotonic()
        run_suite(str(clouds), argv)
        log(f"suite took {time.monotonic() - started:.0f} s")
    summary = summarise()
    (OUT / "summary.txt").write_text(summary)
    sys.stdout.write(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
