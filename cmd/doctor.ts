import { tmpdir, userInfo } from 'node:os';
import type { Command } from 'commander';
import { UsageError } from '../src/errors.js';
import { doctorReport, type DoctorReport } from '../src/run/doctor.js';
import { findHostTools } from '../src/run/host-tools.js';
import { probeHost } from '../src/run/probe.js';
import type { CliIo } from './io.js';

function invokingUser(euid: number): string {
  try {
    return userInfo().username;
  } catch {
    return String(euid); // a uid without a passwd entry (podman --user 1000:1000)
  }
}

function formatText(r: DoctorReport): string[] {
  const width = Math.max(...r.checks.map((c) => c.name.length));
  const lines = [`What can run RUN steps here (user ${r.user}, uid ${r.euid}):`, ''];
  for (const c of r.checks) lines.push(`  ${c.ok ? 'yes' : 'no '}  ${c.name.padEnd(width)}  ${c.detail}`);
  lines.push('', 'Runners (--isolation):');
  for (const a of r.runners) lines.push(`  ${a.kind.padEnd(6)}  ${a.ok ? 'yes' : 'no '}  ${a.why}`);
  lines.push('');
  const describe = (label: string, p: DoctorReport['auto']['root']): void => {
    if (p === null) {
      lines.push(`${label}: nothing works here; install proot, or see above why the namespaces are refused`);
      return;
    }
    lines.push(`${label}: ${p.kind} (${p.reason})`);
    for (const n of p.notes) lines.push(`  note: ${n}`);
    lines.push(`  with --snapshot auto: ${p.snapshot.reason}`);
  };
  describe('--isolation auto picks', r.auto.root);
  if (r.auto.nonRootUser?.kind !== r.auto.root?.kind) describe('  for steps under a non-root USER', r.auto.nonRootUser);
  return lines;
}

export function registerDoctor(program: Command, io: CliIo): void {
  program
    .command('doctor')
    .description('show which RUN isolation works on this machine, and why the rest does not')
    .option('--format <format>', 'text or json', 'text')
    .action(async (flags: { format: string }) => {
      if (flags.format !== 'text' && flags.format !== 'json') {
        throw new UsageError(`unknown --format ${JSON.stringify(flags.format)}`, { hint: 'use --format text or --format json' });
      }
      const tools = findHostTools(io.env.PATH);
      const euid = process.geteuid?.() ?? 0;
      const probe = await probeHost({ tools, tmpDir: tmpdir(), euid, user: invokingUser(euid) });
      const report = doctorReport(probe, tools);
      if (flags.format === 'json') io.stdout(JSON.stringify(report, null, 2));
      else for (const line of formatText(report)) io.stdout(line);
    });
}
