"""A real second user, for attacks on a report directory shared with, or
prepared by, someone else. Only root can make one (useradd); everything
else skips. The user is removed by `remove()`."""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from typing import List, Optional


@dataclass
class OtherUser:
    name: str
    uid: int
    gid: int

    def run(self, argv: List[str], **kwargs) -> subprocess.CompletedProcess:
        """Runs argv as this user (real and effective ids, no groups of ours),
        from /. `python` in argv[0] is the system's interpreter: ours may
        live where this user cannot read."""
        return subprocess.run(self._argv(argv), user=self.uid, group=self.gid, extra_groups=[],
                              cwd="/", **kwargs)

    def popen(self, argv: List[str], **kwargs) -> subprocess.Popen:
        return subprocess.Popen(self._argv(argv), user=self.uid, group=self.gid,
                                extra_groups=[], cwd="/", **kwargs)

    @staticmethod
    def _argv(argv: List[str]) -> List[str]:
        return [SYSTEM_PYTHON if argv[0] == "python" else argv[0], *argv[1:]]

    def remove(self) -> None:
        subprocess.run(["userdel", self.name], capture_output=True)


SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin") or "/usr/bin/python3"


def why_not() -> Optional[str]:
    """Why no other user can be made here, or None."""
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return "no system python3 for the other user"
    if os.geteuid() != 0:
        return "needs root to create a second user"
    if shutil.which("useradd") is None or shutil.which("userdel") is None:
        return "useradd/userdel not installed"
    return None


def create() -> OtherUser:
    name = "awd" + uuid.uuid4().hex[:8]
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    "--user-group", name], check=True, capture_output=True)
    entry = pwd.getpwnam(name)
    return OtherUser(name, entry.pw_uid, entry.pw_gid)
