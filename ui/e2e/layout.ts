// Layout checks the browser tests share: what reaches past the window.

import type { Page } from 'playwright-core';

interface Overflow {
  scrollWidth: number;
  clientWidth: number;
  innerWidth: number;
  /** Visible elements reaching past the window's edges. */
  offenders: string[];
}

/** How far the page reaches past the window, measured in the browser. */
function measureOverflow(page: Page): Promise<Overflow> {
  return page.evaluate(() => {
    const vw = window.innerWidth;
    const name = (el: Element) => {
      const id = el.id ? `#${el.id}` : '';
      const test = el.getAttribute('data-testid') ? `[data-testid=${el.getAttribute('data-testid')}]` : '';
      const cls = typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\s+/).join('.') : '';
      return `${el.tagName.toLowerCase()}${id}${test}${cls}`;
    };
    const offenders: string[] = [];
    for (const el of document.querySelectorAll('body *')) {
      // Code blocks scroll inside their own box by design; screen-reader
      // text is clipped to a pixel.
      if (el.closest('pre, .sr-only')) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      if (!el.checkVisibility({ visibilityProperty: true, opacityProperty: false })) continue;
      if (r.right > vw + 1 || r.left < -1) {
        const parent = el.parentElement ? name(el.parentElement) + ' > ' : '';
        offenders.push(`${parent}${name(el)} [${Math.round(r.left)}, ${Math.round(r.right)}]`);
      }
    }
    const se = document.scrollingElement!;
    return { scrollWidth: se.scrollWidth, clientWidth: se.clientWidth, innerWidth: vw, offenders: offenders.slice(0, 20) };
  });
}

/** What reaches past the window on this page, in words (empty: nothing). */
export async function overflowProblems(page: Page, where: string): Promise<string[]> {
  const o = await measureOverflow(page);
  const problems = o.offenders.map((e) => `${where}: ${e}`);
  if (o.scrollWidth > o.clientWidth) problems.push(`${where}: scrolls sideways (${o.scrollWidth} > ${o.clientWidth})`);
  return problems;
}
