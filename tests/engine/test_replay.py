"""Replay from the journal: Undo and Step back rebuild exactly the earlier state, never cross
a restart, and leave the given lab alone."""
import copy

import numpy as np
import pytest

from engine.labs import replay
from engine.labs.network import NetworkLab
from mathdl_gui import registry  # plain data: importing it loads no Qt
from tests.engine.test_lab_base import Walk


def _twin(steps, *changes):
    """A Walk run to ``steps`` with ``changes`` (callables) applied at the given steps."""
    lab = Walk(seed=2, sigma=0.5)
    for at, change in sorted(changes, key=lambda c: c[0]):
        lab.step(at - lab.step_count)
        change(lab)
    lab.step(steps - lab.step_count)
    return lab


def test_undo_reverts_the_last_change_at_its_step():
    lab = _twin(10, (4, lambda w: w.do_action("jump", to=3.0)),
                (7, lambda w: w.set_param("sigma", 2.0)))
    before = lab.x.copy()
    back = replay.undo(lab)
    ref = _twin(7, (4, lambda w: w.do_action("jump", to=3.0)))
    assert back.step_count == 7 and back.values["sigma"] == 0.5
    np.testing.assert_array_equal(back.x, ref.x)
    assert len(back.journal) == 1
    np.testing.assert_array_equal(lab.x, before)            # the given lab is untouched
    again = replay.undo(back)
    np.testing.assert_array_equal(again.x, _twin(4).x)
    assert again.journal == []
    with pytest.raises(ValueError, match="nothing to undo"):
        replay.undo(again)


def test_undo_of_a_restart_brings_the_old_run_back():
    lab = _twin(6)
    lab.set_param("n", 5)                                     # rebuilds: step 0
    lab.step(3)
    back = replay.undo(lab)
    assert back.step_count == 6 and back.values["n"] == 3
    np.testing.assert_array_equal(back.x, _twin(6).x)


def test_step_back_keeps_changes_up_to_the_target_and_stops_at_a_restart():
    jump = (5, lambda w: w.do_action("jump", to=-2.0))
    lab = _twin(9, jump)
    back = replay.step_back(lab, 2)
    np.testing.assert_array_equal(back.x, _twin(7, jump).x)
    earlier = replay.step_back(lab, 6)                        # before the jump: dropped
    np.testing.assert_array_equal(earlier.x, _twin(3).x)
    assert [e["do"] for e in earlier.journal] == []
    lab.reset(11)
    lab.step(4)
    floor = replay.step_back(lab, 100)                        # not past the reset
    assert floor.step_count == 0 and floor.seed == 11
    with pytest.raises(ValueError, match="first step"):
        replay.step_back(floor, 1)
    with pytest.raises(ValueError, match="at least 1"):
        replay.step_back(lab, 0)


def test_step_back_in_the_network_lab_rebuilds_the_weights():
    lab = NetworkLab(seed=0, dataset="moons")
    lab.step(30)
    lab.do_action("set_weight", layer=0, row=0, col=0, value=1.5)
    lab.step(20)
    ref = NetworkLab(seed=0, dataset="moons")
    ref.step(30)
    ref.do_action("set_weight", layer=0, row=0, col=0, value=1.5)
    ref.step(15)
    back = replay.step_back(lab, 5)
    assert back.step_count == 45
    for a, b in zip(back.model.parameters(), ref.model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_a_loaded_model_is_a_floor_for_step_back(tmp_path):
    src = NetworkLab(seed=0)
    src.step(40)
    src.save_model(tmp_path / "m.safetensors")
    lab = NetworkLab(seed=1)
    lab.step(5)
    lab.load_model(tmp_path / "m.safetensors")
    lab.step(3)
    assert lab.journal[-1]["after"] == 40
    back = replay.step_back(lab, 10)
    assert back.step_count == 40
    for a, b in zip(back.model.parameters(), src.model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def _run_with_checkpoints(every):
    """A network run with changes along the way, checkpointed as the worker does."""
    lab = NetworkLab(seed=0, dataset="moons")
    cps = replay.Checkpoints(every=every, keep=4)
    plan = [(25, lambda: lab.set_param("lr", 0.01)), (40, lambda: None),
            (55, lambda: lab.do_action("set_weight", layer=0, row=1, col=0, value=-1.0)),
            (70, lambda: None), (100, lambda: lab.do_action("add_point", x=0.2, y=0.3)),
            (130, lambda: None)]
    for target, change in plan:
        while lab.step_count < target:
            n = min(7, target - lab.step_count)
            lab.step(n)
            cps.note(lab, n)
        change()
    return lab, cps


@pytest.mark.parametrize("how", ["undo", "back"])
def test_checkpoints_give_the_same_lab_with_fewer_steps(how):
    lab, cps = _run_with_checkpoints(every=10)
    assert 0 < len(cps.items) <= 4 and not cps.off
    steps = {}

    def counter(key):
        return lambda done, total: steps.__setitem__(key, total)

    if how == "undo":
        plain = replay.undo(lab, counter("plain"))
        fast = replay.undo(lab, counter("fast"), checkpoints=cps)
    else:
        plain = replay.step_back(lab, 12, counter("plain"))
        fast = replay.step_back(lab, 12, counter("fast"), checkpoints=cps)
    assert fast.step_count == plain.step_count
    assert len(fast.journal) == len(plain.journal)
    for a, b in zip(fast.model.parameters(), plain.model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(fast.clicked_X, plain.clicked_X)
    assert steps.get("fast", 0) < steps["plain"]
    # The stored copies were not touched by the replay that started from one of them.
    j, s, kept = cps.items[-1]
    assert kept.step_count == s and len(kept.journal) == j


def test_checkpoints_only_start_on_the_way_to_the_target():
    lab, cps = _run_with_checkpoints(every=10)
    for j, s, _ in cps.items:
        start = cps.start_for(j, s - 1)
        assert start is None or (len(start.journal), start.step_count) != (j, s)
    assert cps.start_for(0, 0) is None


@pytest.mark.parametrize("name", registry.names())
def test_a_deep_copy_of_every_lab_continues_the_same_run(name):
    """What checkpoints rely on: copy a lab mid-run and both copies take the same steps."""
    lab = registry.get(name).lab_class()(seed=0, backend_name="numpy")
    lab.step(3)
    twin = copy.deepcopy(lab)
    lab.step(4)
    twin.step(4)
    a, b = lab.snapshot(), twin.snapshot()
    assert a.step == b.step
    assert a.scalars.keys() == b.scalars.keys()
    for k in a.scalars:
        assert a.scalars[k] == pytest.approx(b.scalars[k], nan_ok=True, rel=0, abs=0), k


def test_checkpoints_carry_over_to_the_rebuilt_lab():
    lab, cps = _run_with_checkpoints(every=10)
    back = replay.step_back(lab, 12, checkpoints=cps)
    kept = cps.for_lab(back)
    assert kept.items and all(j < len(back.journal) or (j == len(back.journal)
                                                         and s <= back.step_count)
                              for j, s, _ in kept.items)
    seen = {}
    again = replay.step_back(back, 5, lambda d, t: seen.__setitem__("total", t), kept)
    plain = replay.step_back(back, 5)
    assert seen["total"] < again.step_count
    for a, b in zip(again.model.parameters(), plain.model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_a_drag_at_one_step_is_one_journal_entry_and_one_undo():
    lab = Walk(seed=0, sigma=0.5)
    lab.step(3)
    for v in (0.6, 0.7, 0.8, 0.9):
        lab.set_param("sigma", v)
    lab.set_param("lr", 0.1)
    lab.set_param("sigma", 1.0)                       # another param in between: a new entry
    lab.step(2)
    lab.set_param("sigma", 1.5)                       # a later step: a new entry
    assert [(e["name"], e["at"], e["value"]) for e in lab.journal] == [
        ("sigma", 3, 0.9), ("lr", 3, 0.1), ("sigma", 3, 1.0), ("sigma", 5, 1.5)]
    back = replay.undo(replay.undo(replay.undo(lab)))
    assert back.values["sigma"] == 0.9 and back.step_count == 3
    assert replay.undo(back).values["sigma"] == 0.5
