import { lstat, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { HoistError } from '../errors.js';
import { errnoOf, fsError } from '../fs-errors.js';
import { suggest } from '../dockerfile/instructions/suggest.js';
import { PatternMatcher } from '../dockerfile/ignore/index.js';
import { parseStages, type DockerfileStages } from '../dockerfile/stages.js';
import { loadIgnorePatterns, pathInContext, readContextFile, resolveContextFile } from './context/index.js';
import { planBuild, type BuildPlan, type PlatformSpec } from './plan/index.js';

export interface FrontendOptions {
  contextDir: string;
  /** Path to the Dockerfile; default `<context>/Dockerfile` (or `Containerfile`, as buildah does). */
  dockerfile?: string | undefined;
  /** The Dockerfile's text, when it does not come from a file (`-f -`). */
  dockerfileText?: string | undefined;
  buildArgs: ReadonlyMap<string, string>;
  target?: string | undefined;
  buildPlatform: PlatformSpec;
  targetPlatform: PlatformSpec;
}

export interface BuildDefinition {
  dockerfilePath: string;
  stages: DockerfileStages;
  plan: BuildPlan;
  ignore: { patterns: string[]; file: string | null; matcher: PatternMatcher };
}

/** Whether `p` is a regular file, following symlinks inside the context only (see context-file.ts). */
async function isFile(p: string, contextDir: string): Promise<boolean> {
  try {
    const rel = pathInContext(contextDir, p);
    return (await stat(rel === null ? p : await resolveContextFile(contextDir, rel))).isFile();
  } catch {
    return false;
  }
}

async function locateDockerfile(opts: FrontendOptions): Promise<string> {
  if (opts.dockerfile !== undefined) return opts.dockerfile;
  const dockerfile = path.join(opts.contextDir, 'Dockerfile');
  const containerfile = path.join(opts.contextDir, 'Containerfile');
  if (!(await isFile(dockerfile, opts.contextDir)) && (await isFile(containerfile, opts.contextDir))) return containerfile;
  return dockerfile;
}

/** Files next to `file` that look like what the user meant: the usual names, then near misses of the name given. */
async function nearbyDockerfiles(file: string, contextDir: string): Promise<string[]> {
  const found: string[] = [];
  for (const dir of new Set([path.dirname(file), path.resolve(contextDir)])) {
    const names = await readdir(dir).catch(() => [] as string[]);
    const near = suggest(path.basename(file), names);
    for (const name of [near, 'Dockerfile', 'Containerfile']) {
      if (name === undefined || !names.includes(name)) continue;
      const candidate = path.join(dir, name);
      if (candidate !== file && !found.includes(candidate) && (await isFile(candidate, contextDir))) found.push(candidate);
    }
  }
  return found;
}

async function readDockerfile(file: string, opts: FrontendOptions): Promise<string> {
  const abs = path.resolve(file);
  try {
    return await readContextFile(opts.contextDir, abs);
  } catch (err) {
    if (err instanceof HoistError) throw err;
    const code = errnoOf(err);
    if (code !== 'ENOENT' && code !== 'EISDIR' && code !== 'ENOTDIR') throw fsError(err, abs, 'read the Dockerfile');
    const context = path.resolve(opts.contextDir);
    const candidates = await nearbyDockerfiles(abs, context);
    const viaLink = pathInContext(context, abs) !== null && (await lstat(abs).catch(() => undefined))?.isSymbolicLink() === true;
    const problem =
      (code === 'EISDIR' ? 'it is a directory' : 'no such file') +
      (viaLink ? ' (it is a symlink, followed inside the context as BuildKit does: an absolute target or ".." cannot leave the context)' : '');
    const given = opts.dockerfile === undefined ? '' : ` (-f ${opts.dockerfile})`;
    const tryThis = candidates.length > 0 ? `did you mean ${candidates.map((c) => `-f ${path.relative(process.cwd(), c) || c}`).join(' or ')}? ` : '';
    throw new HoistError('DOCKERFILE_NOT_FOUND', `cannot read Dockerfile ${abs}${given}: ${problem}`, {
      hint: `${tryThis}the context is ${context}; without -f hoist reads CONTEXT/Dockerfile (or Containerfile), and -f PATH is relative to the current directory`,
      cause: err,
    });
  }
}

/**
 * Everything that can be known before any work starts: the typed stages, the
 * expanded plan and the context's ignore rules. Every error here is the
 * user's, located in the Dockerfile or the ignore file.
 */
export async function loadBuildDefinition(opts: FrontendOptions): Promise<BuildDefinition> {
  const contextStat = await stat(opts.contextDir).catch(() => undefined);
  if (!contextStat?.isDirectory()) {
    const problem = contextStat === undefined ? 'does not exist' : 'is not a directory';
    throw new HoistError('CONTEXT_NOT_FOUND', `build context ${path.resolve(opts.contextDir)} ${problem}`, {
      hint: 'give the directory that holds the files your COPY and ADD lines use',
    });
  }
  const dockerfilePath = opts.dockerfileText === undefined ? await locateDockerfile(opts) : (opts.dockerfile ?? '-');
  const text = opts.dockerfileText ?? (await readDockerfile(dockerfilePath, opts));
  const stages = parseStages(text, dockerfilePath);
  const plan = planBuild(stages, {
    buildArgs: opts.buildArgs,
    target: opts.target,
    buildPlatform: opts.buildPlatform,
    targetPlatform: opts.targetPlatform,
  });
  const loaded = await loadIgnorePatterns(opts.contextDir, dockerfilePath === '-' ? path.join(opts.contextDir, 'Dockerfile') : dockerfilePath);
  const matcher = PatternMatcher.compile(loaded.patterns);
  return { dockerfilePath, stages, plan, ignore: { ...loaded, matcher } };
}
