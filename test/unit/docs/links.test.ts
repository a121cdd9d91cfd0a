// The README and docs/ hold together: every relative link leads to a file and
// a heading that exist, every document of docs/ is reachable from the README,
// and the README stays what a newcomer reads in one go.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../../hack/lib/paths.ts';
import { anchors, localLinks } from './markdown.ts';

const docs = readdirSync(join(repoRoot, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => join('docs', f));
const documents = ['README.md', 'CHANGELOG.md', ...docs];

describe('the documentation', () => {
  it.each(documents)('%s: every relative link leads to a file, and to a heading of it', (doc) => {
    const file = join(repoRoot, doc);
    const broken: string[] = [];
    for (const { target, line } of localLinks(file)) {
      const [path = '', anchor] = target.split('#');
      const to = path === '' ? file : join(dirname(file), decodeURIComponent(path));
      if (!existsSync(to)) broken.push(`${doc}:${line}: ${target} (no file ${relative(repoRoot, to)})`);
      else if (anchor !== undefined && to.endsWith('.md') && !anchors(to).has(anchor)) {
        broken.push(`${doc}:${line}: ${target} (no heading with that anchor in ${relative(repoRoot, to)})`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('links every document of docs/ from the README', () => {
    const linked = new Set(localLinks(join(repoRoot, 'README.md')).map(({ target }) => target.split('#')[0]));
    expect(docs.filter((doc) => !linked.has(doc))).toEqual([]);
  });

  it.each(docs)('%s: a long document opens with its contents', (doc) => {
    const text = readFileSync(join(repoRoot, doc), 'utf8');
    if (text.split('\n').length < 150) return;
    const sections = [...text.matchAll(/^## (.*)$/gm)].map((m) => m[1]);
    expect(sections[0]).toBe('Contents');
  });

  it('keeps the README under 400 lines: the rest belongs in docs/', () => {
    expect(readFileSync(join(repoRoot, 'README.md'), 'utf8').split('\n').length).toBeLessThan(400);
  });
});
