"""Leaving a case: asked only when something would be lost; Save / Discard / Cancel decide."""

from __future__ import annotations

import pytest

from kneeseg_app.ui.state.case_guard import Answer, CaseState, LeaveGuard


def guard(answer: Answer = Answer.DISCARD, confirm: bool = True, saved: bool = True):
    asked: list[str] = []
    g = LeaveGuard(
        confirm=lambda title, text: asked.append(text) or confirm,
        ask_save=lambda title, text: asked.append(text) or answer,
        save=lambda: asked.append("saved") or saved,
    )
    return g, asked


def test_nothing_to_lose_asks_nothing() -> None:
    g, asked = guard()
    assert g.may_leave(CaseState(), "open another case")
    assert asked == []


@pytest.mark.parametrize(
    ("answer", "saved", "leaves"),
    [
        (Answer.DISCARD, True, True),
        (Answer.CANCEL, True, False),
        (Answer.SAVE, True, True),
        (Answer.SAVE, False, False),
    ],
)
def test_an_unsaved_result_asks_and_the_answer_decides(answer: Answer, saved: bool, leaves: bool) -> None:
    g, asked = guard(answer, saved=saved)
    assert g.may_leave(CaseState(unsaved=True, edited=True), "open another case") is leaves
    assert "edited segmentation" in asked[0] and "open another case" in asked[0]
    assert ("saved" in asked) is (answer is Answer.SAVE)


def test_a_running_segmentation_is_kept_unless_the_user_stops_it() -> None:
    g, asked = guard(confirm=False)
    assert not g.may_leave(CaseState(segmenting=True), "close KneeSeg")
    assert "still running" in asked[0]
    g, _ = guard(confirm=True)
    assert g.may_leave(CaseState(segmenting=True), "close KneeSeg")
