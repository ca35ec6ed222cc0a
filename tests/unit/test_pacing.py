"""The per-webhook pacer: one post a second per hook, Retry-After honoured, and no waiting beyond that."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.notifier.domain.pacing import Pacer

EPS = 1e-9


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def test_first_post_goes_at_once_then_one_a_second() -> None:
    clock = Clock()
    pacer = Pacer(clock)
    assert pacer.wait_s("a") == 0.0
    pacer.sent("a")
    assert pacer.wait_s("a") == pytest.approx(1.0)
    clock.now += 0.25
    assert pacer.wait_s("a") == pytest.approx(0.75)
    assert pacer.wait_s("b") == 0.0  # another webhook is not held back
    clock.now += 0.75
    assert pacer.wait_s("a") == 0.0


def test_retry_after_holds_the_hook_and_a_shorter_one_does_not_shorten_the_interval() -> None:
    clock = Clock()
    pacer = Pacer(clock, min_interval_s=1.0)
    pacer.sent("a")
    pacer.defer("a", 5)
    assert pacer.wait_s("a") == pytest.approx(5.0)
    pacer.sent("b")
    pacer.defer("b", 0.2)
    assert pacer.wait_s("b") == pytest.approx(1.0)
    clock.now += 5
    assert pacer.wait_s("a") == 0.0
    pacer.defer("a", -3)  # a nonsensical Retry-After holds nothing
    assert pacer.wait_s("a") == 0.0


def test_a_negative_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="min_interval_s"):
        Pacer(Clock(), min_interval_s=-1)


HOOKS = st.sampled_from(["a", "b", "c"])
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.floats(0, 3)),
        st.tuples(st.just("send"), HOOKS),
        st.tuples(st.just("defer"), HOOKS, st.floats(0, 5)),
    ),
    max_size=60,
)


@dataclass
class Run:
    """What a sender obeying the pacer did: when each post went and which quiet periods it was given."""

    # hook -> (step, asked at, sent at) and (step, until): steps order what happened at one instant
    sends: dict[str, list[tuple[int, float, float]]] = field(default_factory=dict)
    holds: dict[str, list[tuple[int, float]]] = field(default_factory=dict)


def drive(ops: list[tuple[object, ...]], interval: float) -> Run:
    clock = Clock()
    pacer = Pacer(clock, min_interval_s=interval)
    run = Run()
    for step, op in enumerate(ops):
        if op[0] == "advance":
            clock.now += float(op[1])  # type: ignore[arg-type]
        elif op[0] == "send":
            hook = str(op[1])
            asked = clock.now
            for _ in range(10):  # float rounding may leave a sliver to wait
                wait = pacer.wait_s(hook)
                if wait <= 0:
                    break
                clock.now += wait
            assert pacer.wait_s(hook) == 0
            run.sends.setdefault(hook, []).append((step, asked, clock.now))
            pacer.sent(hook)
        else:
            hook, seconds = str(op[1]), float(op[2])  # type: ignore[arg-type]
            run.holds.setdefault(hook, []).append((step, clock.now + seconds))
            pacer.defer(hook, seconds)
    return run


@settings(max_examples=300, deadline=None)
@given(OPS, st.floats(0, 2))
def test_no_post_too_soon_and_none_later_than_needed(ops: list[tuple[object, ...]], interval: float) -> None:
    run = drive(ops, interval)
    for hook, sends in run.sends.items():
        previous: float | None = None
        for step, asked, sent in sends:
            holds = [until for given_at, until in run.holds.get(hook, []) if given_at < step]
            # Never before the interval since the last post, never inside a Retry-After ...
            if previous is not None:
                assert sent - previous >= interval - EPS
            assert all(sent >= until - EPS for until in holds)
            # ... and no later than the latest of those (or at once).
            earliest = max([asked, *holds, *([previous + interval] if previous is not None else [])])
            assert sent <= earliest + EPS
            previous = sent
