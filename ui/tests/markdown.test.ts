// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import { renderMarkdown, sanitize } from '../src/lib/markdown';

describe('markdown', () => {
  it('renders markdown with highlighted code', () => {
    const html = renderMarkdown('Hello **world**\n\n```rust\nfn main() {}\n```');
    expect(html).toContain('<strong>world</strong>');
    expect(html).toContain('hljs-keyword');
    expect(html).toContain('language-rust');
  });

  it('strips script tags and event handlers', () => {
    const html = renderMarkdown(
      'hi <script>alert(1)</script> <img src="x" onerror="alert(2)"> <a href="javascript:alert(3)">x</a> <iframe src="https://e.x"></iframe>',
    );
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/onerror/i);
    expect(html).not.toMatch(/javascript:/i);
    expect(html).not.toMatch(/<iframe/i);
    expect(html).toContain('<img src="x">');
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
