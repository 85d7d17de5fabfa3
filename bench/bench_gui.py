"""GUI paint rate while training runs (not a test; prints numbers).

Two figures, both with the optimizer race training in its worker thread:

* delivered FPS: frames the window actually painted per second in its normal event loop;
* paint capacity: how many frames per second ``panel.render`` + a forced repaint sustain
  back to back, i.e. the ceiling the UI thread could paint at.

Run: ``QT_QPA_PLATFORM=offscreen python -m bench.bench_gui``.
"""
from __future__ import annotations

import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def measure(seconds: float = 3.0, steps_per_frame: int = 10) -> dict:
    from PySide6 import QtCore, QtWidgets  # noqa: PLC0415

    from mathdl_gui.app import make_app  # noqa: PLC0415
    from mathdl_gui.main_window import MainWindow  # noqa: PLC0415

    app = make_app()
    win = MainWindow(autoplay=True)
    win.resize(1400, 850)
    win.show()
    win.speed.setValue(steps_per_frame)
    painted = []
    render = win.panel.render

    def counting_render(snap):
        painted.append(time.perf_counter())
        render(snap)

    win.panel.render = counting_render
    QtCore.QTimer.singleShot(int(seconds * 1000), app.quit)
    app.exec()
    delivered = len(painted) / seconds
    steps = win.worker.latest().snapshot.step

    # Capacity: render the newest snapshot and repaint synchronously, as fast as possible,
    # while the worker keeps training.
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        frame = win.worker.latest()
        render(frame.snapshot)
        win.panel.repaint()
        QtWidgets.QApplication.processEvents()
        n += 1
    capacity = n / (time.perf_counter() - t0)
    win.close()
    return {"delivered_fps": delivered, "capacity_fps": capacity,
            "training_steps_in_first_window": steps}


def main() -> None:
    r = measure()
    print(f"GUI paint while training (optimizer race, 10 steps/frame): "
          f"delivered {r['delivered_fps']:.0f} FPS, capacity {r['capacity_fps']:.0f} FPS "
          f"(target >= 60); {r['training_steps_in_first_window']} training steps meanwhile")


if __name__ == "__main__":
    main()
