"""The rating page with the keyboard alone: skip link, radios by arrow keys, comment, visible focus, no trap."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from playwright.sync_api import JSHandle, Page, expect
from sqlmodel import select

from api.assessments.models import Rating
from tests.e2e.conftest import Board, sign_in

# The parts of an element's look that show focus: its outline (only when it can be seen), shadow,
# background and border, and those of its children and of its label's ::before/::after (NHS.UK radios
# and checkboxes draw their focus ring on the label). Compared focused and unfocused, they must differ.
FOCUS_LOOK = """(element) => {
  const look = (style) => {
    const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0
      && !/rgba\\(.*, 0\\)$|transparent/.test(style.outlineColor)
      ? `${style.outlineStyle} ${style.outlineWidth} ${style.outlineColor}` : 'none'
    return [outline, style.boxShadow, style.backgroundColor, style.borderTopWidth, style.borderTopColor].join(' / ')
  }
  const parts = [look(getComputedStyle(element))]
  for (const child of element.children) parts.push(look(getComputedStyle(child)))
  for (const label of element.labels || []) {
    parts.push(look(getComputedStyle(label, '::before')), look(getComputedStyle(label, '::after')))
  }
  return parts.join(' | ')
}"""
DESCRIBE = """(element) => {
  const text = (element.innerText || element.value || element.getAttribute('aria-label') || '').trim()
  return `<${element.tagName.toLowerCase()}${element.id ? '#' + element.id : ''}`
    + `${element.name ? ' name=' + element.name : ''}${element.type ? ' type=' + element.type : ''}`
    + `${element.value && element.type === 'radio' ? ' value=' + element.value : ''}> ${text.slice(0, 40)}`
}"""


@dataclass
class Walker:
    """Moves focus with keys only, checking each element it leaves looked different while focused."""

    page: Page
    visited: list[str] = field(default_factory=list)
    no_focus_style: list[str] = field(default_factory=list)
    _current: JSHandle | None = None
    _focused_look: str = ""

    def active(self) -> JSHandle:
        return self.page.evaluate_handle("document.activeElement")

    def is_active(self, script: str) -> bool:
        return bool(
            self.page.evaluate(f"(() => {{ const el = document.activeElement; return !!({script}); }})()")
        )

    def press(self, key: str) -> str:
        self.page.keyboard.press(key)
        return self.arrived()

    def arrived(self) -> str:
        """Focus has moved: check the element it left, and note the look of the one it reached."""
        previous, previous_look = self._current, self._focused_look
        current = self.active()
        if previous is not None and previous_look:
            still_there = previous.evaluate("(el) => el.isConnected && el !== document.activeElement")
            if still_there and previous.evaluate(FOCUS_LOOK) == previous_look:
                self.no_focus_style.append(previous.evaluate(DESCRIBE))
        # Only what Tab and the arrow keys reach must show focus: not the body, nor the main content
        # the skip link focuses from script (tabindex -1).
        interactive = current.evaluate("(el) => el !== document.body && el.tabIndex >= 0")
        self._current = current if interactive else None
        self._focused_look = current.evaluate(FOCUS_LOOK) if interactive else ""
        described = current.evaluate(DESCRIBE)
        self.visited.append(described)
        return described


def test_the_rating_page_works_with_the_keyboard_alone(page: Page, board: Board) -> None:
    sign_in(page, board.ned)
    section = board.sections[0]
    criteria = board.in_section(section)
    first, second = criteria[0].key, criteria[1].key
    page.goto(board.url(f"/sections/{section}"))
    walker = Walker(page)

    # The first Tab reaches the skip link, which shows itself; Enter moves focus to the main content.
    walker.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None and box["width"] > 20 and box["height"] > 10, (
        "the focused skip link is not visible"
    )
    page.keyboard.press("Enter")
    assert walker.is_active("el.id === 'maincontent'"), "the skip link did not move focus to the main content"
    walker.arrived()

    # Tab on to the first statement's radios: nothing of another statement comes first.
    for _ in range(10):
        walker.press("Tab")
        if walker.is_active(f"el.name === 'level__{first}'"):
            break
        assert not walker.is_active(f"el.name === 'level__{second}'"), walker.visited
    else:
        raise AssertionError(f"Tab never reached the first statement's radios: {walker.visited}")
    assert walker.is_active("el.type === 'radio' && el.value === '0'"), walker.visited[-1]

    # Arrow keys choose a level (each choice saves); focus stays in the group.
    walker.press("ArrowDown")
    walker.press("ArrowDown")
    chosen = page.locator(f"input[name='level__{first}'][value='2']")
    expect(chosen).to_be_checked()
    expect(chosen).to_be_focused()
    status = page.locator(f"#autosave-{first}")
    expect(status).to_contain_text(re.compile(r"Saved at \d\d:\d\d"))
    expect(status.locator(f"input[name='version__{first}']")).to_have_value("2")
    expect(status.locator(".app-autosave--error")).to_have_count(0)

    # Tab on to the comment (past "What evidence would show this?"), type, Tab away: it saves.
    for _ in range(4):
        walker.press("Tab")
        if walker.is_active(f"el.id === 'comment__{first}'"):
            break
    else:
        raise AssertionError(f"Tab never reached the comment box: {walker.visited}")
    page.keyboard.type("Typed without a mouse.")
    with page.expect_response(lambda r: f"/ratings/{first}" in r.url and r.request.method == "POST") as saved:
        walker.press("Tab")
    assert saved.value.status == 200
    expect(status.locator(f"input[name='version__{first}']")).to_have_value("3")
    expect(status).to_contain_text(re.compile(r"Saved at \d\d:\d\d"))
    rating = board.query(select(Rating).where(Rating.respondent_id == board.ned_id))
    assert [(r.level, r.comment) for r in rating] == [(2, "Typed without a mouse.")]

    # No trap: Tab goes on through the page to the footer's links.
    for _ in range(120):
        walker.press("Tab")
        if walker.is_active("el.closest('footer') && el.tagName === 'A'"):
            break
    else:
        raise AssertionError(f"Tab never reached the footer: a focus trap? Last: {walker.visited[-10:]}")
    walker.press("Tab")  # leave the first footer link, so its focus style is checked too

    assert len(walker.visited) > 2 * len(criteria), walker.visited
    assert not walker.no_focus_style, "No visible focus style on: " + "; ".join(walker.no_focus_style)
