// Showing what a search result or a link named: scrolled into view and
// outlined for a moment (`.found` in app.css).

export function reveal(el: Element | null): boolean {
  if (!el) return false;
  el.scrollIntoView({ block: 'center' });
  el.classList.add('found');
  setTimeout(() => el.classList.remove('found'), 2500);
  return true;
}
