// Projects: the working folders in the sidebar, and which folder a new
// session starts in (the one last chosen here, else Codex's default).

import { api } from '../api';
import { errMsg } from '../format';
import type { Project } from '../types';

export const projects = $state({
  list: [] as Project[],
  error: null as string | null,
});

const LAST_FOLDER = 'perch.lastFolder';

/** The folder new sessions start in when none is chosen: the last one
 *  chosen in this browser, else Codex's default (`null`). */
export function rememberedFolder(): string | null {
  try {
    return localStorage.getItem(LAST_FOLDER);
  } catch {
    return null;
  }
}

export function rememberFolder(path: string | null): void {
  try {
    if (path) localStorage.setItem(LAST_FOLDER, path);
    else localStorage.removeItem(LAST_FOLDER);
  } catch {
    /* storage off: nothing remembered */
  }
}

export async function loadProjects(): Promise<void> {
  try {
    projects.list = (await api.projects()).data;
    projects.error = null;
  } catch (e) {
    projects.error = `The projects could not be read: ${errMsg(e)}`;
  }
}

/** Adds a folder; throws ApiError with what is wrong with the path. */
export async function addProject(path: string): Promise<Project> {
  const project = await api.addProject(path);
  await loadProjects();
  return project;
}

export async function removeProject(id: number): Promise<void> {
  try {
    await api.removeProject(id);
    projects.list = projects.list.filter((p) => p.id !== id);
  } catch (e) {
    projects.error = `The project could not be removed: ${errMsg(e)}`;
  }
}
