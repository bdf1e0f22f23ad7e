/**
 * What `hoist doctor` says of proot, from `proot --version` (src/run/probe.ts):
 * Debian's 5.1.0, built without the seccomp accelerator, and 5.4.0 built from
 * its source with it (the texts as those two print them).
 */
import { describe, expect, it } from 'vitest';
import { prootDetail } from '../../../src/run/probe.js';

const DEBIAN_5_1 = ` _____ _____              ___
|  __ \\  __ \\_____  _____|   |_
|   __/     /  _  \\/  _  \\    _|
|__|  |__|__\\_____/\\_____/\\____| 5.1.0

built-in accelerators: process_vm = yes, seccomp_filter = no

Visit http://proot.me for help, bug reports, suggestions, patchs, ...
Copyright (C) 2014 STMicroelectronics, licensed under GPL v2 or later.
`;

const UPSTREAM_5_4 = ` _____ _____              ___
|  __ \\  __ \\_____  _____|   |_
|   __/     /  _  \\/  _  \\    _|
|__|  |__|__\\_____/\\_____/\\____| 5.4.0

built-in accelerators: process_vm = yes, seccomp_filter = yes

Visit https://proot-me.github.io for help, bug reports, suggestions, patches, ...
Copyright (C) 2023 PRoot Developers, licensed under GPL v2 or later.
`;

describe('what doctor says of a working proot', () => {
  it('says that a proot without the seccomp accelerator stops steps at every system call, and what to install instead', () => {
    expect(prootDetail('5.1.0', DEBIAN_5_1)).toBe(
      'proot 5.1.0 runs processes under ptrace, stopping them at every system call (built without its seccomp accelerator; ' +
        'one built with it, such as 5.4 from its source, took 16 s against 29 s for one apt and gcc build: README)',
    );
  });

  it('says only its version of one with the accelerator, or whose text says nothing of it', () => {
    expect(prootDetail('5.4.0', UPSTREAM_5_4)).toBe('proot 5.4.0 runs processes under ptrace');
    expect(prootDetail(undefined, 'proot\n')).toBe('proot (unknown version) runs processes under ptrace');
  });
});
