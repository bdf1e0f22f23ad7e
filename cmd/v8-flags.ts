import { setFlagsFromString } from 'node:v8';

/**
 * V8 flags for a CLI whose commands mostly end within a second. Set by the
 * launcher before it compiles the CLI bundle, and again by the CLI itself
 * (setting a flag twice is harmless): a V8 code cache is only accepted under
 * the flags it was made with, so both must set the same ones.
 *
 * Only on the Node line this was measured on: a V8 without these flags would
 * print an error for each.
 */
export function setShortCommandV8Flags(): void {
  if (!process.versions.node.startsWith('20.')) return;
  // undici's HTTP parser is WebAssembly. V8 re-compiles it with its optimizing tier in the
  // background, and the process cannot exit until that job ends: ~100 ms added to every
  // registry command, for a parser that only ever sees headers (bodies pass through).
  setFlagsFromString('--no-wasm-tier-up');
  setFlagsFromString('--no-wasm-dynamic-tiering');
  // TurboFan compiles a function after its bytecode budget runs out a few times. Most hoist
  // commands end within half a second, before that work pays off: it cost a no-op rebuild
  // ~50 ms of CPU. A budget four times V8's default (67584) spares them and delays the hot
  // loops of a long build (tar, hashing, layer entries) by a few milliseconds.
  setFlagsFromString(`--interrupt-budget=${4 * 67584}`);
}
