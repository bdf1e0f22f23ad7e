/**
 * Fixtures for the keychain tests: a throwaway HOME with the places auth
 * files live, a file-backed fake credential helper as a real executable, and
 * an in-memory one for precedence tests.
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach } from 'vitest';
import type { HelperAction, HelperResult, RunHelper } from '../../../../registry/keychain/index.js';

export interface TempHome {
  root: string;
  home: string;
  /** $DOCKER_CONFIG, not set in `env` unless a test adds it. */
  dockerConfigDir: string;
  runtimeDir: string;
  binDir: string;
  helperStateDir: string;
  env: Record<string, string | undefined>;
}

export function useTempHome(): () => Promise<TempHome> {
  const roots: string[] = [];
  afterEach(async () => {
    await Promise.all(roots.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });
  return async () => {
    const root = await mkdtemp(join(tmpdir(), 'hoist-keychain-test-'));
    roots.push(root);
    const t: TempHome = {
      root,
      home: join(root, 'home'),
      dockerConfigDir: join(root, 'docker-config'),
      runtimeDir: join(root, 'run'),
      binDir: join(root, 'bin'),
      helperStateDir: join(root, 'helper-state'),
      env: {},
    };
    await Promise.all([t.home, t.runtimeDir, t.binDir, t.helperStateDir].map((d) => mkdir(d, { recursive: true })));
    t.env = { PATH: `${t.binDir}:/usr/bin:/bin`, FAKE_HELPER_DIR: t.helperStateDir };
    return t;
  };
}

export async function writeJson(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
}

export function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/**
 * docker-credential-test: keeps each credential as a file named after its
 * server URL in $FAKE_HELPER_DIR and logs "<action> <stdin>" to calls.log.
 * FAKE_HELPER_MODE=fail exits 3 with a message; =echo-input echoes its stdin
 * to stderr and fails (a helper that leaks what it was given); =garbage
 * prints non-JSON and succeeds.
 */
const FAKE_HELPER = `#!/bin/sh
dir="\${FAKE_HELPER_DIR:?}"
input=$(cat)
printf '%s %s\\n' "$1" "$input" >> "$dir/calls.log"
case "\${FAKE_HELPER_MODE:-}" in
  fail) echo "the keychain is locked" >&2; exit 3 ;;
  echo-input) printf '%s\\n' "$input" >&2; exit 1 ;;
  garbage) echo "this is not json"; exit 0 ;;
esac
slot() { printf '%s' "$1" | tr '/:' '__'; }
case "$1" in
  get)
    f="$dir/cred-$(slot "$input")"
    if [ -f "$f" ]; then cat "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
  store)
    url=$(printf '%s' "$input" | sed -n 's/.*"ServerURL":"\\([^"]*\\)".*/\\1/p')
    printf '%s' "$input" > "$dir/cred-$(slot "$url")" ;;
  erase)
    f="$dir/cred-$(slot "$input")"
    if [ -f "$f" ]; then rm "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
  list) echo "{}" ;;
  *) echo "unknown action $1" >&2; exit 2 ;;
esac
`;

export async function installFakeHelper(binDir: string, name = 'test'): Promise<string> {
  const path = join(binDir, `docker-credential-${name}`);
  await writeFile(path, FAKE_HELPER);
  await chmod(path, 0o755);
  return path;
}

export interface HelperCall {
  helper: string;
  action: HelperAction;
  input: string;
}

/** An in-memory helper set: helpers[name][serverUrl] = {Username, Secret}. */
export function memoryHelpers(helpers: Record<string, Record<string, { Username: string; Secret: string }>>): {
  runHelper: RunHelper;
  calls: HelperCall[];
} {
  const calls: HelperCall[] = [];
  const notFound: HelperResult = { code: 1, stdout: 'credentials not found in native keychain\n', stderr: '' };
  const runHelper: RunHelper = (helper, action, input) => {
    calls.push({ helper, action, input });
    const store = helpers[helper];
    if (store === undefined) return Promise.reject(new Error(`docker-credential-${helper} was not found on PATH`));
    if (action === 'get') {
      const entry = store[input];
      return Promise.resolve(entry === undefined ? notFound : { code: 0, stdout: JSON.stringify({ ServerURL: input, ...entry }), stderr: '' });
    }
    if (action === 'store') {
      const parsed = JSON.parse(input) as { ServerURL: string; Username: string; Secret: string };
      store[parsed.ServerURL] = { Username: parsed.Username, Secret: parsed.Secret };
      return Promise.resolve({ code: 0, stdout: '', stderr: '' });
    }
    if (action === 'erase') {
      if (store[input] === undefined) return Promise.resolve(notFound);
      delete store[input];
      return Promise.resolve({ code: 0, stdout: '', stderr: '' });
    }
    return Promise.resolve({ code: 0, stdout: '{}', stderr: '' });
  };
  return { runHelper, calls };
}
