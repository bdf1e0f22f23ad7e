import { describe, expect, it } from 'vitest';
import { authKeyRegistry, canonicalRegistry, dockerServerUrl } from '../../../../registry/keychain/registry-name.js';

describe('canonicalRegistry', () => {
  it.each([
    ['docker.io', 'docker.io'],
    ['index.docker.io', 'docker.io'],
    ['registry-1.docker.io', 'docker.io'],
    ['https://index.docker.io/v1/', 'docker.io'],
    ['Docker.IO', 'docker.io'],
    ['ghcr.io', 'ghcr.io'],
    ['localhost:5000', 'localhost:5000'],
    ['http://localhost:5000', 'localhost:5000'],
    ['https://registry.example.com/v2/', 'registry.example.com'],
    ['[::1]:5000', '[::1]:5000'],
    ['  quay.io ', 'quay.io'],
  ])('%s -> %s', (input, expected) => {
    expect(canonicalRegistry(input)).toBe(expected);
  });
});

describe('authKeyRegistry', () => {
  it.each([
    ['ghcr.io', 'ghcr.io'],
    ['host:5000', 'host:5000'],
    ['https://host/v1/', 'host'],
    ['http://host', 'host'],
    ['https://index.docker.io/v1/', 'docker.io'],
    ['index.docker.io', 'docker.io'],
    ['registry-1.docker.io', 'docker.io'],
  ])('%s names %s', (key, expected) => {
    expect(authKeyRegistry(key)).toBe(expected);
  });

  it('treats a scheme-less key with a path as a repository namespace, not a registry', () => {
    expect(authKeyRegistry('quay.io/team/app')).toBeUndefined();
    expect(authKeyRegistry('docker.io/library')).toBeUndefined();
  });

  it('reads every key of a legacy ~/.dockercfg as a host', () => {
    expect(authKeyRegistry('quay.io/v1/', true)).toBe('quay.io');
  });

  it('rejects an empty key', () => {
    expect(authKeyRegistry('')).toBeUndefined();
    expect(authKeyRegistry('https://')).toBeUndefined();
  });
});

describe('dockerServerUrl', () => {
  it('is the legacy index URL for Docker Hub and the host otherwise', () => {
    expect(dockerServerUrl('docker.io')).toBe('https://index.docker.io/v1/');
    expect(dockerServerUrl('ghcr.io')).toBe('ghcr.io');
    expect(dockerServerUrl('localhost:5000')).toBe('localhost:5000');
  });
});
