import { describe, expect, it } from 'vitest';
import { formatPlatform, normalizePlatform, parsePlatform, platformFromNode, platformMatches } from '../../../src/oci/platform.js';

const host = { os: 'linux', architecture: 'arm64' };

describe('parsePlatform, as containerd platforms.Parse + Normalize', () => {
  it.each([
    ['linux/amd64', 'linux/amd64'],
    ['linux/x86_64', 'linux/amd64'],
    ['linux/x86-64', 'linux/amd64'],
    ['linux/amd64/v1', 'linux/amd64'],
    ['linux/amd64/v3', 'linux/amd64/v3'],
    ['linux/aarch64', 'linux/arm64'],
    ['linux/arm64/v8', 'linux/arm64'],
    ['linux/arm64/8', 'linux/arm64'],
    ['linux/arm64/9.0', 'linux/arm64/v9'],
    ['linux/arm', 'linux/arm/v7'],
    ['linux/arm/7', 'linux/arm/v7'],
    ['linux/arm/6', 'linux/arm/v6'],
    ['linux/armhf', 'linux/arm/v7'],
    ['linux/armel', 'linux/arm/v6'],
    ['linux/i386', 'linux/386'],
    ['Linux/AMD64', 'linux/amd64'],
    ['macos/arm64', 'darwin/arm64'],
    ['linux/riscv64', 'linux/riscv64'],
    ['s390x', 'linux/s390x'],
    ['armhf', 'linux/arm/v7'],
    ['i386', 'linux/386'],
    ['aarch64', 'linux/arm64'],
    ['linux', 'linux/arm64'],
  ])('%s is %s', (text, want) => {
    expect(formatPlatform(parsePlatform(text, host))).toBe(want);
  });

  it('keeps an OS version written in parentheses', () => {
    expect(parsePlatform('windows(10.0.17763)/amd64')).toEqual({ os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763' });
  });

  it.each([
    ['foo', /unknown operating system or architecture/],
    ['linux/amd64,linux/arm64', /a list of platforms/],
    ['linux/*', /wildcards/],
    ['linux/', /is not an architecture/],
    ['/amd64', /is not an operating system/],
    ['linux/arm/v7/x', /more than os\/arch\/variant/],
    ['linux/am d64', /is not an architecture/],
    ['', /is not an operating system/],
  ])('refuses %j', (text, why) => {
    expect(() => parsePlatform(text, host)).toThrow(why);
    expect(() => parsePlatform(text, host)).toThrow(expect.objectContaining({ code: 'BAD_PLATFORM' }));
  });

  it('a bare OS needs a host architecture to fill in', () => {
    expect(() => parsePlatform('linux')).toThrow(/name the architecture/);
  });
});

describe('normalizePlatform and platformFromNode', () => {
  it('normalizes what images and Node.js report', () => {
    expect(normalizePlatform({ os: 'linux', architecture: 'arm64', variant: 'v8' })).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(normalizePlatform({ os: 'linux', architecture: 'arm' })).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(platformFromNode('linux', 'x64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(platformFromNode('linux', 'arm')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(platformFromNode('linux', 'ia32')).toEqual({ os: 'linux', architecture: '386' });
    expect(platformFromNode('win32', 'arm64')).toEqual({ os: 'windows', architecture: 'arm64' });
  });

  it('matches armhf with an index entry arm/v7 and i386 with 386', () => {
    expect(platformMatches(parsePlatform('linux/armhf'), { os: 'linux', architecture: 'arm', variant: 'v7' })).toBe(true);
    expect(platformMatches(parsePlatform('linux/i386'), { os: 'linux', architecture: '386' })).toBe(true);
    expect(platformMatches(parsePlatform('linux/arm/v6'), { os: 'linux', architecture: 'arm', variant: 'v7' })).toBe(false);
    expect(platformMatches(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'x86_64' })).toBe(true);
  });
});
