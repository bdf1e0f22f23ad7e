/**
 * The docker-credential-helpers protocol (github.com/docker/docker-credential-helpers):
 *
 *   get    stdin: server URL          stdout: {"ServerURL","Username","Secret"}
 *   store  stdin: that same JSON      stdout: nothing
 *   erase  stdin: server URL          stdout: nothing
 *   list   stdin: nothing             stdout: {"<server URL>": "<username>", ...}
 *
 * A helper that has no entry exits non-zero and says "credentials not found
 * in native keychain". A Username of "<token>" marks the Secret as an
 * identity token (docker/cli's credentials.tokenUsername).
 *
 * Helper output is shown to the user only after every secret hoist knows
 * of is cut out of it; output that may hold a secret hoist does not know
 * (a successful `get`) is never shown.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { HoistError } from '../../src/errors.js';
import type { Credential, HelperAction, HelperResult, RunHelper } from './types.js';

const TOKEN_USERNAME = '<token>';
const NOT_FOUND_RE = /credentials not found/i;
/** Enough for any credential; a helper that prints more is broken. */
const MAX_OUTPUT_BYTES = 1 << 20;
const MAX_SHOWN_OUTPUT = 200;

/** docker-credential-<name>: the name becomes part of an executable's file name, so no paths. */
export function isValidHelperName(helper: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(helper);
}

export function helperExecutable(helper: string): string {
  return `docker-credential-${helper}`;
}

/** Where the helper was configured, for hints: the auth file that named it. */
export interface HelperContext {
  helper: string;
  configuredIn: string;
}

function helperFailed(ctx: HelperContext, action: HelperAction, problem: string): HoistError {
  return new HoistError('CREDENTIAL_HELPER_FAILED', `credential helper ${helperExecutable(ctx.helper)} ${action}: ${problem}`, {
    hint:
      `${ctx.configuredIn} names credential helper "${ctx.helper}" (credsStore or credHelpers); ` +
      `make sure ${helperExecutable(ctx.helper)} is on PATH and works, or remove it from that file`,
  });
}

/**
 * Cut `secrets` (and the encodings a helper might echo them in) out of
 * helper output. Returns undefined when that cannot be done safely: a secret
 * too short to find reliably, or output that looks like it carries one.
 */
export function sanitizeHelperOutput(output: string, secrets: readonly string[]): string | undefined {
  let text = output.trim();
  if (text === '') return undefined;
  if (/"Secret"\s*:/.test(text)) return undefined;
  for (const secret of secrets) {
    if (secret === '') continue;
    if (secret.length < 4) return undefined;
    for (const form of new Set([secret, JSON.stringify(secret).slice(1, -1), Buffer.from(secret).toString('base64')])) {
      text = text.split(form).join('***');
    }
  }
  const firstLines = text.split('\n').slice(0, 3).join(' | ');
  return firstLines.length > MAX_SHOWN_OUTPUT ? `${firstLines.slice(0, MAX_SHOWN_OUTPUT)}…` : firstLines;
}

function describeExit(result: HelperResult, secrets: readonly string[]): string {
  const said = sanitizeHelperOutput(result.stderr, secrets) ?? sanitizeHelperOutput(result.stdout, secrets);
  return said === undefined ? `exited with status ${result.code}` : `exited with status ${result.code}: ${said}`;
}

async function run(
  runHelper: RunHelper,
  ctx: HelperContext,
  action: HelperAction,
  input: string,
  secrets: readonly string[],
): Promise<HelperResult> {
  try {
    return await runHelper(ctx.helper, action, input);
  } catch (err) {
    // No `cause`: an injected runner's error text has not been through the sanitizer.
    const message = err instanceof Error ? err.message : String(err);
    throw helperFailed(ctx, action, sanitizeHelperOutput(message, secrets) ?? 'it could not be started');
  }
}

function isNotFound(result: HelperResult): boolean {
  return NOT_FOUND_RE.test(result.stdout) || NOT_FOUND_RE.test(result.stderr);
}

/** Ask a helper for `serverUrl`'s credential; undefined when it has none. */
export async function helperGet(runHelper: RunHelper, ctx: HelperContext, serverUrl: string): Promise<Credential | undefined> {
  const result = await run(runHelper, ctx, 'get', serverUrl, []);
  if (result.code !== 0) {
    if (isNotFound(result)) return undefined;
    throw helperFailed(ctx, 'get', describeExit(result, []));
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(result.stdout);
  } catch {
    // Never quote stdout here: it is where the secret would be.
    throw helperFailed(ctx, 'get', 'its output is not the JSON credential object the protocol defines');
  }
  if (typeof parsed !== 'object' || parsed === null) {
    throw helperFailed(ctx, 'get', 'its output is not the JSON credential object the protocol defines');
  }
  const { Username: username, Secret: secret } = parsed as Record<string, unknown>;
  if ((username !== undefined && typeof username !== 'string') || (secret !== undefined && typeof secret !== 'string')) {
    throw helperFailed(ctx, 'get', 'its output has a non-string Username or Secret');
  }
  if (!secret) return undefined;
  if (username === TOKEN_USERNAME) return { kind: 'identity-token', token: secret };
  return { kind: 'basic', username: username ?? '', password: secret };
}

export async function helperStore(
  runHelper: RunHelper,
  ctx: HelperContext,
  serverUrl: string,
  username: string,
  secret: string,
): Promise<void> {
  const input = JSON.stringify({ ServerURL: serverUrl, Username: username, Secret: secret });
  const result = await run(runHelper, ctx, 'store', input, [secret]);
  if (result.code !== 0) throw helperFailed(ctx, 'store', describeExit(result, [secret]));
}

/** Erase `serverUrl` from a helper; false when it had nothing to erase. */
export async function helperErase(runHelper: RunHelper, ctx: HelperContext, serverUrl: string): Promise<boolean> {
  const result = await run(runHelper, ctx, 'erase', serverUrl, []);
  if (result.code === 0) return true;
  if (isNotFound(result)) return false;
  throw helperFailed(ctx, 'erase', describeExit(result, []));
}

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    if (!(await stat(path)).isFile()) return false;
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Find `name` on a PATH string. Empty and relative entries are skipped: they would mean the working directory. */
export async function findOnPath(name: string, pathValue: string | undefined): Promise<string | undefined> {
  for (const dir of (pathValue ?? '').split(delimiter)) {
    if (dir === '' || !isAbsolute(dir)) continue;
    const candidate = join(dir, name);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/**
 * The real runner: finds docker-credential-<helper> on the PATH of `env`
 * (not this process's), runs it with `env` as its whole environment (helpers
 * such as ecr-login and pass need AWS_*, HOME, GNUPGHOME...), writes `input`
 * to its stdin and collects its output.
 */
export function processRunHelper(env: Readonly<Record<string, string | undefined>>): RunHelper {
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v;

  return async (helper, action, input) => {
    const name = helperExecutable(helper);
    if (!isValidHelperName(helper)) throw new Error(`"${helper}" is not a valid helper name`);
    const executable = await findOnPath(name, env['PATH']);
    if (executable === undefined) throw new Error(`${name} was not found on PATH`);

    return await new Promise<HelperResult>((resolve, reject) => {
      const child = spawn(executable, [action], { env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let size = 0;
      let overflowed = false;
      const collect = (into: Buffer[]) => (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_OUTPUT_BYTES) {
          if (!overflowed) {
            overflowed = true;
            child.kill('SIGKILL');
          }
          return;
        }
        into.push(chunk);
      };
      child.stdout.on('data', collect(out));
      child.stderr.on('data', collect(err));
      child.on('error', (e) => reject(new Error(`${name} could not be started (${(e as NodeJS.ErrnoException).code ?? 'error'})`)));
      child.on('close', (code, signal) => {
        if (overflowed) {
          reject(new Error(`${name} printed more than ${MAX_OUTPUT_BYTES} bytes`));
          return;
        }
        resolve({
          code: code ?? (signal === null ? 1 : 128),
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
        });
      });
      // A helper may exit without reading stdin (EPIPE); its exit status says what happened.
      child.stdin.on('error', () => undefined);
      child.stdin.end(input);
    });
  };
}
