// Markdown for agent output, peers' messages, wakeup summaries and memories:
// marked -> highlight.js (a few languages) -> DOMPurify. All of it is
// untrusted (a peer, or an agent a peer steered, may have written it), so:
// - raw HTML in the source is shown as text, never rendered;
// - a link whose text is not its address shows the address next to it
//   ("[docs](https://evil.example)" cannot pass for a docs link);
// - images are links, not loaded (a remote image tells its server who read
//   the message, and when);
// - and DOMPurify sanitizes what marked made.

import { Marked, type Tokens } from 'marked';
import DOMPurify from 'dompurify';
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import css from 'highlight.js/lib/languages/css';
import diff from 'highlight.js/lib/languages/diff';
import go from 'highlight.js/lib/languages/go';
import ini from 'highlight.js/lib/languages/ini';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import markdown from 'highlight.js/lib/languages/markdown';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import shell from 'highlight.js/lib/languages/shell';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';

const languages: Record<string, Parameters<typeof hljs.registerLanguage>[1]> = {
  bash, css, diff, go, ini, javascript, json, markdown, python, rust, shell, sql, typescript, xml, yaml,
};
for (const [name, lang] of Object.entries(languages)) hljs.registerLanguage(name, lang);
hljs.registerAliases(['sh', 'zsh', 'console'], { languageName: 'bash' });
hljs.registerAliases(['toml'], { languageName: 'ini' });
hljs.registerAliases(['html', 'svg'], { languageName: 'xml' });
hljs.registerAliases(['js', 'jsx', 'mjs'], { languageName: 'javascript' });
hljs.registerAliases(['ts', 'tsx'], { languageName: 'typescript' });
hljs.registerAliases(['rs'], { languageName: 'rust' });
hljs.registerAliases(['py'], { languageName: 'python' });
hljs.registerAliases(['yml'], { languageName: 'yaml' });
hljs.registerAliases(['patch'], { languageName: 'diff' });

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Highlighted HTML for a code block (escaped when the language is unknown). */
export function highlight(code: string, lang?: string): string {
  const name = (lang ?? '').trim().split(/\s+/)[0]?.toLowerCase() ?? '';
  if (name && hljs.getLanguage(name)) {
    try {
      return hljs.highlight(code, { language: name, ignoreIllegals: true }).value;
    } catch {
      /* fall through */
    }
  }
  return escapeHtml(code);
}

/** An address as people compare it: no scheme, `mailto:` or trailing slash. */
function bareAddress(s: string): string {
  return s.trim().replace(/^(https?:\/\/|mailto:)/i, '').replace(/\/+$/, '').toLowerCase();
}

/** Whether a link's text says where it goes (then its address is not repeated). */
export function linkTextIsAddress(text: string, href: string): boolean {
  return bareAddress(text) === bareAddress(href);
}

/** The address shown after a link's text: `(https://example.com/x)`. */
function visibleTarget(href: string): string {
  return ` <span class="md-href">(${escapeHtml(href)})</span>`;
}

const marked = new Marked({
  gfm: true,
  breaks: false,
  async: false,
  renderer: {
    code(token: Tokens.Code): string {
      const lang = (token.lang ?? '').trim().split(/\s+/)[0] ?? '';
      const cls = lang ? ` class="hljs language-${escapeHtml(lang)}"` : ' class="hljs"';
      // A head naming the language; Markdown.svelte adds its Copy button.
      const head = `<div class="md-code-head"><span class="md-lang">${escapeHtml(lang || 'text')}</span></div>`;
      return `<div class="md-code">${head}<pre><code${cls}>${highlight(token.text, lang)}</code></pre></div>\n`;
    },
    // Raw HTML (a block or an inline tag) is text.
    html(token: Tokens.HTML | Tokens.Tag): string {
      const text = escapeHtml(token.text);
      return token.block ? `<p>${text.trim()}</p>\n` : text;
    },
    link(token: Tokens.Link): string {
      const text = this.parser.parseInline(token.tokens);
      const title = token.title ? ` title="${escapeHtml(token.title)}"` : ` title="${escapeHtml(token.href)}"`;
      const link = `<a href="${escapeHtml(token.href)}"${title}>${text}</a>`;
      return linkTextIsAddress(token.text, token.href) ? link : link + visibleTarget(token.href);
    },
    image(token: Tokens.Image): string {
      const alt = token.text.trim();
      return `<a href="${escapeHtml(token.href)}" title="${escapeHtml(token.href)}">${escapeHtml(alt ? `image: ${alt}` : 'image')}</a>${visibleTarget(token.href)}`;
    },
  },
});

let hooked = false;
function purifier(): typeof DOMPurify {
  if (!hooked && DOMPurify.isSupported) {
    DOMPurify.addHook('afterSanitizeAttributes', (node) => {
      if (node.tagName === 'A') {
        node.setAttribute('target', '_blank');
        node.setAttribute('rel', 'noopener noreferrer');
      }
    });
    hooked = true;
  }
  return DOMPurify;
}

export interface MarkdownOptions {
  /** A line break in the source is one on the page (messages and notes
   *  written as plain text); off for agent output, as Markdown has it. */
  breaks?: boolean;
}

/** Sanitized HTML for untrusted Markdown. */
export function renderMarkdown(src: string, options: MarkdownOptions = {}): string {
  const html = marked.parse(src ?? '', { breaks: options.breaks ?? false }) as string;
  return sanitize(html).trim();
}

export function sanitize(html: string): string {
  const p = purifier();
  if (!p.isSupported) return escapeHtml(html); // no DOM: never pass raw HTML through
  return p.sanitize(html, {
    USE_PROFILES: { html: true },
    ADD_ATTR: ['target'],
    FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select', 'iframe', 'object', 'embed'],
  }) as string;
}
