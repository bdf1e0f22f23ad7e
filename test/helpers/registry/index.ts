/**
 * Test infrastructure for the registry client: a real distribution registry
 * (plain, htpasswd + TLS, token auth), a fault-injecting proxy, and an
 * independent image pusher. See README-style notes in each module.
 */
export { startRegistry } from './registry.js';
export type { RunningRegistry, StartRegistryOptions, RegistryAuth } from './registry.js';
export { startFaultProxy } from './fault-proxy.js';
export type { FaultProxy, Fault, ProxiedRequest } from './fault-proxy.js';
export { freePort } from './ports.js';
export { ensureDebianPackages, findCommand } from '../packages.js';
export { pushTestImage, pushBlob, putManifest, fetchToken, authorizationFor, basicAuth } from './push.js';
export type { PushedTestImage, Credentials } from './push.js';
export { buildTestImage, writeTestOciLayout, seededBytes, sha256, parsePlatform, MEDIA } from './test-image.js';
export type { TestImage, TestImageOptions, TestLayer, TestManifest } from './test-image.js';
export { startTokenServer, signJwt, parseScope } from './token-server.js';
export type { TokenServer, TokenServerOptions, TokenRequest, TokenAccess } from './token-server.js';
export { makeTestCa, makeTokenSigner } from './certs.js';
export type { TestCa, SignerCert, KeyAndCert } from './certs.js';
