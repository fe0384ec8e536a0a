import { describe, expect, it } from 'vitest';
import { gitSummary, groupSessions, inFolder } from '../src/lib/projects';
import type { Project, Session } from '../src/lib/types';

const session = (id: string, cwd: string | null): Session => ({
  id,
  name: null,
  preview: id,
  pinned: false,
  archived: false,
  createdAt: 0,
  lastActivityAt: 0,
  model: null,
  effort: null,
  cwd,
  activeTurnId: null,
  tokenUsage: null,
});

const project = (id: number, path: string, git: Project['git'] = null): Project => ({
  id,
  path,
  name: path.split('/').pop() ?? path,
  exists: true,
  git,
  sessions: 0,
  addedAt: 0,
});

describe('groupSessions', () => {
  it('puts a session under the deepest project holding its folder, then other folders, then none', () => {
    const projects = [project(1, '/src'), project(2, '/src/parser'), project(3, '/empty')];
    const groups = groupSessions(
      [session('a', '/src/parser/lib'), session('b', '/src/app'), session('c', '/tmp/x'), session('d', null), session('e', '/src/parserx')],
      projects,
    );
    expect(groups.map((g) => [g.key, g.sessions.map((s) => s.id)])).toEqual([
      ['p:1', ['b', 'e']],
      ['p:2', ['a']],
      ['p:3', []],
      ['d:/tmp/x', ['c']],
      ['none', ['d']],
    ]);
    expect(groups[3].name).toBe('x');
  });

  it('knows a folder from one that only starts with the same letters', () => {
    expect(inFolder('/src/parser', '/src/parser/')).toBe(true);
    expect(inFolder('/src/parser/a', '/src/parser')).toBe(true);
    expect(inFolder('/src/parserx', '/src/parser')).toBe(false);
  });

  it('says the git state in words', () => {
    expect(gitSummary(project(1, '/a', { branch: 'main', changedFiles: 0 }))).toBe('main · clean');
    expect(gitSummary(project(1, '/a', { branch: null, changedFiles: 1 }))).toBe('detached HEAD · 1 uncommitted file');
    expect(gitSummary(project(1, '/a', { branch: 'dev', changedFiles: 3 }))).toBe('dev · 3 uncommitted files');
    expect(gitSummary(project(1, '/a'))).toBeNull();
  });
});
