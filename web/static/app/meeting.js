// Meeting mode: the left and right arrow keys go to the previous and next statement, but only when
// nobody is typing or choosing (a form control has focus) and no modifier key is held, so they never
// take a key from a screen reader, a text box or the radios.
const typing = (element) =>
  element instanceof HTMLElement &&
  (element.isContentEditable || ["INPUT", "TEXTAREA", "SELECT", "BUTTON"].includes(element.tagName));

document.addEventListener("keydown", (event) => {
  if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey || typing(document.activeElement)) {
    return;
  }
  const rel = { ArrowLeft: "prev", ArrowRight: "next" }[event.key];
  const link = rel && document.querySelector(`.app-meeting__pagination a[rel="${rel}"]`);
  if (link) {
    event.preventDefault();
    window.location.assign(link.href);
  }
});
