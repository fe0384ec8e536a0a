// The sidebar's groups: sessions under the project whose folder holds their
// working folder (the deepest one), then folders not in the list, then
// sessions without a folder. Pure, unit-tested in tests/projects.test.ts.

import type { Project, Session } from './types';

export interface SessionGroup {
  /** Stable: `p:<id>` for a project, `d:<path>` for another folder, `none`. */
  key: string;
  project: Project | null;
  /** The folder (null for sessions without one). */
  path: string | null;
  name: string;
  sessions: Session[];
}

/** Whether `cwd` is `folder` or a folder in it. */
export function inFolder(cwd: string, folder: string): boolean {
  const base = folder.replace(/\/+$/, '');
  return cwd === base || cwd.startsWith(base + '/');
}

function folderName(path: string): string {
  const parts = path.replace(/\/+$/, '').split('/');
  return parts[parts.length - 1] || path;
}

export function groupSessions(sessions: Session[], projects: Project[]): SessionGroup[] {
  const byProject = new Map<number, SessionGroup>();
  for (const p of projects) byProject.set(p.id, { key: `p:${p.id}`, project: p, path: p.path, name: p.name, sessions: [] });
  const others = new Map<string, SessionGroup>();
  const none: SessionGroup = { key: 'none', project: null, path: null, name: 'No folder', sessions: [] };
  for (const s of sessions) {
    const cwd = s.cwd;
    if (!cwd) {
      none.sessions.push(s);
      continue;
    }
    let best: Project | null = null;
    for (const p of projects) if (inFolder(cwd, p.path) && (!best || p.path.length > best.path.length)) best = p;
    if (best) {
      byProject.get(best.id)?.sessions.push(s);
      continue;
    }
    let group = others.get(cwd);
    if (!group) {
      group = { key: `d:${cwd}`, project: null, path: cwd, name: folderName(cwd), sessions: [] };
      others.set(cwd, group);
    }
    group.sessions.push(s);
  }
  const groups = [...byProject.values(), ...[...others.values()].sort((a, b) => a.name.localeCompare(b.name))];
  if (none.sessions.length > 0) groups.push(none);
  return groups;
}

/** A project's git state in words: "main · 3 changed", "detached · clean". */
export function gitSummary(p: Project): string | null {
  if (!p.git) return null;
  const branch = p.git.branch ?? 'detached HEAD';
  const n = p.git.changedFiles;
  return `${branch} · ${n === 0 ? 'clean' : n === 1 ? '1 uncommitted file' : `${n} uncommitted files`}`;
}
