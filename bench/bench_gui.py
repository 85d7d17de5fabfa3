"""GUI paint rate while training runs (not a test; prints numbers).

The optimizer race plays in the window (offscreen) for a few seconds at several speeds
(training steps per painted frame); we count the frames the window painted and the training
steps the worker ran meanwhile.  Training and painting take turns over the GIL (see
``mathdl_gui/worker.py``), so FPS falls as steps per frame rise.

Run: ``QT_QPA_PLATFORM=offscreen python -m bench.bench_gui``.
"""
from __future__ import annotations

import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TARGET_FPS = 60


def measure(steps_per_frame: int, seconds: float = 3.0, lab: str = "optimization") -> dict:
    from PySide6 import QtCore  # noqa: PLC0415

    from mathdl_gui.app import make_app  # noqa: PLC0415
    from mathdl_gui.main_window import MainWindow  # noqa: PLC0415

    make_app()
    win = MainWindow(autoplay=False)
    win.open_lab(lab, autoplay=False)
    win.resize(1400, 850)
    win.show()
    win.speed.setValue(steps_per_frame)
    painted = []
    render = win.panel.render

    def counting_render(snap):
        painted.append(time.perf_counter())
        render(snap)

    win.panel.render = counting_render
    win.worker.send("play")
    # A local event loop: app.quit() would also close the window (Qt 6).
    loop = QtCore.QEventLoop()
    QtCore.QTimer.singleShot(500, loop.quit)  # warm-up
    loop.exec()
    painted.clear()
    step0 = win.worker.latest().snapshot.step
    t0 = time.perf_counter()
    QtCore.QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    dt = time.perf_counter() - t0
    steps = win.worker.latest().snapshot.step - step0
    win.close()
    return {"fps": len(painted) / dt, "steps_per_s": steps / dt}


#: Lab -> training steps per painted frame to try.  The CNN's target is a frame rate that
#: still moves at 10 steps per frame (issue 4: a batch-64 step short enough for that).
RUNS = {"optimization": (1, 10, 100), "network": (1, 10, 100), "cnn": (1, 10)}


def main(argv=None) -> None:
    import argparse  # noqa: PLC0415
    ap = argparse.ArgumentParser()
    ap.add_argument("--labs", nargs="*", default=list(RUNS), choices=list(RUNS))
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args(argv)
    print(f"GUI painting while training (1400x850 window, offscreen); target >= {TARGET_FPS} "
          "FPS at 1 step per frame")
    for lab in args.labs:
        for spf in RUNS[lab]:
            r = measure(spf, args.seconds, lab)
            print(f"  {lab:>12} {spf:4d} steps/frame: {r['fps']:5.1f} FPS painted, "
                  f"{r['steps_per_s']:7.0f} training steps/s")


if __name__ == "__main__":
    main()
