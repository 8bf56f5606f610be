"""The exporters of `report --format` (aiowatchdog/_export) on stacks of
every shape hypothesis can think of (names with ';', spaces, line breaks and
any Unicode, recursion, shared prefixes, native frames without a symbol):
each format parses back, by a reader written apart from the writer, with the
stacks and the blocked time it was given."""
from __future__ import annotations

import json
from collections import Counter

import pytest
from fuzz_scale import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from aiowatchdog._export import RENDERERS, WeightedStack, frame_label, frame_name
from callgrind_parser import parse_callgrind
from speedscope_schema import validate_speedscope

PROPERTY = settings(max_examples=examples(60), deadline=None)


def python_frame(function, file="/srv/app/x.py", line=1):
    return {"kind": "python", "file": file, "line": line, "function": function, "source": ""}


def native_frame(function, file="/lib/libc.so.6"):
    return {"kind": "native", "file": file, "line": None, "function": function, "source": ""}


names = st.text(min_size=0, max_size=12)
frames = st.one_of(
    st.builds(python_frame, names,
              st.sampled_from(["/srv/app/x.py", "/usr/lib/python3.11/json/decoder.py",
                               "/v/lib/python3.12/site-packages/a b/c;d.py", "<frozen runpy>"]),
              st.one_of(st.none(), st.integers(0, 10**6))),
    st.builds(native_frame, st.one_of(names, st.just("0x7f00deadbeef")),
              st.sampled_from(["/lib/libc.so.6", "/lib/libc.so.6 + 0x27249", ""])),
)
stacks = st.lists(
    st.builds(WeightedStack, st.lists(frames, min_size=1, max_size=8).map(tuple),
              st.floats(0.001, 5000.0)),
    max_size=12,
).map(lambda s: s + [WeightedStack(s[0].frames[:1], 7.0)] if s else s)  # a shared prefix


def total_ms(given):
    return sum(s.weight_ms for s in given)


@PROPERTY
@given(stacks)
def test_collapsed_parses_back(given_stacks):
    text = RENDERERS["collapsed"](given_stacks, "t")
    parsed = Counter()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        assert count.isdigit() and int(count) >= 1
        parsed[tuple(stack.split(";"))] += int(count)
    expected = Counter()
    for s in given_stacks:
        expected[tuple(frame_label(f).replace(";", ",") for f in s.frames)] += s.weight_ms
    assert set(parsed) == set(expected)
    for key, weight in expected.items():
        assert parsed[key] == max(1, round(weight))


@PROPERTY
@given(stacks)
def test_speedscope_validates_and_keeps_every_stack(given_stacks):
    document = json.loads(RENDERERS["speedscope"](given_stacks, "title ; x"))
    validate_speedscope(document)
    profile = document["profiles"][0]
    assert profile["unit"] == "milliseconds" and document["name"] == "title ; x"
    table = document["shared"]["frames"]
    for sample, weight, original in zip(profile["samples"], profile["weights"], given_stacks):
        assert len(sample) == len(original.frames)
        for index, frame in zip(sample, original.frames):
            assert frame_name(frame) in table[index]["name"]
            assert table[index].get("line") == frame["line"]
        assert weight == pytest.approx(original.weight_ms, abs=0.001)
    assert profile["endValue"] == pytest.approx(total_ms(given_stacks), abs=0.001 * (len(given_stacks) + 1))


@PROPERTY
@given(stacks)
def test_callgrind_parses_with_consistent_costs(given_stacks):
    profile = parse_callgrind(RENDERERS["callgrind"](given_stacks, "title\nwith a break"))
    assert profile.events == ["us"]
    expected = sum(max(1, round(s.weight_ms * 1000)) for s in given_stacks)
    assert profile.summary == profile.totals == sum(profile.self_cost.values()) == expected
    # The leaf of every stack carries its cost as self cost.
    leaves = Counter()
    for s in given_stacks:
        leaves[" ".join(frame_name(s.frames[-1]).splitlines()) or "?"] += max(1, round(s.weight_ms * 1000))
    assert dict(leaves) == {k: v for k, v in profile.self_cost.items() if v}


def test_callgrind_inclusive_cost_of_the_root_is_the_total():
    main = python_frame("main", line=10)
    work, tax = python_frame("work", line=20), python_frame("tax", line=30)
    given_stacks = [WeightedStack((main, work, tax), 3.0), WeightedStack((main, work), 1.0),
                    WeightedStack((main, native_frame("0x7f00", "/lib/libc.so.6 + 0x10")), 2.0)]
    profile = parse_callgrind(RENDERERS["callgrind"](given_stacks, "t"))
    assert profile.inclusive(("/srv/app/x.py", "main")) == 6000
    assert profile.inclusive(("/srv/app/x.py", "work")) == 4000
    assert profile.self_cost["libc.so.6 + 0x10"] == 2000  # unresolved: library + offset
    assert profile.calls[(("/srv/app/x.py", "main"), ("/srv/app/x.py", "work"))] == [2, 4000]


@pytest.mark.parametrize("fmt", sorted(RENDERERS))
def test_no_stacks_is_a_valid_empty_file(fmt):
    text = RENDERERS[fmt]([], "nothing")
    if fmt == "collapsed":
        assert text == ""
    elif fmt == "speedscope":
        validate_speedscope(json.loads(text))
    else:
        assert parse_callgrind(text).summary == 0


def test_labels_are_one_line_and_stable_across_processes():
    assert frame_label(python_frame("f\nx", "/usr/lib/python3.11/json/decoder.py", 3)) == \
        "f x (<stdlib>/json/decoder.py:3)"
    assert frame_label(native_frame("0x7f1234", "/lib/libc.so.6 + 0x27249")) == \
        "libc.so.6 + 0x27249 [libc.so.6]"
    assert frame_label(native_frame("time_sleep", "/usr/lib/libpython3.11.so.1.0")) == \
        "time_sleep [libpython3.11.so.1.0]"
