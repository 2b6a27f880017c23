"""The next-step hint of a new user."""

from kneeseg_app.ui.state.next_step import CaseProgress, next_step


def test_the_demo_with_its_reference_says_press_segment_and_what_is_shown() -> None:
    hint = next_step(CaseProgress(has_ct=True, has_model=True, has_reference=True))
    assert hint.startswith("Next: press Segment.") and "reference, not a result" in hint


def test_the_hint_names_the_missing_step_and_goes_once_there_is_a_result() -> None:
    assert "open a CT" in next_step(CaseProgress())
    assert "choose a model" in next_step(CaseProgress(has_ct=True))
    assert next_step(CaseProgress(has_ct=True, has_model=True, has_result=True)) == ""
    assert next_step(CaseProgress(has_ct=True, has_model=True, running=True)) == ""
