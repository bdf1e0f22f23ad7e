import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { HoistError } from '../errors.js';
import { PatternMatcher } from '../dockerfile/ignore/index.js';
import { parseStages, type DockerfileStages } from '../dockerfile/stages.js';
import { loadIgnorePatterns } from './context/index.js';
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

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

async function locateDockerfile(opts: FrontendOptions): Promise<string> {
  if (opts.dockerfile !== undefined) return opts.dockerfile;
  const dockerfile = path.join(opts.contextDir, 'Dockerfile');
  const containerfile = path.join(opts.contextDir, 'Containerfile');
  if (!(await isFile(dockerfile)) && (await isFile(containerfile))) return containerfile;
  return dockerfile;
}

async function readDockerfile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new HoistError('DOCKERFILE_NOT_FOUND', `cannot read Dockerfile ${JSON.stringify(file)}: ${code ?? (err as Error).message}`, {
      hint: code === 'ENOENT' ? 'check the path, or name it with -f FILE' : undefined,
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
    throw new HoistError('CONTEXT_NOT_FOUND', `build context ${JSON.stringify(opts.contextDir)} is not a directory`, {
      hint: 'give the directory that holds the files your COPY and ADD lines use',
    });
  }
  const dockerfilePath = opts.dockerfileText === undefined ? await locateDockerfile(opts) : (opts.dockerfile ?? '-');
  const text = opts.dockerfileText ?? (await readDockerfile(dockerfilePath));
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
