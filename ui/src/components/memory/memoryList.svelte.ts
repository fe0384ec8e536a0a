// The Memory page's list: the memories shown for the search, their total,
// the selection, the one being edited, and the loads that keep it current.
// The page makes one and hands it to the panels that show and change it.

import { SvelteSet } from 'svelte/reactivity';
import { api, ApiError } from '../../lib/api';
import { errMsg } from '../../lib/format';
import type { Memory } from '../../lib/types';

const PAGE = 50;

export class MemoryList {
  /** What is typed in the search box. */
  queryInput = $state('');
  /** The query of the list shown (the input, debounced). */
  query = $state('');
  memories = $state<Memory[]>([]);
  total = $state(0);
  loaded = $state(false);
  loading = $state(false);
  error = $state<string | null>(null);
  readonly selected = new SvelteSet<number>();
  /** One memory is edited at a time. */
  editingId = $state<number | null>(null);

  /** The best search score shown; the others are hinted relative to it. */
  readonly best = $derived(Math.max(0, ...this.memories.map((m) => (typeof m.score === 'number' ? m.score : 0))));

  private request = 0;
  private searchTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;

  /** Loads the first `count` memories for the query (a live refresh keeps as many as are shown). */
  async load(count = PAGE): Promise<void> {
    const id = ++this.request;
    this.loading = true;
    try {
      // The server returns at most 500 at a time.
      const page = await api.memories({ q: this.query || undefined, limit: Math.min(500, Math.max(PAGE, count)), offset: 0 });
      if (id !== this.request) return;
      this.memories = page.data;
      this.total = page.total;
      this.error = null;
      this.loaded = true;
      // Forget selected memories that are gone.
      for (const sel of [...this.selected]) if (!page.data.some((m) => m.id === sel)) this.selected.delete(sel);
    } catch (e) {
      if (id === this.request && !(e instanceof ApiError && e.status === 401)) this.error = errMsg(e);
    } finally {
      if (id === this.request) this.loading = false;
    }
  }

  async loadMore(): Promise<void> {
    const id = ++this.request;
    this.loading = true;
    try {
      const page = await api.memories({ q: this.query || undefined, limit: PAGE, offset: this.memories.length });
      if (id !== this.request) return;
      const known = new Set(this.memories.map((m) => m.id));
      this.memories = [...this.memories, ...page.data.filter((m) => !known.has(m.id))];
      this.total = page.total;
    } catch (e) {
      if (id === this.request) this.error = errMsg(e);
    } finally {
      if (id === this.request) this.loading = false;
    }
  }

  /** Reloads as many memories as are shown. */
  refresh(): void {
    void this.load(this.memories.length);
  }

  /** The search box changed: search once typing pauses. */
  search(): void {
    clearTimeout(this.searchTimer);
    this.searchTimer = setTimeout(() => {
      const q = this.queryInput.trim();
      if (q === this.query) return;
      this.query = q;
      void this.load();
    }, 300);
  }

  /** Live: another window, the agent or an import changed memories. */
  refreshSoon(): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.refresh(), 250);
  }

  /** The page is gone: no more loads. */
  stop(): void {
    clearTimeout(this.searchTimer);
    clearTimeout(this.refreshTimer);
  }

  added(m: Memory): void {
    if (this.query) {
      this.refresh();
      return;
    }
    this.memories = [m, ...this.memories.filter((x) => x.id !== m.id)];
    this.total += 1;
  }

  /** Makes sure `m` is listed (a search result opened it), without
   *  counting it as new. */
  shown(m: Memory): void {
    if (!this.memories.some((x) => x.id === m.id)) this.memories = [m, ...this.memories];
  }

  /** Shows an edited memory (its search score stays). */
  updated(m: Memory): void {
    this.memories = this.memories.map((x) => (x.id === m.id ? { ...m, score: x.score } : x));
  }

  /** Takes deleted memories off the list; `count` is how many the server deleted. */
  removed(ids: number[], count: number): void {
    for (const id of ids) this.selected.delete(id);
    this.memories = this.memories.filter((m) => !ids.includes(m.id));
    this.total = Math.max(0, this.total - count);
  }
}
