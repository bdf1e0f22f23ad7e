import { homedir } from 'node:os';
import type { Command } from 'commander';
import { logout } from '../registry/keychain/index.js';
import type { CliIo } from './io.js';

export function registerLogout(program: Command, io: CliIo): void {
  program
    .command('logout')
    .description('remove stored credentials for a registry')
    .argument('<registry>', 'registry host[:port]')
    .action(async (registry: string) => {
      const { removed } = await logout({ env: io.env, homedir: homedir(), registry });
      io.stderr(removed ? `Removed login credentials for ${registry}` : `Not logged in to ${registry}`);
    });
}
