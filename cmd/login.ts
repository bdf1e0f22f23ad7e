import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import type { Command } from 'commander';
import { login } from '../registry/keychain/index.js';
import { UsageError } from '../src/errors.js';
import type { CliIo } from './io.js';

interface LoginFlags {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
}

export function registerLogin(program: Command, io: CliIo): void {
  program
    .command('login')
    .description('store credentials for a registry, as docker login does')
    .argument('<registry>', 'registry host[:port], e.g. registry.example.com')
    .option('-u, --username <name>', 'user name')
    .option('-p, --password <password>', 'password (prefer --password-stdin: arguments are visible to other users)')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (registry: string, flags: LoginFlags) => {
      if (!flags.username) throw new UsageError('login needs --username', { hint: 'hoist login REGISTRY -u USER --password-stdin' });
      const password = flags.passwordStdin ? readFileSync(0, 'utf8').replace(/\r?\n$/, '') : flags.password;
      if (!password) throw new UsageError('login needs a password', { hint: 'pipe it in with --password-stdin' });
      const result = await login({ env: io.env, homedir: homedir(), registry, username: flags.username, password });
      io.stderr(result.helper ? `Login Succeeded (stored by ${result.helper})` : `Login Succeeded (stored in ${result.file})`);
    });
}
