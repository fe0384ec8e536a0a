// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import { linkTextIsAddress, renderMarkdown, sanitize } from '../src/lib/markdown';

/** The rendered Markdown as a DOM, to ask what elements it holds. */
function render(src: string): HTMLElement {
  const div = document.createElement('div');
  div.innerHTML = renderMarkdown(src);
  return div;
}

describe('markdown', () => {
  it('renders markdown with highlighted code', () => {
    const html = renderMarkdown('Hello **world**\n\n```rust\nfn main() {}\n```');
    expect(html).toContain('<strong>world</strong>');
    expect(html).toContain('hljs-keyword');
    expect(html).toContain('language-rust');
  });

  it('shows raw HTML as text, never as elements', () => {
    const src =
      'hi <script>alert(1)</script> <img src="x" onerror="alert(2)"> <a href="javascript:alert(3)">x</a> <iframe src="https://e.x"></iframe>';
    const dom = render(src);
    expect(dom.querySelectorAll('script, img, iframe, a').length).toBe(0);
    expect(dom.textContent).toBe(src);
    // A block of HTML too.
    const block = render('<div onclick="steal()">\n<b>bold?</b>\n</div>\n\nafter');
    expect(block.querySelectorAll('div, b').length).toBe(0);
    expect(block.textContent).toContain('<b>bold?</b>');
    expect(block.querySelector('p:last-child')?.textContent).toBe('after');
  });

  it('drops javascript: links that Markdown makes', () => {
    const dom = render('[click](javascript:alert(1))');
    expect(dom.querySelector('a')?.getAttribute('href') ?? null).toBeNull();
  });

  it('shows where a link goes when its text says something else', () => {
    const dom = render('[the docs](https://evil.example/login) and [https://bank.example](https://evil.example)');
    const targets = [...dom.querySelectorAll('.md-href')].map((e) => e.textContent);
    expect(targets).toEqual(['(https://evil.example/login)', '(https://evil.example)']);
    expect(dom.querySelector('a')?.getAttribute('title')).toBe('https://evil.example/login');
  });

  it('does not repeat an address that is the link text', () => {
    const dom = render('See https://example.com/a and <https://example.com/b> and [example.com/c](https://example.com/c/)');
    expect(dom.querySelectorAll('a').length).toBe(3);
    expect(dom.querySelectorAll('.md-href').length).toBe(0);
    expect(linkTextIsAddress('mailto:me@example.com', 'me@example.com')).toBe(true);
  });

  it('makes images links instead of loading them', () => {
    const dom = render('![chart](https://tracker.example/pixel.png)');
    expect(dom.querySelectorAll('img').length).toBe(0);
    const a = dom.querySelector('a');
    expect(a?.getAttribute('href')).toBe('https://tracker.example/pixel.png');
    expect(a?.textContent).toBe('image: chart');
    expect(dom.querySelector('.md-href')?.textContent).toBe('(https://tracker.example/pixel.png)');
  });

  it('keeps line breaks of plain-text sources when asked', () => {
    expect(renderMarkdown('one\ntwo', { breaks: true })).toBe('<p>one<br>two</p>');
    expect(renderMarkdown('one\ntwo')).toBe('<p>one\ntwo</p>');
  });

  it('opens links in a new tab without an opener', () => {
    const html = renderMarkdown('[site](https://example.com)');
    expect(html).toContain('target="_blank"');
    expect(html).toContain('rel="noopener noreferrer"');
  });

  it('escapes HTML inside code blocks', () => {
    const html = renderMarkdown('```\n<script>alert(1)</script>\n```');
    expect(html).toContain('&lt;script&gt;');
    expect(sanitize('<svg><g onload="x()"></g></svg>')).not.toContain('onload');
  });
});
