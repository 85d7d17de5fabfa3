"""Main window: chapter/lab navigator, toolbar, the lab's panel, its params and its math."""
from __future__ import annotations

import time

from PySide6 import QtCore, QtGui, QtWidgets

from engine import backend
from engine.io import experiment
from engine.labs import replay
from mathdl_gui import registry
from mathdl_gui.widgets import style
from mathdl_gui.widgets.math_view import MathView
from mathdl_gui.widgets.param_form import ParamForm, fmt
from mathdl_gui.worker import LabWorker

PAINT_MS = 12     # paint timer (~80 Hz); it paints only when a new frame arrived
MATH_MS = 150     # the math text re-renders at most ~7 times a second


class MainWindow(QtWidgets.QMainWindow):
    """The MathDL Playground window.

    Parameters
    ----------
    panel : str
        Name of the lab to open (default: the registry's default).
    lab : Lab, optional
        An already-built lab to show (the CLI's ``--screenshot`` passes one it has stepped).
    autoplay : bool
        Start training right away (first launch shows a moving picture).
    """

    def __init__(self, panel: str | None = None, lab=None, autoplay: bool = True,
                 seed: int = 0, backend_name: str = "auto"):
        super().__init__()
        self.setWindowTitle("MathDL Playground")
        self.resize(1500, 900)
        self.seed = seed
        self.backend_name = backend_name
        self.worker: LabWorker | None = None
        self.panel = None
        self.entry = None
        self._last_seq = 0
        self._frames = []
        self._last_math = 0.0
        self._build_ui()
        self.open_lab(panel or (lab.name if lab is not None else registry.DEFAULT), lab=lab,
                      autoplay=autoplay)
        self.timer = QtCore.QTimer(self, interval=PAINT_MS)
        self.timer.timeout.connect(self.paint_latest)
        self.timer.start()

    # -- construction ---------------------------------------------------------------------------
    def _build_ui(self):
        # Navigator: chapters -> labs, only labs that work.
        self.nav = QtWidgets.QTreeWidget()
        self.nav.setHeaderHidden(True)
        self.nav.setMinimumWidth(170)
        chapters = {}
        for e in registry.ENTRIES:
            if e.chapter not in chapters:
                ch = QtWidgets.QTreeWidgetItem([f"{e.chapter}  {registry.CHAPTERS[e.chapter]}"])
                ch.setFlags(ch.flags() & ~QtCore.Qt.ItemFlag.ItemIsSelectable)
                self.nav.addTopLevelItem(ch)
                chapters[e.chapter] = ch
            item = QtWidgets.QTreeWidgetItem([e.title])
            item.setData(0, QtCore.Qt.ItemDataRole.UserRole, e.name)
            item.setToolTip(0, f"{e.title} (lab '{e.name}')")
            chapters[e.chapter].addChild(item)
        self.nav.expandAll()
        self.nav.itemClicked.connect(self._nav_clicked)
        nav_dock = QtWidgets.QDockWidget("Chapters", self)
        nav_dock.setObjectName("chapters")
        nav_dock.setWidget(self.nav)
        nav_dock.setFeatures(QtWidgets.QDockWidget.DockWidgetFeature.NoDockWidgetFeatures)
        self.addDockWidget(QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, nav_dock)

        # Right side: params over math.
        self.form_scroll = QtWidgets.QScrollArea()
        self.form_scroll.setWidgetResizable(True)
        self.math = MathView()
        right = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        right.addWidget(self.form_scroll)
        right.addWidget(self.math)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)
        right.setMinimumWidth(330)
        side = QtWidgets.QDockWidget("Parameters and math", self)
        side.setObjectName("params")
        side.setWidget(right)
        side.setFeatures(QtWidgets.QDockWidget.DockWidgetFeature.NoDockWidgetFeatures)
        self.addDockWidget(QtCore.Qt.DockWidgetArea.RightDockWidgetArea, side)

        self.central = QtWidgets.QWidget()
        self.central_lay = QtWidgets.QVBoxLayout(self.central)
        self.central_lay.setContentsMargins(0, 0, 0, 0)
        self.error_bar = QtWidgets.QLabel()
        self.error_bar.setWordWrap(True)
        self.error_bar.hide()
        self.central_lay.addWidget(self.error_bar)
        self.setCentralWidget(self.central)

        self._build_toolbar()
        self._build_status()

    def _action(self, text, shortcut, slot, tip, checkable=False):
        act = QtGui.QAction(text, self)
        if shortcut:
            act.setShortcut(QtGui.QKeySequence(shortcut))
            tip = f"{tip} ({QtGui.QKeySequence(shortcut).toString()})"
        act.setToolTip(tip)
        act.setStatusTip(tip)
        act.setCheckable(checkable)
        act.triggered.connect(slot)
        self.addAction(act)
        return act

    def _build_toolbar(self):
        tb = self.addToolBar("Run")
        tb.setObjectName("run")
        tb.setMovable(False)
        tb.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.act_play = self._action("Play", "Space", self.toggle_play,
                                     "Play or pause training", checkable=True)
        self._icons = {on: self.style().standardIcon(
            QtWidgets.QStyle.StandardPixmap.SP_MediaPause if on
            else QtWidgets.QStyle.StandardPixmap.SP_MediaPlay) for on in (True, False)}
        self.act_play.setIcon(self._icons[False])
        self.act_step = self._action("Step", "S", self.step_once, "Advance one step")
        self.act_back = self._action("Back", "Shift+S", self.step_back,
                                     "Go back one frame (steps/frame steps), keeping the "
                                     "changes made until then: the run is replayed")
        self.act_undo = self._action("Undo", "Ctrl+Z", self.undo,
                                     "Undo the last change (a param, a click, a drawing, a "
                                     "reset): back to the moment before it")
        self.act_reset = self._action("Reset", "R", self.reset, "Restart with the seed shown")
        for a in (self.act_play, self.act_step, self.act_back, self.act_undo, self.act_reset):
            tb.addAction(a)
        tb.addSeparator()
        tb.addWidget(QtWidgets.QLabel(" steps/frame "))
        self.speed = QtWidgets.QSpinBox()
        self.speed.setRange(1, 10000)
        self.speed.setValue(1)
        self.speed.setToolTip("Training steps run between two painted frames (speed)")
        self.speed.valueChanged.connect(lambda v: self.worker and
                                        self.worker.send("steps_per_frame", v))
        tb.addWidget(self.speed)
        tb.addWidget(QtWidgets.QLabel(" seed "))
        self.seed_box = QtWidgets.QSpinBox()
        self.seed_box.setRange(0, 2**31 - 1)
        self.seed_box.setValue(self.seed)
        self.seed_box.setToolTip("Random seed used by Reset; same seed, same run")
        tb.addWidget(self.seed_box)
        tb.addWidget(QtWidgets.QLabel(" backend "))
        self.backend_box = QtWidgets.QComboBox()
        self.backend_box.addItems(["auto", "numpy", "cupy"])
        ok, reason = backend.cupy_available()
        if not ok:
            item = self.backend_box.model().item(2)
            item.setEnabled(False)
            item.setToolTip(reason)
            self.backend_box.setItemData(2, reason, QtCore.Qt.ItemDataRole.ToolTipRole)
        self.backend_box.setToolTip("Array backend: NumPy (CPU), CuPy (GPU), or auto by size."
                                    + ("" if ok else f"\nCuPy unavailable: {reason}"))
        self.backend_box.setCurrentText(self.backend_name)
        self.backend_box.currentTextChanged.connect(self.set_backend)
        tb.addWidget(self.backend_box)
        tb.addSeparator()
        self.act_export = self._action("Export panel\u2026", "Ctrl+E", self.export_panel,
                                       "Write every plot of this panel as PNG, SVG and CSV")
        self.act_save = self._action("Save experiment\u2026", "Ctrl+S", self.save_experiment,
                                     "Save params, seed, step and histories (JSON)")
        self.act_open = self._action("Open experiment\u2026", "Ctrl+O", self.open_experiment,
                                     "Load an experiment file and replay it")
        for a in (self.act_export, self.act_save, self.act_open):
            tb.addAction(a)
        # Trained-model files, for labs that train a network (they define save_model).
        self.act_save_model = self._action("Save model…", "Ctrl+Shift+S", self.save_model,
                                           "Save the trained network (safetensors: weights, "
                                           "architecture, hyperparameters, seed, step)")
        self.act_load_model = self._action("Load model…", "Ctrl+Shift+O", self.load_model,
                                           "Load a saved network to inspect it or train on")
        self.act_onnx = self._action("Export ONNX…", "", self.export_onnx,
                                     "Export the trained network to ONNX (runs in ONNX Runtime)")
        menu = QtWidgets.QMenu(self)
        for a in (self.act_save_model, self.act_load_model, self.act_onnx):
            menu.addAction(a)
        self.model_button = QtWidgets.QToolButton()
        self.model_button.setText("Model")
        self.model_button.setToolTip("Save, load or export the trained network")
        self.model_button.setMenu(menu)
        self.model_button.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.InstantPopup)
        tb.addWidget(self.model_button)
        tb.addSeparator()
        self.act_theme = self._action("Light theme" if style.theme_name() == "dark"
                                      else "Dark theme", "", self.toggle_theme,
                                      "Switch between the dark and light themes")
        self.act_help = self._action("Help", "F1", self.show_help, "What this lab shows")
        tb.addAction(self.act_theme)
        tb.addAction(self.act_help)
        self._action("Quit", "Ctrl+Q", self.close, "Quit MathDL Playground")

    def _build_status(self):
        sb = self.statusBar()
        self.st_step = QtWidgets.QLabel("step 0")
        self.st_loss = QtWidgets.QLabel("loss \u2013")
        self.st_rate = QtWidgets.QLabel("0 steps/s")
        self.st_fps = QtWidgets.QLabel("0 FPS")
        self.st_backend = QtWidgets.QLabel("")
        for w in (self.st_step, self.st_loss, self.st_rate, self.st_fps, self.st_backend):
            w.setContentsMargins(8, 0, 8, 0)
            sb.addPermanentWidget(w)

    # -- labs -----------------------------------------------------------------------------------
    def _nav_clicked(self, item, _col):
        name = item.data(0, QtCore.Qt.ItemDataRole.UserRole)
        if name and (self.entry is None or name != self.entry.name):
            self.open_lab(name)

    def open_lab(self, name: str, lab=None, autoplay: bool = True):
        """Stop the current lab's worker, build lab ``name`` and its panel, and start."""
        entry = registry.get(name)
        lab_cls = entry.lab_class()
        try:
            lab = lab or lab_cls(seed=self.seed_box.value(), backend_name=self.backend_name)
        except ValueError as exc:
            self.show_error(str(exc))
            return
        self._stop_worker()
        if self.panel is not None:
            self.panel.setParent(None)
            self.panel.deleteLater()
        self.entry = entry
        self.panel = entry.panel_class()(lab_cls)
        self.panel.action_requested.connect(self._panel_action)
        self.central_lay.addWidget(self.panel, 1)
        self.form = ParamForm(lab_cls.params)
        self.form.set_values(lab.values)
        self.form.param_changed.connect(self._param_changed)
        self.form.input_rejected.connect(self.show_error)
        self.form_scroll.setWidget(self.form)
        self.setWindowTitle(f"MathDL Playground \u2014 {entry.title}")
        self._select_nav(name)
        has_model = hasattr(lab, "save_model")
        for a in (self.act_save_model, self.act_load_model):
            a.setEnabled(has_model)
        self.act_onnx.setEnabled(hasattr(lab, "export_onnx"))
        self.model_button.setEnabled(has_model)
        self.worker = LabWorker(lab, self.speed.value())
        self.worker.failed.connect(self.show_error)
        # Bound methods of this (GUI-thread) object, so Qt queues the worker's signals here.
        self.worker.notice.connect(self.show_notice)
        self.worker.playing_changed.connect(self._playing_changed)
        self.worker.frame_ready.connect(self._frame_ready)
        self._last_seq = 0
        self.worker.start()
        try:
            self.paint_latest(force_math=True)
        except Exception:
            # A panel that cannot draw its first frame must not leave a training thread
            # running behind it (Qt aborts on a QThread destroyed while it runs).
            self._stop_worker()
            raise
        if autoplay:
            self.worker.send("play")

    def _select_nav(self, name):
        it = QtWidgets.QTreeWidgetItemIterator(self.nav)
        while it.value():
            if it.value().data(0, QtCore.Qt.ItemDataRole.UserRole) == name:
                self.nav.setCurrentItem(it.value())
            it += 1

    def _stop_worker(self):
        if self.worker is not None:
            self.worker.stop()
            self.worker = None

    # -- commands -------------------------------------------------------------------------------
    def _param_changed(self, name, value):
        # The control validated the value already; the lab checks it again on the worker.
        self.clear_error()
        self.worker.send("set_param", name, value)

    def _panel_action(self, name, kwargs):
        self.worker.send("action", name, kwargs)

    def toggle_play(self):
        self.worker.send("toggle")

    @QtCore.Slot(bool)
    def _playing_changed(self, on):
        self.act_play.setChecked(on)
        self.act_play.setText("Pause" if on else "Play")
        self.act_play.setIcon(self._icons[on])

    def step_once(self):
        self.worker.send("step", 1)

    def reset(self):
        self.clear_error()
        self.worker.send("reset", self.seed_box.value())

    def set_backend(self, name):
        try:
            backend.resolve(name)
        except ValueError as exc:
            self.show_error(str(exc))
            with QtCore.QSignalBlocker(self.backend_box):
                self.backend_box.setCurrentText(self.backend_name)
            return
        self.backend_name = name
        self.worker.send("backend", name)

    # -- painting -------------------------------------------------------------------------------
    def paint_latest(self, force_math: bool = False):
        """Paint the newest frame if there is one (called by the ~60 FPS timer)."""
        if self.worker is None:
            return
        frame = self.worker.latest()
        if frame is None or frame.seq == self._last_seq:
            return
        self._last_seq = frame.seq
        snap = frame.snapshot
        self.panel.render(snap)
        self.form.set_values(frame.values)

        now = time.perf_counter()
        self._frames = [t for t in self._frames if now - t < 1.0] + [now]
        if force_math or now - self._last_math > MATH_MS / 1000 or not frame.playing:
            self._last_math = now
            self.math.show_math(snap.text.get("equation", ""), snap.text.get("rules", ""),
                                snap.text.get("summary", ""))
        self.st_step.setText(f"step {snap.step:,}")
        loss = snap.scalars.get("loss")
        self.st_loss.setText("loss \u2013" if loss is None else f"loss {fmt(loss)}")
        if frame.playing:
            self.st_rate.setText(f"{frame.steps_per_sec:,.0f} steps/s")
            self.st_fps.setText(f"{len(self._frames)} FPS")
        else:
            self.st_rate.setText("paused")
            self.st_fps.setText("")
        try:
            self.st_backend.setText(backend.device_label(frame.backend))
        except ValueError:
            self.st_backend.setText(frame.backend)

    @QtCore.Slot()
    def _frame_ready(self):
        """The worker published a frame and waits: paint it now, then let it go on."""
        if self.worker is None:
            return
        self.paint_latest()
        # Deliver the repaint requests that render() just posted, so the frame is painted
        # before training resumes (see LabWorker: the two take turns over the GIL).
        QtCore.QCoreApplication.sendPostedEvents()
        self.worker.frame_painted()

    # -- messages -------------------------------------------------------------------------------
    @QtCore.Slot(str)
    def show_error(self, message: str):
        """Show a problem in the window, in plain words (never only in the terminal)."""
        t = style.theme()
        self.error_bar.setStyleSheet(f"background:{t['banner']}; color:{t['banner_text']};"
                                     "padding:6px;")
        self.error_bar.setText(message.split("\n")[0])
        self.error_bar.setToolTip(message)
        self.error_bar.show()
        self.statusBar().showMessage(message.split("\n")[0], 8000)

    @QtCore.Slot(str)
    def show_notice(self, message: str):
        self.statusBar().showMessage(message, 5000)

    def clear_error(self):
        self.error_bar.hide()

    def show_help(self):
        lab_cls = self.entry.lab_class()
        QtWidgets.QMessageBox.information(
            self, lab_cls.title,
            f"<h3>{lab_cls.title}</h3><p><i>Book chapter {lab_cls.chapter}, section "
            f"{lab_cls.section}</i></p><p>{lab_cls.summary}</p>"
            "<p>Keys: Space play/pause, S step, R reset, Ctrl+E export, Ctrl+S save, "
            "Ctrl+O open, Ctrl+Q quit.</p>")

    def toggle_theme(self):
        new = "light" if style.theme_name() == "dark" else "dark"
        style.apply_theme(QtWidgets.QApplication.instance(), new)
        self.act_theme.setText("Dark theme" if new == "light" else "Light theme")
        # Plots take the theme when built: rebuild the panel around the same lab (open_lab
        # stops this worker before the new one takes the lab over).
        self.open_lab(self.entry.name, lab=self.worker.lab, autoplay=self.worker.playing)

    # -- files ----------------------------------------------------------------------------------
    def export_panel(self, folder: str | None = None):
        if folder is None:
            folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Export panel to folder")
            if not folder:
                return []
        try:
            written = self.panel.export_all(folder)
        except OSError as exc:
            self.show_error(f"Could not export to {folder}: {exc}")
            return []
        self.statusBar().showMessage(f"Exported {len(written)} files to {folder}", 6000)
        return written

    def save_experiment(self, path: str | None = None):
        if path is None:
            path, _ = QtWidgets.QFileDialog.getSaveFileName(
                self, "Save experiment", f"{self.entry.name}.json", "Experiment (*.json)")
            if not path:
                return None
        try:
            self.worker.call(lambda lab: experiment.save_experiment(lab, path))
        except (OSError, ValueError, TimeoutError) as exc:
            self.show_error(f"Could not save {path}: {exc}")
            return None
        self.statusBar().showMessage(f"Saved {path}", 6000)
        return path

    def _model_file_op(self, title, path, default_name, filt, saving, op):
        """Ask for a path (unless given), run ``op(lab, path)`` on the worker, report."""
        if path is None:
            ask = (QtWidgets.QFileDialog.getSaveFileName if saving
                   else QtWidgets.QFileDialog.getOpenFileName)
            path, _ = ask(self, title, default_name, filt)
            if not path:
                return None
        try:
            self.worker.call(lambda lab: op(lab, path))
        except (OSError, ValueError, TimeoutError) as exc:
            self.show_error(f"{title} failed: {exc}")
            return None
        self.statusBar().showMessage(f"{title}: {path}", 6000)
        return path

    def save_model(self, path: str | None = None):
        return self._model_file_op("Save model", path, f"{self.entry.name}.safetensors",
                                   "Model (*.safetensors)", True,
                                   lambda lab, p: lab.save_model(p))

    def load_model(self, path: str | None = None):
        # The form catches up with the loaded architecture on the next painted frame.
        return self._model_file_op("Load model", path, "", "Model (*.safetensors)", False,
                                   lambda lab, p: lab.load_model(p))

    def export_onnx(self, path: str | None = None):
        return self._model_file_op("Export ONNX", path, f"{self.entry.name}.onnx",
                                   "ONNX (*.onnx)", True, lambda lab, p: lab.export_onnx(p))

    def undo(self) -> bool:
        """Replace the lab by its state just before its last change (replayed)."""
        return self._rebuild("Undoing", replay.undo)

    def step_back(self) -> bool:
        """Replace the lab by the same run one frame (``steps/frame`` steps) earlier."""
        n = self.speed.value()
        return self._rebuild("Stepping back",
                             lambda rec, report, cps: replay.step_back(rec, n, report, cps))

    def _rebuild(self, label: str, make) -> bool:
        """Pause, copy the lab's journal on its thread, rebuild it here with
        ``make(record, report, checkpoints)`` (starting from the worker's latest checkpoint on
        the way; a progress dialog shows long replays and Cancel stops), then swap the new lab
        in.  Any error leaves the current lab as it was."""
        if self.worker is None:
            return False
        self.worker.send("pause")
        cps = self.worker.checkpoints
        try:
            record = self.worker.call(replay.Record.of)
            lab = self._with_progress(f"{label}…",
                                      lambda report: make(record, report, cps))
        except (ValueError, TimeoutError) as exc:
            self.show_error(str(exc))
            return False
        self.seed_box.setValue(lab.seed)
        self.open_lab(lab.name, lab=lab, autoplay=False)
        self.worker.checkpoints = cps.for_lab(lab)     # the new worker is idle until played
        self.statusBar().showMessage(f"Back at step {lab.step_count}", 4000)
        return True

    def _with_progress(self, label: str, run):
        """Run ``run(report)`` with a progress dialog that appears after half a second;
        ``report(done, total)`` updates it and raises ``ValueError`` on Cancel."""
        progress = QtWidgets.QProgressDialog(label, "Cancel", 0, 1, self)
        progress.setMinimumDuration(500)

        def report(done, total):
            progress.setMaximum(max(total, 1))
            progress.setValue(done)
            QtWidgets.QApplication.processEvents()
            if progress.wasCanceled():
                raise ValueError("cancelled")

        try:
            return run(report)
        finally:
            progress.close()

    def open_experiment(self, path: str | None = None):
        if path is None:
            path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open experiment", "",
                                                            "Experiment (*.json)")
            if not path:
                return False
        lab_cls = self.entry.lab_class()
        try:
            doc = experiment.read_experiment(path)
            if doc["lab"] != self.entry.name:
                self.open_lab(registry.get(doc["lab"]).name, autoplay=False)
                lab_cls = self.entry.lab_class()
            lab = self._with_progress(
                "Replaying experiment\u2026",
                lambda report: experiment.load_experiment(path, lab_cls, self.backend_name,
                                                          report))
        except ValueError as exc:
            self.show_error(f"Could not open experiment: {exc}")
            return False
        self.seed_box.setValue(lab.seed)
        self.open_lab(lab.name, lab=lab, autoplay=False)
        self.statusBar().showMessage(f"Loaded {path} at step {lab.step_count}", 6000)
        return True

    def closeEvent(self, event):
        self.timer.stop()
        self._stop_worker()
        super().closeEvent(event)

