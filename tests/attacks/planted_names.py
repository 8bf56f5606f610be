"""A report directory shared with another user, who plants things at every
name we use: symlinks to a root-only 0600 file, FIFOs and 0666 files at the
temporary and final names a writer predictably uses (the .txt temporary is
predictable once the .json twin appears), during the writing too, and fake
reports with our header for retention to delete. Counts what got through:
a written-through victim file, a stop that hangs, a report that is not ours
(owner, mode), a planted file deleted."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List

from .other_user import OtherUser

VICTIM = Path(__file__).with_name("victim.py")

# Runs as the other user: polls the directory and, for every twin that
# appears, plants a link to the victim file, a FIFO and a 0666 file at the
# names the text report's writer would use next (the old predictable
# temporary name, and the final name).
PLANTER = textwrap.dedent("""
    import os, sys, time
    directory, victim, pid, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    seen = set()
    end = time.monotonic() + seconds
    kinds = ["link", "fifo", "file"]
    n = 0
    while time.monotonic() < end:
        try:
            names = os.listdir(directory)
        except OSError:
            break
        for name in names:
            if not (name.startswith("stacktrace-") and name.endswith(".json")) or name in seen:
                continue
            seen.add(name)
            stem = name[:-5]
            for target in ("." + stem + ".txt." + pid + ".tmp", stem + ".txt"):
                path = os.path.join(directory, target)
                kind = kinds[n % 3]
                n += 1
                try:
                    if kind == "link":
                        os.symlink(victim, path)
                    elif kind == "fifo":
                        os.mkfifo(path, 0o666)
                    else:
                        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                        os.write(fd, b"planted")
                        os.close(fd)
                        os.chmod(path, 0o666)
                except OSError:
                    pass
        time.sleep(0.0005)
    print(n)
""")

FAKE_REPORT = b"# aiowatchdog hang report (schema 1)\n# planted by another user\n"


@dataclass
class PlantedResult:
    written_through: int = 0        # the victim file changed
    stop_hung: int = 0              # the program did not finish (stop_wait hung)
    foreign_reports: int = 0        # a report we listed that is not ours, 0600
    planted_deleted: int = 0        # another user's file removed by retention
    planted: int = 0                # things planted
    reports: int = 0                # reports written
    failures: List[str] = field(default_factory=list)


def attack_shared_directory(user: OtherUser, base: str, rounds: int = 3,
                            block_s: float = 2.0) -> PlantedResult:
    """A root-owned sticky (1777, like /tmp) directory, allowed; the other
    user plants while the victim writes reports, and plants fake reports
    that max_reports=1 would prune if retention trusted names."""
    result = PlantedResult()
    victim_file = os.path.join(base, "root-only-secret")
    with open(victim_file, "wb") as f:
        f.write(b"secret")
    os.chmod(victim_file, 0o600)
    for round_ in range(rounds):
        directory = os.path.join(base, f"shared-{round_}")
        os.mkdir(directory)
        os.chmod(directory, 0o1777)
        # Fake reports with our header, the other user's, older than ours.
        fakes = [os.path.join(directory, f"stacktrace-20200101-00000{i}.000000-0.txt")
                 for i in range(3)]
        for fake in fakes:
            user.run(["python", "-c",
                      f"open({fake!r}, 'wb').write({FAKE_REPORT!r})"], check=True)
        proc = subprocess.Popen(
            [sys.executable, str(VICTIM), directory, "--scenario", "block",
             "--seconds", str(block_s), "--interval", "0.1", "--samples", "8",
             "--delay", "0.3", "--max-reports", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        planter = user.popen(["python", "-c", PLANTER, directory, victim_file,
                              str(ready["pid"]), str(block_s + 1.0)],
                             stdout=subprocess.PIPE, text=True)
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            result.stop_hung += 1
        planted_out, _ = planter.communicate(timeout=30)
        result.planted += int(planted_out.strip() or 0)
        if proc.returncode != 0:
            result.failures.append(err[-2000:])
        with open(victim_file, "rb") as f:
            if f.read() != b"secret":
                result.written_through += 1
        for fake in fakes:
            if not os.path.lexists(fake):
                result.planted_deleted += 1
        done = [json.loads(line) for line in out.splitlines() if '"done"' in line]
        for line in (done[0]["warnings"] if done else []):
            for path in _report_paths(line):
                st = os.lstat(path) if os.path.lexists(path) else None
                if st is None:
                    continue  # pruned since
                result.reports += 1
                if (not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid()
                        or stat.S_IMODE(st.st_mode) != 0o600):
                    result.foreign_reports += 1
    return result


def _report_paths(warning: str) -> List[str]:
    for line in warning.splitlines():
        if line.startswith("reports: "):
            return line[len("reports: "):].split(", ")
    return []
