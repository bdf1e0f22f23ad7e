/**
 * The bookkeeping files in testdata/peers: expected failures, known
 * (intentional, justified) differences from the peer, and hoist bugs. The
 * differential suite checks every observed difference against them and
 * every entry against what is observed, so the lists stay narrow and honest.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Difference } from './image-model.js';

export const PEERS_DATA = fileURLToPath(new URL('../../../testdata/peers/', import.meta.url));

function load<T>(name: string): T {
  return JSON.parse(readFileSync(`${PEERS_DATA}${name}`, 'utf8')) as T;
}

/** Matches one observed difference. Every given field must agree. */
export interface DiffMatch {
  area?: 'fs' | 'config';
  /** Exact path (fs) or config key. */
  key?: string;
  /** A regular expression the key must match (whole key). */
  keyPattern?: string;
  what?: string | string[];
  /** Expected values; for `mode` an octal string like "0555" is allowed. */
  hoist?: unknown;
  peer?: unknown;
  /** A named rule that needs code (see `ruleHolds`). */
  rule?: 'peer-rounds-mtime' | 'peer-dir-build-time' | 'peer-drops-setid' | 'both-build-time';
}

export interface KnownDifference {
  id: string;
  /** Case ids, or "*" for a rule that applies to every case. */
  cases: string[] | '*';
  /** Cases where it may show (depending on the checkout); not required to. */
  mayShowIn?: string[];
  match: DiffMatch[];
  /** A label the peer adds to every image; removed from the peer's config before comparing. */
  stripPeerLabel?: string;
  peer: string;
  docker: string;
  reason: string;
}

export interface HoistBug {
  id: string;
  summary: string;
  dockerfile: string;
  hoist: string;
  docker: string;
  buildah: string;
  /**
   * Cases where hoist builds but the image differs in these ways. Each of
   * `cases` must still show it; `mayShowIn` cases are explained by it when
   * it shows (there it depends on the checkout, e.g. the data's modes).
   */
  differs?: { cases: string[]; mayShowIn?: string[]; match: DiffMatch[] };
  /** Cases listed in expected-failures.json (category hoist-bug) because of this bug. */
  fails?: string[];
}

export type Category =
  | 'needs-network'
  | 'hoist-bug'
  | 'peer-divergence'
  | 'hoist-refuses'
  | 'peer-unsupported'
  | 'not-buildable'
  | 'needs-real-base'
  | 'context-tweak';

export interface ExpectedFailure {
  category: Category;
  reason: string;
  /** The error code hoist must still fail with (omitted: hoist must build it). */
  hoistError?: string;
  /** The Dockerfile line hoist's error must name. */
  hoistLine?: number;
  /** Whether buildah builds it here (checked where the peer runs). */
  buildah?: 'ok' | 'fails';
  bug?: string;
}

export interface ExpectedFailures {
  categories: Record<Category, string>;
  /** Codes that all mean "the base image could not be had": any one of them satisfies another. */
  baseImageErrors: string[];
  cases: Record<string, ExpectedFailure>;
}

/**
 * The buildah-bud cases compared on the test bases (testdata/peers/bud-selection.json),
 * chosen case by case; every other buildah-bud case the stand-ins could build is left
 * out with a reason.
 */
export interface BudSelection {
  compared: string[];
  /** Compared cases both builders must refuse, with why. */
  mustFail: Record<string, string>;
  leftOut: Array<{ reason: string; cases: string[] }>;
}

export const budSelection = (): BudSelection => load<BudSelection>('bud-selection.json');
export const expectedFailures = (): ExpectedFailures => load<ExpectedFailures>('expected-failures.json');
export const knownDifferences = (): KnownDifference[] => load<{ differences: KnownDifference[] }>('known-differences.json').differences;
export const hoistBugs = (): HoistBug[] => load<{ bugs: HoistBug[] }>('hoist-bugs.json').bugs;

function norm(what: string, v: unknown): unknown {
  return what === 'mode' && typeof v === 'string' && /^0[0-7]*$/.test(v) ? parseInt(v, 8) : v;
}

export interface RuleContext {
  /** Unix seconds shortly before the first build of the run. */
  buildStart: number;
}

function ruleHolds(rule: NonNullable<DiffMatch['rule']>, d: Difference, ctx: RuleContext): boolean {
  switch (rule) {
    case 'peer-rounds-mtime':
      // buildah writes tar headers with Go's default format, which rounds to the nearest second;
      // Docker, BuildKit and hoist truncate. So the peer may be exactly one second later.
      return d.what === 'mtime' && typeof d.hoist === 'number' && typeof d.peer === 'number' && d.peer === d.hoist + 1;
    case 'peer-dir-build-time':
      // buildah stamps every directory a step creates or writes into with the time of its build.
      return d.what === 'mtime' && d.type === 'dir' && typeof d.peer === 'number' && d.peer >= ctx.buildStart;
    case 'both-build-time':
      // Written during the build by both (a RUN step's files): each builder's own clock, so never equal.
      return d.what === 'mtime' && typeof d.hoist === 'number' && typeof d.peer === 'number' && d.hoist >= ctx.buildStart && d.peer >= ctx.buildStart;
    case 'peer-drops-setid':
      return d.what === 'mode' && typeof d.hoist === 'number' && (d.hoist & 0o6000) !== 0 && d.peer === (d.hoist & ~0o6000);
  }
}

export function matches(m: DiffMatch, d: Difference, ctx: RuleContext): boolean {
  if (m.area !== undefined && m.area !== d.area) return false;
  if (m.key !== undefined && m.key !== d.key) return false;
  if (m.keyPattern !== undefined && !new RegExp(`^(?:${m.keyPattern})$`).test(d.key)) return false;
  if (m.what !== undefined && !(Array.isArray(m.what) ? m.what : [m.what]).includes(d.what)) return false;
  if ('hoist' in m && JSON.stringify(norm(d.what, m.hoist)) !== JSON.stringify(d.hoist)) return false;
  if ('peer' in m && JSON.stringify(norm(d.what, m.peer)) !== JSON.stringify(d.peer)) return false;
  if (m.rule !== undefined && !ruleHolds(m.rule, d, ctx)) return false;
  return true;
}

export interface Explanation {
  /** Differences nothing explains: each is a failure. */
  unexplained: Difference[];
  /** Case-specific entries (known differences or bugs) that matched nothing here: each is a stale entry. */
  unused: string[];
  /** Ids of every entry that matched something. */
  used: Set<string>;
}

/** Sort a case's differences into explained and not, and find the entries that no longer apply. */
export function explain(caseId: string, diffs: Difference[], known: KnownDifference[], bugs: HoistBug[], ctx: RuleContext): Explanation {
  const entries: Array<{ id: string; match: DiffMatch[]; scoped: boolean }> = [];
  for (const k of known) {
    if (k.cases === '*') entries.push({ id: `known:${k.id}`, match: k.match, scoped: false });
    else if (k.cases.includes(caseId)) entries.push({ id: `known:${k.id}`, match: k.match, scoped: true });
    else if (k.mayShowIn?.includes(caseId)) entries.push({ id: `known:${k.id}`, match: k.match, scoped: false });
  }
  for (const b of bugs) {
    if (b.differs?.cases.includes(caseId)) entries.push({ id: `bug:${b.id}`, match: b.differs.match, scoped: true });
    else if (b.differs?.mayShowIn?.includes(caseId)) entries.push({ id: `bug:${b.id}`, match: b.differs.match, scoped: false });
  }
  const used = new Set<string>();
  const unexplained: Difference[] = [];
  for (const d of diffs) {
    const hits = entries.filter((e) => e.match.some((m) => matches(m, d, ctx)));
    for (const h of hits) used.add(h.id);
    if (hits.length === 0) unexplained.push(d);
  }
  const unused = entries.filter((e) => e.scoped && !used.has(e.id)).map((e) => e.id);
  return { unexplained, unused, used };
}
