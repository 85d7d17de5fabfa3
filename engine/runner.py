"""The headless training loop shared by the CLI and the GUI worker.

It owns nothing but the loop: step a lab in chunks, stop when asked or when the lab has nothing
left to do, and hand out snapshots.  A lab that raises stops the run
with the error; a lab that diverges reports it through its snapshot's ``alerts``.
"""
from __future__ import annotations

from typing import Callable

from engine.labs.base import Lab, Snapshot


class Runner:
    """Step a lab and report progress.

    Parameters
    ----------
    lab : Lab
    chunk : int
        Steps between checks of ``should_stop`` and calls of ``on_snapshot``.
    """

    def __init__(self, lab: Lab, chunk: int = 50):
        if chunk < 1:
            raise ValueError("chunk must be >= 1")
        self.lab = lab
        self.chunk = int(chunk)

    def advance(self, n: int) -> int:
        """Run ``n`` steps (fewer if the lab finishes); returns how many ran."""
        before = self.lab.step_count
        self.lab.step(n)
        return self.lab.step_count - before

    def run(self, steps: int, on_snapshot: Callable[[Snapshot], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> Snapshot:
        """Run up to ``steps`` steps and return the final snapshot."""
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        done = 0
        while done < steps and not self.lab.finished:
            if should_stop is not None and should_stop():
                break
            ran = self.advance(min(self.chunk, steps - done))
            done += ran
            if on_snapshot is not None:
                on_snapshot(self.lab.snapshot())
            if ran == 0:
                break
        return self.lab.snapshot()
