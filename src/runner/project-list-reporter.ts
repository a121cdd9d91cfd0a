// A Playwright reporter for `playwright test --list`: writes the workers and
// the projects the run would run, with the browser of each, to the file the
// runner names.
// Runs in Playwright's process, loaded by path.
import { writeFileSync } from 'node:fs';
import type { FullConfig, Reporter, Suite } from '@playwright/test/reporter';
import { PROJECT_LIST_FILE_ENV } from '../contracts/runner.ts';
import { type ListedProject, projectBrowser, type SuiteListing } from './projects.ts';

export default class ProjectListReporter implements Reporter {
  printsToStdio(): boolean {
    return false;
  }

  onBegin(config: FullConfig, suite: Suite): void {
    const projects: ListedProject[] = [];
    for (const child of suite.suites) {
      const project = child.project();
      if (project) projects.push({ name: project.name, browser: projectBrowser(project.use) });
    }
    const file = process.env[PROJECT_LIST_FILE_ENV];
    const listing: SuiteListing = { workers: config.workers, projects };
    if (file) writeFileSync(file, JSON.stringify(listing));
  }
}
