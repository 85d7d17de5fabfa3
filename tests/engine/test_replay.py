"""Replay from the journal: Undo and Step back rebuild exactly the earlier state, never cross
a restart, and leave the given lab alone."""
import numpy as np
import pytest

from engine.labs import replay
from engine.labs.network import NetworkLab
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
