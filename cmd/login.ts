import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import type { Command } from 'commander';
import { DEFAULT_CERTS_DIRS, RegistryClient } from '../registry/index.js';
import { login, staticKeychain, type Credential } from '../registry/keychain/index.js';
import { UsageError } from '../src/errors.js';
import { collect } from './common-options.js';
import type { CliIo } from './io.js';

interface LoginFlags {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
  insecureRegistry: string[];
  registryCa: string[];
}

export function registerLogin(program: Command, io: CliIo): void {
  program
    .command('login')
    .description('check credentials with a registry and store them, as docker login does')
    .argument('<registry>', 'registry host[:port], e.g. registry.example.com')
    .option('-u, --username <name>', 'user name')
    .option('-p, --password <password>', 'password (prefer --password-stdin: arguments are visible to other users)')
    .option('--password-stdin', 'read the password from standard input')
    .option('--insecure-registry <host[:port]>', 'allow plain HTTP or unverified TLS for this registry (repeatable)', collect, [])
    .option('--registry-ca <file>', 'trust this PEM CA certificate for the registry (repeatable)', collect, [])
    .action(async (registry: string, flags: LoginFlags) => {
      if (!flags.username) throw new UsageError('login needs --username', { hint: 'hoist login REGISTRY -u USER --password-stdin' });
      const password = flags.passwordStdin ? readFileSync(0, 'utf8').replace(/\r?\n$/, '') : flags.password;
      if (!password) throw new UsageError('login needs a password', { hint: 'pipe it in with --password-stdin' });
      const result = await login({
        env: io.env,
        homedir: homedir(),
        registry,
        username: flags.username,
        password,
        verify: (host, credential) => verifyWithRegistry(host, credential, flags, io),
      });
      io.stderr(result.helper ? `Login Succeeded (stored by ${result.helper})` : `Login Succeeded (stored in ${result.file})`);
    });
}

/** GET /v2/ with exactly these credentials (not what the keychain holds today). */
async function verifyWithRegistry(registry: string, credential: Credential, flags: LoginFlags, io: CliIo): Promise<void> {
  const client = new RegistryClient({
    keychain: staticKeychain({ [registry]: credential }),
    insecureRegistries: flags.insecureRegistry,
    caFiles: [...flags.registryCa, ...(io.env.NODE_EXTRA_CA_CERTS ? [io.env.NODE_EXTRA_CA_CERTS] : [])],
    certsDirs: DEFAULT_CERTS_DIRS,
  });
  try {
    await client.checkLogin(registry);
  } finally {
    await client.close();
  }
}
