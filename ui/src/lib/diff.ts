// A file change as the diff view shows it: hunks of numbered lines, counts
// that are true for added and deleted files (whose "diff" from Codex is the
// file's content), and the rows of the split view. Pure; unit-tested in
// tests/diff.test.ts.

import type { FileChange } from './types';

export type LineKind = 'add' | 'del' | 'ctx' | 'note';

export interface DiffLine {
  kind: LineKind;
  text: string;
  /** Line number before the change (null for an added line). */
  oldNo: number | null;
  /** Line number after it (null for a deleted line). */
  newNo: number | null;
}

export interface Hunk {
  /** `@@ -1,3 +1,4 @@ fn main` or '' for a whole added or deleted file. */
  header: string;
  lines: DiffLine[];
}

export interface DiffFile {
  path: string;
  /** Where an update moves the file. */
  movePath: string | null;
  kind: 'add' | 'delete' | 'update' | 'other';
  hunks: Hunk[];
  added: number;
  removed: number;
}

/** One row of the split view: the old side and the new side. */
export interface SplitRow {
  left: DiffLine | null;
  right: DiffLine | null;
}

function contentLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** A unified diff's hunks (file headers skipped). */
export function parseUnified(diff: string): Hunk[] {
  const hunks: Hunk[] = [];
  let hunk: Hunk | null = null;
  let oldNo = 0;
  let newNo = 0;
  for (const line of contentLines(diff)) {
    const header = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(line);
    if (header) {
      oldNo = Number(header[1]);
      newNo = Number(header[2]);
      hunk = { header: line, lines: [] };
      hunks.push(hunk);
      continue;
    }
    if (!hunk) continue; // `diff --git`, `---`, `+++`, `index` before the first hunk
    if (line.startsWith('+')) hunk.lines.push({ kind: 'add', text: line.slice(1), oldNo: null, newNo: newNo++ });
    else if (line.startsWith('-')) hunk.lines.push({ kind: 'del', text: line.slice(1), oldNo: oldNo++, newNo: null });
    else if (line.startsWith('\\')) hunk.lines.push({ kind: 'note', text: line.slice(1).trim(), oldNo: null, newNo: null });
    else hunk.lines.push({ kind: 'ctx', text: line.slice(1), oldNo: oldNo++, newNo: newNo++ });
  }
  return hunks;
}

export function diffFile(change: FileChange): DiffFile {
  const kind = change.kind.type;
  const movePath = change.kind.type === 'update' ? (change.kind.movePath ?? null) : null;
  let hunks: Hunk[];
  if (kind === 'add' || kind === 'delete') {
    // Codex gives an added or deleted file's content, not a diff (unless it
    // already is one).
    hunks = /^(@@|--- |diff --git)/m.test(change.diff)
      ? parseUnified(change.diff)
      : [
          {
            header: '',
            lines: contentLines(change.diff).map((text, i) =>
              kind === 'add'
                ? { kind: 'add' as const, text, oldNo: null, newNo: i + 1 }
                : { kind: 'del' as const, text, oldNo: i + 1, newNo: null },
            ),
          },
        ];
  } else {
    hunks = parseUnified(change.diff);
  }
  let added = 0;
  let removed = 0;
  for (const h of hunks) for (const l of h.lines) (l.kind === 'add' ? added++ : l.kind === 'del' ? removed++ : 0);
  return { path: change.path, movePath, kind: kind === 'other' ? 'other' : kind, hunks, added, removed };
}

/** The split view's rows: context on both sides, a run of deletions
 *  beside the run of additions that replaces it. */
export function splitRows(hunk: Hunk): SplitRow[] {
  const rows: SplitRow[] = [];
  let dels: DiffLine[] = [];
  let adds: DiffLine[] = [];
  const flush = () => {
    for (let i = 0; i < Math.max(dels.length, adds.length); i++) rows.push({ left: dels[i] ?? null, right: adds[i] ?? null });
    dels = [];
    adds = [];
  };
  for (const line of hunk.lines) {
    if (line.kind === 'del') {
      if (adds.length > 0) flush();
      dels.push(line);
    } else if (line.kind === 'add') {
      adds.push(line);
    } else {
      flush();
      rows.push({ left: line, right: line });
    }
  }
  flush();
  return rows;
}

const SPLIT_KEY = 'perch.diffSplit';

/** Split or unified: the person's choice, kept in this browser for every diff. */
export function loadSplitPreference(): boolean {
  try {
    return localStorage.getItem(SPLIT_KEY) === '1';
  } catch {
    return false;
  }
}

export function saveSplitPreference(split: boolean): void {
  try {
    localStorage.setItem(SPLIT_KEY, split ? '1' : '0');
  } catch {
    /* not kept */
  }
}
