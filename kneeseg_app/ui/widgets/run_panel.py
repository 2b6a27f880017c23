"""Segmentation options, the Segment/Cancel buttons, progress and the outcome."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from kneeseg_app.ui.controllers.segmentation import (
    RunOptions,
    SegmentController,
    automatic_threads,
    available_threads,
    describe_result,
    model_default_tta,
)


class RunPanel(QWidget):
    """Shows the SegmentController's run; emits ``runRequested`` with the chosen options."""

    runRequested = Signal(object)  # RunOptions
    optionsChanged = Signal(object)  # RunOptions

    def __init__(self, controller: SegmentController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.tta = QCheckBox("Test-time augmentation (mirroring; slower, slightly better)")
        self.tta.setObjectName("tta")
        self.threads = QSpinBox()
        self.threads.setObjectName("threads")
        self.threads.setRange(0, available_threads())
        self.threads.setSpecialValueText(f"automatic ({automatic_threads()})")
        self.threads.setToolTip(
            f"Automatic uses {automatic_threads()} thread(s): the physical cores, at most 4, so the computer stays usable."
        )
        self._tta_choice: bool | None = None
        """The user's TTA choice; None while the box shows the selected model's default."""
        self.segment = QPushButton("Segment femur and tibia")
        self.segment.setObjectName("segment")
        self.segment.setStyleSheet("font-weight: bold; padding: 6px;")
        self.cancel = QPushButton("Cancel")
        self.cancel.setObjectName("cancel_segmentation")
        self.cancel.setEnabled(False)
        self.bar = QProgressBar()
        self.bar.setObjectName("segment_progress")
        self.bar.setRange(0, 1000)
        self.bar.setValue(0)
        self.bar.setTextVisible(True)
        self.bar.setFormat("")
        self.stage = _TakesNoRoomWhenEmpty("")
        self.stage.setObjectName("segment_stage")
        self.outcome = _TakesNoRoomWhenEmpty("")
        self.outcome.setObjectName("segment_outcome")
        self.outcome.setWordWrap(True)
        self.outcome.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hint = QLabel("")
        self.hint.setObjectName("next_step")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #f0c040; font-weight: bold;")
        self.hint.setVisible(False)

        threads_row = QHBoxLayout()
        threads_row.addWidget(QLabel("CPU threads"))
        threads_row.addWidget(self.threads)
        threads_row.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.segment, 1)
        buttons.addWidget(self.cancel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tta)
        layout.addLayout(threads_row)
        layout.addLayout(buttons)
        layout.addWidget(self.bar)
        layout.addWidget(self.stage)
        layout.addWidget(self.outcome)
        layout.addWidget(self.hint)

        self.segment.clicked.connect(self._on_segment_clicked)
        self.cancel.clicked.connect(self._on_cancel)
        self.tta.clicked.connect(self._on_tta_clicked)
        self.threads.valueChanged.connect(lambda _: self.optionsChanged.emit(self.options()))
        controller.started.connect(self._on_started)
        controller.progress.connect(self._on_progress)
        controller.elapsed.connect(self._on_elapsed)
        controller.finished.connect(self._on_finished)
        controller.failed.connect(lambda title, exc: self._end(f"{title}: {_sentence(exc)}", error=True))
        controller.cancelled.connect(lambda: self._end("Cancelled."))
        self._last_stage = ""

    def options(self) -> RunOptions:
        """TTA stays None (the model's default, shown by the box) until the user clicks the box."""
        return RunOptions(tta=self._tta_choice, threads=int(self.threads.value()))

    def set_options(self, options: RunOptions) -> None:
        self._tta_choice = options.tta
        if options.tta is not None:
            self.tta.setChecked(options.tta)
        self.threads.setValue(min(options.threads, self.threads.maximum()))

    def set_model(self, package: object | None) -> None:
        """A model was selected: the TTA box shows its ``default_tta`` (the user's earlier click is forgotten)."""
        self._tta_choice = None
        self.tta.setChecked(model_default_tta(package))

    def _on_tta_clicked(self, checked: bool) -> None:
        self._tta_choice = bool(checked)
        self.optionsChanged.emit(self.options())

    def set_ready(self, ready: bool, reason: str = "") -> None:
        """Enable Segment only when a CT and a usable model are there."""
        self.segment.setEnabled(ready and not self.controller.running)
        self.segment.setToolTip("" if ready else reason)

    def _on_segment_clicked(self) -> None:
        """Feedback at once (the button greys, 'Starting…'), the request on the next turn of the event
        loop: the input check and the worker's start come after this has been painted."""
        self.show_starting()
        options = self.options()
        QTimer.singleShot(0, lambda: self.runRequested.emit(options))

    def show_starting(self) -> None:
        """The run was asked for: no second click, and a word that it is coming."""
        self.segment.setEnabled(False)
        self.hint.setVisible(False)
        self.stage.setText("Starting…")

    def set_hint(self, text: str) -> None:
        """The next step for a new user ('' hides it)."""
        self.hint.setText(text)
        self.hint.setVisible(bool(text))

    def clear_outcome(self) -> None:
        """Another case: nothing of the previous run stays."""
        self.bar.setValue(0)
        self.bar.setFormat("")
        self.stage.setText("")
        self.outcome.setStyleSheet("")
        self.outcome.setText("")

    def _on_started(self, model: str) -> None:
        self.segment.setEnabled(False)
        self.cancel.setEnabled(True)
        self.bar.setValue(0)
        self.bar.setFormat("%p%")
        self.outcome.setStyleSheet("")
        self.outcome.setText(f"Running {model}…")
        self._last_stage = "Starting"
        self.stage.setText("Starting…")

    def _on_progress(self, stage: str, fraction: float) -> None:
        self.bar.setValue(int(round(1000 * min(max(fraction, 0.0), 1.0))))
        self._last_stage = stage

    def _on_elapsed(self, seconds: float) -> None:
        self.stage.setText(f"{self._last_stage}   ·   {seconds:.0f} s")

    def _on_cancel(self) -> None:
        self.cancel.setEnabled(False)
        self.stage.setText("Cancelling…")
        self.controller.cancel()

    def _on_finished(self, result, model: str) -> None:
        self.bar.setValue(1000)
        self._end(f"{model}: {describe_result(result)}")

    def _end(self, text: str, error: bool = False) -> None:
        self.cancel.setEnabled(False)
        self.segment.setEnabled(True)
        self.stage.setText("")
        self.outcome.setStyleSheet("color: #ff6060;" if error else "")
        self.outcome.setText(text)
        if error or text == "Cancelled.":
            self.bar.setValue(0)
            self.bar.setFormat("")


class _TakesNoRoomWhenEmpty(QLabel):
    """A status line hidden while it says nothing: on a laptop every line of the dock counts."""

    def __init__(self, text: str = "") -> None:
        super().__init__(text)
        self.setVisible(bool(text))

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        super().setText(text)
        self.setVisible(bool(text))


def _sentence(exc: BaseException) -> str:
    from kneeseg_app.core.errors import describe_exception

    return describe_exception(exc)[0]
