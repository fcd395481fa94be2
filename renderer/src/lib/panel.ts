// A panel that opens in place on a screen (a preview, a report, a confirmation): it scrolls into
// view and takes the focus when it opens, Escape inside it closes it, and the focus goes back to
// where it was (the button that opened it) when it closes.
export function panel(node: HTMLElement, onclose: () => void): { update(f: () => void): void; destroy(): void } {
  let close = onclose;
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  if (!node.hasAttribute('tabindex')) node.tabIndex = -1;
  node.scrollIntoView({ block: 'nearest' });
  node.focus({ preventScroll: true });
  const onKey = (e: KeyboardEvent) => {
    if (e.key !== 'Escape' || e.defaultPrevented) return;
    e.preventDefault();
    close();
  };
  node.addEventListener('keydown', onKey);
  return {
    update(f) {
      close = f;
    },
    destroy() {
      node.removeEventListener('keydown', onKey);
      // Back to the opener, unless the focus has already moved elsewhere on purpose.
      const focus = document.activeElement;
      if (opener?.isConnected && (focus === null || focus === document.body || node.contains(focus))) opener.focus();
    },
  };
}
