/**
 * `hoist build --secret` and `--ssh` (buildx's flags), read into what RUN
 * mounts take. Pure: cmd/ reads the environment variables they name.
 */
import { UsageError } from '../../../errors.js';

/** A secret's content: a file read when a step mounts it, or a value (from an environment variable cmd/ read). */
export type SecretSource = { file: string } | { value: Buffer };

export interface SecretFlag {
  id: string;
  /** `src=` / `source=`: a file. */
  file?: string;
  /** `env=`: an environment variable's name. */
  env?: string;
}

/** Keys whose values name things (an id, a file, a variable) and may be shown; any other value may be the secret itself. */
const SHOWN = ['id', 'src', 'source', 'env', 'type'];

/** The flag's text as an error may show it: a value of any other key, or a part that is not key=value, is masked. */
function shown(text: string): string {
  return JSON.stringify(
    text
      .split(',')
      .map((part) => {
        const eq = part.indexOf('=');
        return eq > 0 && SHOWN.includes(part.slice(0, eq).trim().toLowerCase()) ? part : eq > 0 ? `${part.slice(0, eq)}=***` : '***';
      })
      .join(','),
  );
}

function fields(text: string, flag: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new UsageError(`${flag} ${shown(text)}: a part is not key=value`, { hint: `write ${flag} id=NAME,src=FILE or ${flag} id=NAME,env=VARIABLE` });
    out.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1));
  }
  return out;
}

/** `--secret id=X,src=FILE`, `id=X,env=VAR`, `id=X` (the variable X, as buildx). `type=file|env` is accepted. */
export function parseSecretFlag(text: string): SecretFlag {
  const f = fields(text, '--secret');
  const id = f.get('id');
  const hint = 'write --secret id=NAME,src=FILE or --secret id=NAME,env=VARIABLE';
  if (id === undefined || id === '') throw new UsageError(`--secret ${shown(text)} has no id`, { hint });
  for (const key of f.keys()) {
    if (!SHOWN.includes(key)) throw new UsageError(`--secret ${shown(text)}: unknown key ${JSON.stringify(key)} (a secret's value is never given on the command line)`, { hint });
  }
  const file = f.get('src') ?? f.get('source');
  const type = f.get('type');
  if (file !== undefined && type !== 'env') return { id, file };
  const env = f.get('env') ?? (type === 'file' ? undefined : (file ?? id));
  if (env === undefined) return { id, file: id };
  return { id, env };
}

export interface SshFlag {
  id: string;
  /** Agent sockets given on the command line; none: SSH_AUTH_SOCK's. */
  paths: string[];
}

/** `--ssh default`, `--ssh default=/path/to/agent.sock`, `--ssh ID=SOCKET`. */
export function parseSshFlag(text: string): SshFlag {
  const eq = text.indexOf('=');
  const id = (eq < 0 ? text : text.slice(0, eq)).trim();
  if (id === '') throw new UsageError(`--ssh ${JSON.stringify(text)} has no id`, { hint: 'write --ssh default, or --ssh default=/path/to/agent.sock' });
  const paths = eq < 0 ? [] : text.slice(eq + 1).split(',').filter((p) => p !== '');
  return { id, paths };
}
