import { posix } from 'node:path';
import { chompHeredocContent } from '../../dockerfile/parser/index.js';
import type { AddInstr, CopyInstr } from '../../dockerfile/instructions/types.js';
import { PatternMatcher } from '../../dockerfile/ignore/index.js';
import { memoryFile, type CopyItem, type CopyLayout } from '../copy/copy-entries.js';
import { resolveOwner } from '../copy/owner.js';
import { resolveParentsSource } from '../copy/parents-sources.js';
import { noSourceFiles, resolveSources } from '../copy/resolve-sources.js';
import { ContextFs, ViewFs, contextFollowPaths, type SourceFs } from '../copy/source-fs.js';
import { isGitSource } from '../add/source-kind.js';
import type { StepContext } from '../executor/step-context.js';
import { isHttpSource } from '../add/source-kind.js';
import { redactUrl } from '../../redact.js';

/** Where a COPY/ADD reads from: the context, or the stage `--from` names. */
export async function sourceFsFor(ctx: StepContext, instr: CopyInstr | AddInstr): Promise<SourceFs> {
  if (instr.from === undefined || instr.from === '') {
    const local = instr.sources.filter((s) => !isHttpSource(s) && !isGitSource(s));
    return stepContextFs(ctx, contextFollowPaths(local));
  }
  const stageIndex = ctx.planned.fromStage;
  if (stageIndex !== undefined) return new ViewFs(await ctx.env.stageFiles(stageIndex), `stage ${JSON.stringify(instr.from)}`);
  return new ViewFs(await ctx.env.imageView(instr.from), `image ${JSON.stringify(instr.from)}`);
}

/** The context with `followPaths` as this step sees it: walked once, whether for its cache key or its layer. */
export function stepContextFs(ctx: StepContext, followPaths: string[] | null): ContextFs {
  const key = JSON.stringify(followPaths);
  let fs = ctx.contextViews.get(key);
  if (fs === undefined) {
    fs = new ContextFs(ctx.env.contextDir, ctx.env.ignore, followPaths);
    ctx.contextViews.set(key, fs);
  }
  return fs;
}

export async function copyLayout(ctx: StepContext, instr: CopyInstr | AddInstr): Promise<CopyLayout> {
  const files = await ctx.stage.files();
  return {
    what: instr.kind,
    dest: instr.dest,
    workdir: ctx.stage.workdir(),
    view: files,
    owner: instr.chown === undefined ? undefined : await resolveOwner(instr.chown, files),
    chmod: instr.chmod,
    excludes: instr.excludes.length ? PatternMatcher.compile(instr.excludes) : undefined,
    createdMtime: ctx.createdMtime(),
  };
}

/** What one source matches in `fs`: nothing, for a wildcard that matches nothing. */
export async function matchSource(instr: CopyInstr | AddInstr, fs: SourceFs, source: string): Promise<CopyItem[]> {
  if (instr.parents) return (await resolveParentsSource(fs, source, instr.kind)).map((match) => ({ kind: 'parents', fs, match }));
  return (await resolveSources(fs, source, instr.kind)).map((match) => ({ kind: 'match', fs, match }));
}

/** What `sources` match in `fs`; an error when none of them matches anything. */
export async function matchItems(instr: CopyInstr | AddInstr, fs: SourceFs, sources: readonly string[]): Promise<CopyItem[]> {
  const items: CopyItem[] = [];
  for (const source of sources) items.push(...(await matchSource(instr, fs, source)));
  // BuildKit copies --parents sources with AllowEmptyWildcard: a wildcard may match nothing at all.
  if (sources.length > 0 && items.length === 0 && !instr.parents) throw noSourceFiles(fs, sources, instr.kind);
  return items;
}

/** The instruction's heredocs as files named after their delimiters. */
export function heredocItems(ctx: StepContext, instr: CopyInstr | AddInstr): CopyItem[] {
  return instr.heredocs.map((doc) => {
    const content = Buffer.from(doc.chomp ? chompHeredocContent(doc.content) : doc.content);
    return { kind: 'file', name: posix.basename(doc.name), node: memoryFile(content, 0o644, ctx.createdMtime()), keepOwner: false };
  });
}

export function describeCopy(instr: CopyInstr | AddInstr): string {
  const flags = [
    instr.from !== undefined ? `--from=${instr.from}` : '',
    instr.chown !== undefined ? `--chown=${instr.chown}` : '',
    instr.chmod !== undefined ? `--chmod=${instr.chmod}` : '',
  ].filter(Boolean);
  // History is pushed with the image: URL credentials are masked as BuildKit does.
  const sources = instr.sources.map((s) => (isHttpSource(s) ? redactUrl(s) : s));
  return [instr.kind, ...flags, ...sources, ...instr.heredocs.map((h) => `<<${h.name}`), instr.dest].join(' ');
}
