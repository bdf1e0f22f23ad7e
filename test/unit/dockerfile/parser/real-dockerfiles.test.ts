import { readdirSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { parseDockerfile, type ParsedDockerfile } from '../../../../src/dockerfile/parser/index.js';
import { conformancePath, readConformance } from './conformance.js';

const folder = 'real-dockerfiles/';
const files = readdirSync(conformancePath(folder))
  .filter((name) => name.endsWith('.Dockerfile'))
  .sort();

function parse(name: string): ParsedDockerfile {
  return parseDockerfile(readConformance(folder + name), name);
}

describe('real-world Dockerfiles (real-dockerfiles/)', () => {
  test('the corpus holds 492 files', () => {
    expect(files).toHaveLength(492);
  });

  test('every file parses, with ordered line ranges', () => {
    const failures: string[] = [];
    for (const name of files) {
      try {
        const parsed = parse(name);
        let previousEnd = 0;
        for (const node of parsed.instructions) {
          if (node.startLine <= previousEnd || node.endLine < node.startLine) throw new Error(`bad range at line ${node.startLine}`);
          previousEnd = node.endLine;
        }
      } catch (err) {
        failures.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    expect(failures).toEqual([]);
  });

  test('moby/buildkit Dockerfile: syntax directive, 49 stages, heredocs with flags', () => {
    const parsed = parse('moby_buildkit__Dockerfile.Dockerfile');
    expect(parsed.directives).toEqual({ syntax: 'docker/dockerfile-upstream:master', escape: '\\' });
    expect(parsed.instructions.filter((n) => n.keyword === 'from')).toHaveLength(49);
    const withHeredoc = parsed.instructions.filter((n) => n.heredocs.length > 0);
    expect(withHeredoc.length).toBeGreaterThanOrEqual(10);
    const build = parsed.instructions.find((n) => n.keyword === 'copy' && n.heredocs[0]?.chomp);
    expect(build?.flags).toEqual(['--chmod=755']);
    expect(build?.args).toEqual(['<<-EOT', '/build.sh']);
    expect(parsed.instructions.some((n) => n.flags.some((f) => f.startsWith('--mount=')))).toBe(true);
  });

  test('moby/moby Windows Dockerfile: escape=` joins backtick continuations', () => {
    const parsed = parse('moby_moby__Dockerfile.windows.Dockerfile');
    expect(parsed.directives.escape).toBe('`');
    const continued = parsed.instructions.filter((n) => n.endLine > n.startLine);
    expect(continued.length).toBeGreaterThan(0);
    for (const node of continued) expect(node.original).not.toMatch(/`[ \t]*$/);
  });

  test('python onbuild: ONBUILD wraps COPY and RUN', () => {
    const parsed = parse('docker-library_python__3.4__jessie__onbuild__Dockerfile.Dockerfile');
    const triggers = parsed.instructions.filter((n) => n.keyword === 'onbuild');
    expect(triggers.map((n) => [n.args, n.onbuild?.keyword, n.onbuild?.args])).toEqual([
      [[], 'copy', ['requirements.txt', '/usr/src/app/']],
      [[], 'run', ['pip install --no-cache-dir -r requirements.txt']],
      [[], 'copy', ['.', '/usr/src/app']],
    ]);
  });

  test('python 3.13 slim: FROM, ENV triples, exec-form CMD', () => {
    const parsed = parse('docker-library_python__3.13__slim-bookworm__Dockerfile.Dockerfile');
    expect(parsed.instructions[0]?.keyword).toBe('from');
    const env = parsed.instructions.find((n) => n.keyword === 'env');
    expect(env && env.args.length % 3).toBe(0);
    const cmd = parsed.instructions.at(-1);
    expect(cmd?.keyword).toBe('cmd');
    expect(cmd?.json).toBe(true);
  });
});
