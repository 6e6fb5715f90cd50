/**
 * Every relative link and anchor in README.md and docs/ leads somewhere: the file exists inside the
 * repository and, for `file.md#anchor`, the anchor is a heading (GitHub's slug) or an explicit
 * `<a id>` of that file. Code comments that cite a reference-differences id (Q14, R7, G2) must cite
 * one that exists.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function markdownFiles(): string[] {
  const files = ['README.md'];
  const walk = (dir: string) => {
    for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.md')) files.push(p);
    }
  };
  walk('docs');
  return files;
}

/** The text outside fenced code blocks, with inline code spans and HTML comments blanked. */
function proseOf(markdown: string): string {
  let inFence = false;
  const lines = markdown.split('\n').map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      inFence = !inFence;
      return '';
    }
    return inFence ? '' : line;
  });
  return lines
    .join('\n')
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/`[^`\n]*`/g, '``');
}

/** GitHub's heading anchor: lower case, punctuation dropped (except - and _), spaces to hyphens. */
function githubSlug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/[`*]/g, '')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '').replace(/ /g, '-');
}

/** Anchors a markdown file offers: heading slugs (with GitHub's -1, -2 suffixes) and <a id/name>. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const counts = new Map<string, number>();
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
    if (inFence) continue;
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (h) {
      const base = githubSlug(h[1]!);
      const n = counts.get(base) ?? 0;
      counts.set(base, n + 1);
      anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const m of line.matchAll(/<a\s[^>]*?(?:id|name)="([^"]+)"/g)) anchors.add(m[1]!);
  }
  return anchors;
}

/** Link targets in a markdown file: inline links and images, reference definitions, href/src. */
function linkTargets(markdown: string): string[] {
  const prose = proseOf(markdown);
  const targets: string[] = [];
  for (const m of prose.matchAll(/!?\[(?:[^\]\n]|\][^(\n])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) targets.push(m[1]!);
  for (const m of prose.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)) targets.push(m[1]!);
  for (const m of prose.matchAll(/<(?:a|img)\s[^>]*?(?:href|src)="([^"]+)"/g)) targets.push(m[1]!);
  return targets;
}

const isExternal = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target);

describe('docs links', () => {
  const files = markdownFiles();
  const anchorCache = new Map<string, Set<string>>();
  const anchors = (file: string) => {
    let a = anchorCache.get(file);
    if (!a) anchorCache.set(file, (a = anchorsOf(readFileSync(join(root, file), 'utf8'))));
    return a;
  };

  it('finds the documentation', () => {
    expect(files).toContain('README.md');
    expect(files).toContain('docs/reference-differences.md');
  });

  for (const file of files) {
    it(`${file}: every relative link and anchor resolves`, () => {
      const problems: string[] = [];
      for (const target of linkTargets(readFileSync(join(root, file), 'utf8'))) {
        if (isExternal(target)) continue;
        const hash = target.indexOf('#');
        const path = decodeURI(hash < 0 ? target : target.slice(0, hash));
        const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
        const abs = path === '' ? join(root, file) : resolve(root, dirname(file), path);
        const rel = relative(root, abs).split(sep).join('/');
        if (rel.startsWith('..')) {
          problems.push(`${target}: points outside the repository`);
          continue;
        }
        if (!existsSync(abs)) {
          problems.push(`${target}: ${rel} does not exist`);
          continue;
        }
        if (anchor === undefined || anchor === '') continue;
        if (!rel.endsWith('.md') || statSync(abs).isDirectory()) {
          problems.push(`${target}: anchors can only be checked in markdown files`);
          continue;
        }
        if (!anchors(rel).has(anchor)) problems.push(`${target}: ${rel} has no heading or <a id> "${anchor}"`);
      }
      expect(problems).toEqual([]);
    });
  }

  it('code comments cite reference-differences ids that exist, not sections of the outside specification', () => {
    const ids = anchors('docs/reference-differences.md');
    const problems: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
        const p = `${dir}/${e.name}`;
        if (e.isDirectory()) walk(p);
        else if (/\.(ts|mts|mjs|js|cc|h)$/.test(e.name)) {
          readFileSync(join(root, p), 'utf8')
            .split('\n')
            .forEach((line, i) => {
              const comment = /(\/\/|\/\*|^\s*\*)(.*)$/.exec(line)?.[2];
              if (!comment) return;
              for (const m of comment.matchAll(/\b([QRG]\d{1,2})\b(?![_.\d])/g)) {
                if (!ids.has(m[1]!.toLowerCase())) problems.push(`${p}:${i + 1}: ${m[1]} is not an id in docs/reference-differences.md`);
              }
              const section = /§\s*\d|\bAppendix [AB]\b/.exec(comment);
              if (section)
                problems.push(`${p}:${i + 1}: "${section[0]}" cites the outside specification: use the docs/reference-differences.md id`);
            });
        }
      }
    };
    for (const dir of ['src', 'native', 'test', 'scripts', 'bench']) if (existsSync(join(root, dir))) walk(dir);
    expect(problems).toEqual([]);
  });

  it('the link checker itself: slugs, anchors, targets', () => {
    expect(githubSlug('Q14 — base_model ignores `pool`')).toBe('q14--base_model-ignores-pool');
    expect(githubSlug('Relation to [Python](https://x.y) WeightWatcher')).toBe('relation-to-python-weightwatcher');
    const md =
      '# A\n## A\n<a id="q1"></a>\n```\n# not a heading\n[x](nowhere.md)\n```\n[y](docs/y.md#A) `[z](z.md)` ![i](img.png)\n[ref]: ./r.md\n<!-- [c](c.md) -->';
    expect([...anchorsOf(md)].sort()).toEqual(['a', 'a-1', 'q1']);
    expect(linkTargets(md)).toEqual(['docs/y.md#A', 'img.png', './r.md']);
  });
});
