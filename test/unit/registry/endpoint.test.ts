import { describe, expect, test } from 'vitest';
import {
  apiHost,
  endpointCandidates,
  endpointFor,
  isInsecureRegistry,
  isLoopbackHost,
  splitHostPort,
  streamsLayersTo,
} from '../../../registry/endpoint.js';

describe('layers streamed while compressed', () => {
  test('to a registry on another machine, not to a loopback one', () => {
    expect(streamsLayersTo('docker.io')).toBe(true);
    expect(streamsLayersTo('registry.example.com:5000')).toBe(true);
    expect(streamsLayersTo('10.0.0.7:5000')).toBe(true);
    expect(streamsLayersTo('localhost:5000')).toBe(false);
    expect(streamsLayersTo('127.0.0.1:5000')).toBe(false);
    expect(streamsLayersTo('[::1]:5000')).toBe(false);
  });
});

describe('endpoint selection', () => {
  test('docker.io is served by registry-1.docker.io over verified https only', () => {
    expect(apiHost('docker.io')).toBe('registry-1.docker.io');
    expect(apiHost('index.docker.io')).toBe('registry-1.docker.io');
    expect(apiHost('ghcr.io')).toBe('ghcr.io');
    const [only, ...rest] = endpointCandidates('docker.io');
    expect(rest).toEqual([]);
    expect(only).toEqual({ scheme: 'https', verifyTls: true, fallback: 'none' });
    expect(endpointFor('docker.io', only!).baseUrl).toBe('https://registry-1.docker.io');
  });

  test('a remote registry: https, verified, no fallback', () => {
    expect(endpointCandidates('registry.example.com:5000')).toEqual([{ scheme: 'https', verifyTls: true, fallback: 'none' }]);
  });

  test.each([
    ['localhost', true],
    ['localhost:5000', true],
    ['127.0.0.1:5000', true],
    ['127.1.2.3', true],
    ['[::1]:5000', true],
    ['foo.localhost:80', true],
    ['128.0.0.1:5000', false],
    ['10.0.0.1', false],
    ['localhost.example.com', false],
    ['ghcr.io', false],
  ])('isLoopbackHost(%s) = %s', (host, want) => {
    expect(isLoopbackHost(host)).toBe(want);
  });

  test('loopback: verified https first, plain http only when the server does not speak TLS', () => {
    expect(endpointCandidates('127.0.0.1:5000')).toEqual([
      { scheme: 'https', verifyTls: true, fallback: 'not-tls' },
      { scheme: 'http', verifyTls: false, fallback: 'none' },
    ]);
    expect(endpointFor('127.0.0.1:5000', { scheme: 'http', verifyTls: false, fallback: 'none' }).baseUrl).toBe('http://127.0.0.1:5000');
  });

  test('insecure registries: unverified https, then http', () => {
    expect(endpointCandidates('reg.local:5000', ['reg.local:5000'])).toEqual([
      { scheme: 'https', verifyTls: false, fallback: 'any' },
      { scheme: 'http', verifyTls: false, fallback: 'none' },
    ]);
    // An insecure loopback registry is insecure (no verification) rather than merely loopback.
    expect(endpointCandidates('127.0.0.1:5000', ['127.0.0.1:5000'])[0]?.verifyTls).toBe(false);
  });

  test.each([
    ['reg.local:5000', ['reg.local:5000'], true],
    ['reg.local:5000', ['reg.local'], true],
    ['reg.local:5001', ['reg.local:5000'], false],
    ['reg.local', ['reg.local:5000'], false],
    ['REG.local:5000', ['reg.LOCAL:5000'], true],
    ['reg.local:5000', ['http://reg.local:5000/'], true],
    ['10.1.2.3:5000', ['10.0.0.0/8'], true],
    ['11.1.2.3:5000', ['10.0.0.0/8'], false],
    ['192.168.1.7', ['192.168.1.0/24'], true],
    ['example.com', ['10.0.0.0/8'], false],
    ['example.com', [''], false],
  ])('isInsecureRegistry(%s, %j) = %s', (domain, list, want) => {
    expect(isInsecureRegistry(domain, list)).toBe(want);
  });

  test('splitHostPort', () => {
    expect(splitHostPort('a:1')).toEqual({ host: 'a', port: '1' });
    expect(splitHostPort('a')).toEqual({ host: 'a', port: undefined });
    expect(splitHostPort('[::1]:5000')).toEqual({ host: '::1', port: '5000' });
    expect(splitHostPort('[::1]')).toEqual({ host: '::1', port: undefined });
  });
});
