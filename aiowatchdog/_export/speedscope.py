"""speedscope's JSON file format (https://www.speedscope.app/file-format-schema.json):
one "sampled" profile in milliseconds, each sample a stack of indexes into
the shared frame table (outermost first) with its blocked time as weight. A
frame is its name, file and line: one function's lines are separate frames,
as in the reports.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Sequence, Tuple

from . import WeightedStack, frame_label, frame_name

SCHEMA_URL = "https://www.speedscope.app/file-format-schema.json"


def _exporter() -> str:
    try:
        from importlib.metadata import version

        return f"aiowatchdog {version('aiowatchdog')}"
    except Exception:  # not installed (a source tree on PYTHONPATH)
        return "aiowatchdog"


def render(stacks: Sequence[WeightedStack], title: str) -> str:
    frames: List[Dict[str, Any]] = []
    index: Dict[Tuple[str, str, Any], int] = {}
    samples: List[List[int]] = []
    weights: List[float] = []
    for stack in stacks:
        sample = []
        for frame in stack.frames:
            # Python frames: the function, with file and line in their own
            # fields; native ones carry their library in the name.
            name = frame_name(frame) if frame["kind"] == "python" else frame_label(frame)
            key = (name, frame["file"], frame["line"])
            if key not in index:
                index[key] = len(frames)
                entry: Dict[str, Any] = {"name": name}
                if frame["file"]:
                    entry["file"] = frame["file"]
                if frame["line"] is not None:
                    entry["line"] = frame["line"]
                frames.append(entry)
            sample.append(index[key])
        samples.append(sample)
        weights.append(round(stack.weight_ms, 3))
    document = {
        "$schema": SCHEMA_URL,
        "shared": {"frames": frames},
        "profiles": [{
            "type": "sampled",
            "name": title,
            "unit": "milliseconds",
            "startValue": 0,
            "endValue": round(sum(weights), 3),
            "samples": samples,
            "weights": weights,
        }],
        "name": title,
        "activeProfileIndex": 0,
        "exporter": _exporter(),
    }
    return json.dumps(document, ensure_ascii=False) + "\n"
