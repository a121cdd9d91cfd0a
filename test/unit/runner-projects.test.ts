import { devices } from '@playwright/test';
import { describe, expect, it } from 'vitest';
import { projectBrowser, selectProjects, withoutProjectArgs, workerArgs } from '../../src/runner/projects.ts';

describe('the browser of a Playwright project', () => {
  it('is its browserName, else its device\'s default browser type, else chromium', () => {
    expect(projectBrowser({ ...devices['Desktop Firefox'] })).toBe('firefox');
    expect(projectBrowser({ ...devices['Desktop Safari'] })).toBe('webkit');
    expect(projectBrowser({ ...devices['Pixel 7'] })).toBe('chromium');
    expect(projectBrowser({ ...devices['iPhone 15'] })).toBe('webkit');
    expect(projectBrowser({ ...devices['Desktop Chrome'], ...{ channel: 'chrome' } })).toBe('chromium');
    expect(projectBrowser({ ...devices['Desktop Chrome'], browserName: 'firefox' })).toBe('firefox');
    expect(projectBrowser({})).toBe('chromium');
  });
});

describe('the projects a shard runs', () => {
  const initProjects = [
    { name: 'chromium', browser: 'chromium' },
    { name: 'firefox', browser: 'firefox' },
    { name: 'webkit', browser: 'webkit' },
  ];

  it('are those of the pool\'s browser, the others named with their browser', () => {
    expect(selectProjects(initProjects, 'chromium')).toEqual({
      kind: 'some',
      run: ['chromium'],
      notRun: [{ name: 'firefox', browser: 'firefox' }, { name: 'webkit', browser: 'webkit' }],
    });
  });

  it('are all of them, unfiltered, when every project is of the pool\'s browser', () => {
    expect(selectProjects([{ name: 'setup', browser: 'chromium' }, { name: '', browser: 'chromium' }], 'chromium'))
      .toEqual({ kind: 'all' });
  });

  it('are none when no project is of the pool\'s browser', () => {
    expect(selectProjects(initProjects.slice(1), 'chromium')).toEqual({ kind: 'none', notRun: [
      { name: 'firefox', browser: 'firefox' },
      { name: 'webkit', browser: 'webkit' },
    ] });
  });

  it('replace the user\'s --project filters, in both spellings, and keep every other argument', () => {
    expect(withoutProjectArgs(['--project=firefox', '--grep', '@smoke', '--project', 'chromium', 'webkit', '--shard=1/2', 'a.spec.ts']))
      .toEqual(['--grep', '@smoke', '--shard=1/2', 'a.spec.ts']);
    expect(withoutProjectArgs(['tests/', '--project', 'chromium'])).toEqual(['tests/']);
  });
});

describe('workerArgs', () => {
  it('caps the workers at the sessions a browser serves, and leaves fewer alone', () => {
    expect(workerArgs(4, 1)).toEqual(['--workers=1']);
    expect(workerArgs(2, 2)).toEqual([]);
    expect(workerArgs(1, 4)).toEqual([]);
    expect(workerArgs(undefined, 1)).toEqual([]);
    expect(workerArgs(4, undefined)).toEqual([]);
  });
});
