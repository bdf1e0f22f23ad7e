/**
 * The three peer corpora in ../shared/conformance (buildah's conformance
 * table, buildah's `tests/bud` inputs, Kaniko's integration Dockerfiles) as
 * one list of build cases. Data is referenced in place; a case's context is
 * copied to a temp dir only when files must be added (an inline Dockerfile,
 * an omitted payload file, a context tweak) or when it holds one of the
 * corpus's symbolic links, which some copies of shared/ lose (SYMLINKS.tsv).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, lstat, lutimes, mkdir, mkdtemp, readlink, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execOk } from './exec.js';
import { EXTRA_CASES } from './extra-cases.js';
import { BUD_TWEAKS, TEST_DATE, conformanceTweak, settleTimes } from './tweaks.js';

/** ../shared/conformance, resolved from this file (test/helpers/peers/). */
export const CONFORMANCE_DIR = fileURLToPath(new URL('../../../../shared/conformance/', import.meta.url));

export type Corpus = 'buildah-conformance' | 'buildah-bud' | 'kaniko-integration' | 'extra';

export interface PeerCase {
  /** Unique and stable: `corpus/...`. The key used in testdata/peers/*.json. */
  id: string;
  corpus: Corpus;
  needsNetwork: boolean;
  /** Both builders must refuse it (conformance `shouldFailAt`, deliberately bad Dockerfiles). */
  shouldFail: boolean;
  /** Conformance `shouldFailAt`: the Dockerfile line the build must fail at. */
  failAtLine?: number;
  buildArgs: Record<string, string>;
  /** Upstream's per-case list of filesystem keys to skip, in its `(dir):a:(dir):b:mtime` syntax. */
  fsSkip: string[];
  /** Upstream ran a Go/Bats callback to change the context; true when we have no reproduction of it. */
  untranscribedTweak: boolean;
  /** Make the context; returns the context dir, the Dockerfile's absolute path and any temp dir to remove afterwards. */
  prepare(): Promise<Prepared>;
  /** The Dockerfile text, for reports. */
  dockerfileText(): string;
}

export interface Prepared {
  contextDir: string;
  dockerfile: string;
  /** A temporary directory holding a copied context; the caller removes it. */
  temp?: string;
}

interface ConformanceCase {
  index: number;
  name: string;
  dockerfileContents?: string;
  dockerfile?: string;
  dockerfile_path?: string;
  contextDir?: string;
  tweakContextDir?: boolean;
  shouldFailAt?: number;
  fsSkip?: string[];
  buildArgs?: Record<string, string>;
  withoutDocker?: boolean;
  transientMounts?: string[];
  omitted_context_files?: string[];
  needs_network?: boolean;
}

interface IndexEntry {
  file: string;
  needs_network?: boolean;
  build_args?: string[];
  dockerignore?: string;
}

function readJson<T>(rel: string): T {
  return JSON.parse(readFileSync(path.join(CONFORMANCE_DIR, rel), 'utf8')) as T;
}

async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), prefix));
}

export interface CorpusLink {
  /** Absolute path of the link in the corpus. */
  path: string;
  target: string;
}

/** SYMLINKS.tsv: every symbolic link of the corpus (path relative to the corpus, tab, target). */
export function corpusLinks(): CorpusLink[] {
  const text = readFileSync(path.join(CONFORMANCE_DIR, 'SYMLINKS.tsv'), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [rel, target, ...rest] = line.split('\t');
      if (rel === undefined || target === undefined || target === '' || rest.length > 0) throw new Error(`SYMLINKS.tsv: bad line ${JSON.stringify(line)}`);
      return { path: path.join(CONFORMANCE_DIR, rel), target };
    });
}

/** The corpus links below `dir`, as paths relative to it. */
export function linksUnder(dir: string): Array<{ rel: string; target: string }> {
  const root = path.resolve(dir);
  return corpusLinks()
    .filter((l) => l.path.startsWith(root + path.sep))
    .map((l) => ({ rel: path.relative(root, l.path), target: l.target }));
}

/**
 * Make the corpus links of `src` real links in its copy `dst`. A lost link
 * arrives as a small regular file holding its target; it is replaced, and
 * the times of the link and of its directory are kept, so the copy looks
 * like a checkout that kept its links.
 */
async function restoreLinks(src: string, dst: string): Promise<void> {
  for (const { rel, target } of linksUnder(src)) {
    const abs = path.join(dst, rel);
    const st = await lstat(abs).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined; // a copy that dropped the link altogether
      throw e;
    });
    if (st?.isSymbolicLink()) {
      const now = await readlink(abs);
      if (now !== target) throw new Error(`${abs} links to ${now}, SYMLINKS.tsv says ${target}`);
      continue;
    }
    const parent = path.dirname(abs);
    const dirSt = await lstat(parent);
    await chmod(parent, dirSt.mode | 0o200); // the corpus may be read-only, and so its copy
    await rm(abs, { recursive: true, force: true });
    await symlink(target, abs);
    if (st) await lutimes(abs, st.atime, st.mtime);
    await chmod(parent, dirSt.mode & 0o7777);
    await utimes(parent, dirSt.atime, dirSt.mtime);
  }
}

/** `cp -a SRC/. DST/`: modes, times and symlinks kept; the corpus links SYMLINKS.tsv lists are real links in the copy. */
async function copyTree(src: string, dst: string): Promise<void> {
  await mkdir(dst, { recursive: true });
  await execOk('cp', ['-a', `${src}/.`, `${dst}/`]);
  await restoreLinks(src, dst);
}

/**
 * A context from the corpus: in place, unless it holds corpus links, which
 * some copies of shared/ lose; then a copy with the links made real.
 * `dockerfile` is inside `contextDir` or elsewhere in the corpus.
 */
async function corpusContext(contextDir: string, dockerfile: string): Promise<Prepared> {
  if (linksUnder(contextDir).length === 0) return { contextDir, dockerfile };
  const temp = await tempDir('peer-ctx-');
  const copy = path.join(temp, path.basename(contextDir));
  await copyTree(contextDir, copy);
  const inside = !path.relative(contextDir, dockerfile).startsWith('..');
  return { contextDir: copy, dockerfile: inside ? path.join(copy, path.relative(contextDir, dockerfile)) : dockerfile, temp };
}

const BC_DATA = 'buildah-conformance/testdata';

function conformanceCase(c: ConformanceCase): PeerCase {
  const data = path.join(CONFORMANCE_DIR, BC_DATA);
  const tweak = c.tweakContextDir ? conformanceTweak(c.index, c.name) : undefined;
  const inline = c.dockerfileContents !== undefined;
  const omitted = (c.omitted_context_files ?? []).filter((f) => !f.includes(' '));
  const dockerfileRel = c.dockerfile ?? 'Dockerfile';
  const id = `buildah-conformance/${c.index}-${c.name.replace(/\s+/g, '-')}`;
  const text = (): string =>
    inline ? (c.dockerfileContents as string) : readFileSync(path.join(data, c.dockerfile_path ?? path.join(c.contextDir ?? '', dockerfileRel)), 'utf8');
  return {
    id,
    corpus: 'buildah-conformance',
    needsNetwork: c.needs_network === true || (c.transientMounts?.length ?? 0) > 0,
    shouldFail: (c.shouldFailAt ?? 0) > 0,
    ...((c.shouldFailAt ?? 0) > 0 ? { failAtLine: c.shouldFailAt } : {}),
    buildArgs: c.buildArgs ?? {},
    fsSkip: c.fsSkip ?? [],
    untranscribedTweak: c.tweakContextDir === true && tweak === undefined,
    dockerfileText: text,
    async prepare() {
      const inPlace = !inline && omitted.length === 0 && !c.tweakContextDir && c.contextDir !== undefined;
      if (inPlace) {
        const contextDir = path.join(data, c.contextDir as string);
        return corpusContext(contextDir, path.join(contextDir, dockerfileRel));
      }
      // As upstream: the context is a copy of testdata/<contextDir> (or just the named
      // Dockerfile, or nothing); the Dockerfile is (re)written 0644 with the test date.
      const since = Date.now() - 1000;
      const temp = await tempDir('peer-ctx-');
      const contextDir = path.join(temp, 'context');
      if (c.contextDir !== undefined) await copyTree(path.join(data, c.contextDir), contextDir);
      else await mkdir(contextDir, { recursive: true });
      const dockerfile = path.join(contextDir, dockerfileRel);
      await mkdir(path.dirname(dockerfile), { recursive: true });
      await writeFile(dockerfile, text(), { mode: 0o644 });
      await chmod(dockerfile, 0o644);
      await utimes(dockerfile, TEST_DATE, TEST_DATE);
      for (const f of omitted) {
        // Upstream's tiny shell-script payloads were not copied; any small 0644 file will do.
        const p = path.join(contextDir, f);
        if (!existsSync(p)) {
          await writeFile(p, '#!/bin/sh\nexit 0\n', { mode: 0o644 });
          await utimes(p, TEST_DATE, TEST_DATE);
        }
      }
      if (tweak) await tweak(contextDir);
      await settleTimes(contextDir, since, TEST_DATE);
      await utimes(contextDir, TEST_DATE, TEST_DATE);
      return { contextDir, dockerfile, temp };
    },
  };
}

/** Deliberately broken inputs in buildah's bud folder (see buildah-bud/SOURCE.md). */
function budShouldFail(file: string): boolean {
  const base = path.basename(file);
  return (
    base.endsWith('.bad') ||
    base === 'Containerfilebad' ||
    base.startsWith('Dockerfile.fail') ||
    file.endsWith('preprocess/Error.in') ||
    file.endsWith('from-multiple-files/Dockerfile2.nofrom')
  );
}

function budCase(e: IndexEntry): PeerCase {
  const file = path.join(CONFORMANCE_DIR, 'buildah-bud', e.file);
  const rel = e.file.replace(/^bud\//, '');
  const tweak = BUD_TWEAKS[rel];
  return {
    id: `buildah-bud/${rel}`,
    corpus: 'buildah-bud',
    needsNetwork: e.needs_network === true,
    shouldFail: budShouldFail(e.file),
    buildArgs: {},
    fsSkip: [],
    untranscribedTweak: false,
    dockerfileText: () => readFileSync(file, 'utf8'),
    async prepare() {
      if (!tweak) return corpusContext(path.dirname(file), file);
      const since = Date.now() - 1000;
      const temp = await tempDir('peer-ctx-');
      const contextDir = path.join(temp, path.basename(path.dirname(file)));
      await mkdir(contextDir, { recursive: true });
      const made = await tweak(contextDir, file);
      await settleTimes(contextDir, since, TEST_DATE);
      return { ...made, temp };
    },
  };
}

function kanikoCase(e: IndexEntry): PeerCase {
  const file = path.join(CONFORMANCE_DIR, 'kaniko-integration', e.file);
  const buildArgs: Record<string, string> = {};
  for (const a of e.build_args ?? []) {
    const eq = a.indexOf('=');
    buildArgs[eq < 0 ? a : a.slice(0, eq)] = eq < 0 ? '' : a.slice(eq + 1);
  }
  // Upstream's build context for dockerfiles/* is the integration/ folder; dockerfiles-with-context/* are their own.
  const contextDir = e.file.includes('/dockerfiles-with-context/') || e.file.includes('/benchmark_fs/') || e.file.includes('/testdata/')
    ? path.dirname(file)
    : path.join(CONFORMANCE_DIR, 'kaniko-integration', 'integration');
  return {
    id: `kaniko-integration/${e.file.replace(/^integration\//, '')}`,
    corpus: 'kaniko-integration',
    needsNetwork: e.needs_network === true,
    shouldFail: /_404$/.test(e.file),
    buildArgs,
    fsSkip: [],
    untranscribedTweak: false,
    dockerfileText: () => readFileSync(file, 'utf8'),
    async prepare() {
      return corpusContext(contextDir, file);
    },
  };
}

/** Every case of the three corpora, then the suite's own extra cases. */
export function loadCases(): PeerCase[] {
  const cases: PeerCase[] = [];
  for (const c of readJson<ConformanceCase[]>('buildah-conformance/cases.json')) cases.push(conformanceCase(c));
  for (const e of readJson<IndexEntry[]>('buildah-bud/index.json')) cases.push(budCase(e));
  for (const e of readJson<IndexEntry[]>('kaniko-integration/index.json')) {
    // Only Dockerfiles: the per-Dockerfile ignore file is listed alongside, not as a build.
    if (e.file.endsWith('.dockerignore')) continue;
    cases.push(kanikoCase(e));
  }
  cases.push(...EXTRA_CASES);
  return cases;
}

/** Sanity check that the conformance data is where we expect it. */
export function conformanceDataPresent(): boolean {
  try {
    return statSync(path.join(CONFORMANCE_DIR, 'README.md')).isFile();
  } catch {
    return false;
  }
}
